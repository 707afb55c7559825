"""Study charts: Optuna's own plots, drawn on the trials read once."""

from __future__ import annotations

from typing import Any

from core.charts._plotly import _integer_ticks
from core.charts._plotly import _restyle

STUDY_CHARTS = (
    "History",
    "Learning curves",
    "Parallel coordinates",
    "Importances",
    "Contour",
    "Slice",
    "Timeline",
    "EDF",
)


def study_chart_titles(metrics: list[str]) -> list[str]:
    """The charts a study offers: a Pareto front first for two objectives (and no learning
    curves, which Optuna keeps for single-objective studies)."""
    if len(metrics) > 1:
        return ["Pareto front", *[t for t in STUDY_CHARTS if t != "Learning curves"]]
    return list(STUDY_CHARTS)


def _snapshot(study: Any, trials: list[Any]) -> Any:
    """The study with its trials read once: Optuna's plot functions each ask the storage for all
    trials, which for a database-backed study of 1,000 trials is most of a chart's cost."""
    import optuna

    directions = list(study.directions)  # a storage query per call, and plots call it per trial

    class Snapshot(optuna.Study):
        @property
        def directions(self) -> list[Any]:
            return directions

        @property
        def direction(self) -> Any:
            return directions[0]

        def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
            return [t for t in trials if states is None or t.state in states]

        @property
        def trials(self) -> list[Any]:
            return trials

    snap = Snapshot.__new__(Snapshot)
    snap.__dict__.update(study.__dict__)
    return snap


def study_figures(
    study: Any, trials: list[Any], metrics: list[str], only: list[str] | None = None
) -> dict[str, Any]:
    """The study's charts, by title: a Plotly figure, or a line saying what it still needs.

    Optuna's own plot functions split each chart's data from its drawing (``_get_*_info`` then
    ``_get_*_plot``); Loom reuses them on the trials already read, with the objectives named.

    Args:
        study: The Optuna study.
        trials: Its trials, read once by the caller.
        metrics: The objectives' names (one or two).
        only: Draw just these titles (a page draws the chart on screen). Defaults to all.
    """
    study = _snapshot(study, trials)
    import warnings

    import optuna.visualization as vis
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState

    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    two = len(metrics) > 1
    target = (lambda t: t.values[0]) if two else None
    name = metrics[0]
    plots: dict[str, Any] = {
        "History": lambda: vis.plot_optimization_history(study, target=target, target_name=name),
        "Learning curves": lambda: vis.plot_intermediate_values(study),
        "Parallel coordinates": lambda: vis.plot_parallel_coordinate(study, target=target, target_name=name),
        "Importances": lambda: vis.plot_param_importances(study, target=target, target_name=name),
        "Contour": lambda: vis.plot_contour(study, target=target, target_name=name),
        "Slice": lambda: vis.plot_slice(study, target=target, target_name=name),
        "Timeline": lambda: vis.plot_timeline(study),
        "EDF": lambda: vis.plot_edf(study, target=target, target_name=name),
    }
    if two:
        plots = {"Pareto front": lambda: vis.plot_pareto_front(study, target_names=metrics), **plots}
        del plots["Learning curves"]
    if only is not None:
        plots = {k: v for k, v in plots.items() if k in only}
    needs = {
        "Importances": 2,
        "Contour": 2,
        "Parallel coordinates": 1,
        "Slice": 1,
        "EDF": 1,
        "Pareto front": 1,
    }
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)
        for title, make in plots.items():
            if not trials:
                out[title] = "No trials yet."
                continue
            if len(finished) < needs.get(title, 0):
                out[title] = f"Needs {needs[title]} complete trial(s); {len(finished)} so far."
                continue
            try:
                fig = make()
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                out[title] = f"Not drawable yet: {exc}"
                continue
            out[title] = _study_style(fig, title, len(trials))
    return out


# Counts on the x axis: History's trial numbers, Learning curves' epochs (a trial reports one
# value per epoch), whole-number ticks only.
_INTEGER_X = {"History": "trial", "Learning curves": "epoch"}


def _study_style(fig: Any, title: str, n_trials: int) -> Any:
    """Loom's look on an Optuna figure: its title kept (or the chart's name), the legend above
    the plot below the title, the same fonts and colours; counts with whole-number ticks."""
    _restyle(fig, fig.layout.title.text or title, height=440)
    if title in _INTEGER_X:
        span = (
            n_trials
            if title == "History"
            else max(
                (max(t.x) - min(t.x) for t in fig.data if getattr(t, "x", None) is not None and len(t.x)),
                default=0,
            )
        )
        fig.update_xaxes(title_text=_INTEGER_X[title], **_integer_ticks(span))
    return fig
