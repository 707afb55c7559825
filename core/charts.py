"""Data → Plotly figures. Each chart is split into pure data (``_get_*_info``) and drawing
(``plot_*``); tests compare the info. Plotly is imported only when a figure is drawn.

Why one module over 400 lines: every chart is a pair (``_get_*_info`` data, ``plot_*`` drawing)
with shared colours and layout, as optuna's visualization package keeps them; one file keeps the
look of every chart consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from core.store import MetricSeries

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "SPREADS",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_column_distribution",
    "plot_correlation",
    "plot_group_bands",
    "plot_metric_curves",
    "plot_optimizer_losses",
    "plot_optimizer_paths",
    "plot_predicted_vs_actual",
]


class _Curve(NamedTuple):
    key: str
    x: list[int]
    y: list[float]


class _MetricCurvesInfo(NamedTuple):
    curves: list[_Curve]
    x_label: str
    y_log: bool
    markers: list[tuple[int, str]]


def _get_metric_curves_info(
    metrics: Mapping[str, MetricSeries],
    keys: list[str] | None = None,
    x_label: str = "step",
    markers: list[tuple[int, str]] | None = None,
) -> _MetricCurvesInfo:
    chosen = sorted(metrics) if keys is None else [k for k in keys if k in metrics]
    curves = [_Curve(k, list(metrics[k].steps), list(metrics[k].values)) for k in chosen]
    values = [v for c in curves for v in c.y]
    # A log axis only when every value is positive and they span over two decades.
    y_log = bool(values) and min(values) > 0 and max(values) / min(values) > 100
    # Steering actions at the same step become one marker with all their labels (drawn apart,
    # they overlapped unreadably).
    merged: dict[int, list[str]] = {}
    for step, label in sorted(markers or [], key=lambda m: m[0]):
        merged.setdefault(step, []).append(label)
    return _MetricCurvesInfo(
        curves, x_label, y_log, [(s, " + ".join(ls)) for s, ls in sorted(merged.items())]
    )


def _import_plotly():  # type: ignore[no-untyped-def]
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise ImportError("Plotly is needed for charts: `pip install -r requirements.txt`.") from exc
    return go


def plot_metric_curves(
    metrics: Mapping[str, MetricSeries],
    keys: list[str] | None = None,
    x_label: str = "step",
    markers: list[tuple[int, str]] | None = None,
) -> go.Figure:
    """Line chart of metric values against step, one line per metric key.

    Args:
        metrics: Series by key, as returned by :func:`core.store.get_metrics`.
        keys: Which keys to draw. Defaults to all, sorted.
        x_label: Title of the x axis. Defaults to "step".
        markers: ``(step, label)`` of steering actions, drawn as vertical lines. Defaults to none.

    Returns:
        A Plotly figure; empty (with a hint) when there is no point yet.
    """
    go = _import_plotly()
    info = _get_metric_curves_info(metrics, keys, x_label, markers)
    fig = go.Figure()
    # WebGL once a curve is long (a downsampled long run draws ~2,000 points per curve): SVG makes
    # one page element per point, and the page redraws every second while a run is live.
    trace = go.Scattergl if any(len(c.x) > 1000 for c in info.curves) else go.Scatter
    for curve in info.curves:
        fig.add_trace(trace(x=curve.x, y=curve.y, mode="lines", name=curve.key))
    fig.update_layout(
        xaxis_title=info.x_label,
        yaxis_type="log" if info.y_log else "linear",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=360,
        legend={"orientation": "h"},
        uirevision="keep",  # keep the user's zoom while new points arrive
    )
    for step, label in info.markers:
        fig.add_vline(
            x=step, line_dash="dot", line_color="#888", annotation_text=label, annotation_textangle=-90
        )
    if not info.curves:
        _say(fig, "No points yet")
    return fig


def _say(fig: go.Figure, text: str) -> None:
    """An empty chart with a line of text in its middle."""
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")


# --- dataset profile charts -----------------------------------------------------------------


class _BarsInfo(NamedTuple):
    x: list[Any]
    y: list[float]
    width: list[float] | None
    x_label: str
    y_label: str


def _get_column_distribution_info(column: Mapping[str, Any]) -> _BarsInfo | None:
    if "hist" in column:
        edges = column["hist"]["edges"]
        centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return _BarsInfo(centres, column["hist"]["counts"], widths, column["name"], "rows")
    if column.get("top"):
        return _BarsInfo(
            [str(v) for v, _ in column["top"]], [n for _, n in column["top"]], None, column["name"], "rows"
        )
    return None


def plot_column_distribution(column: Mapping[str, Any]) -> go.Figure:
    """Histogram of a numeric column, or bars of the most frequent values of any other.

    Args:
        column: One entry of a dataset profile's ``columns``.
    """
    go = _import_plotly()
    info = _get_column_distribution_info(column)
    fig = go.Figure()
    if info is None:
        fig.add_annotation(
            text="No distribution to show", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    else:
        fig.add_trace(go.Bar(x=info.x, y=info.y, width=info.width, marker_line_width=0))
        fig.update_layout(xaxis_title=info.x_label, yaxis_title=info.y_label, bargap=0.05)
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


class _HeatmapInfo(NamedTuple):
    labels: list[str]
    matrix: list[list[float | None]]


def _get_correlation_info(profile: Mapping[str, Any]) -> _HeatmapInfo | None:
    corr = profile.get("correlation")
    if not corr:
        return None
    return _HeatmapInfo(list(corr["columns"]), corr["matrix"])


def plot_correlation(profile: Mapping[str, Any]) -> go.Figure:
    """Pearson correlation of the numeric columns as a heatmap (−1 blue … +1 red)."""
    go = _import_plotly()
    info = _get_correlation_info(profile)
    fig = go.Figure()
    if info is None:
        _say(fig, "Needs two numeric columns")
    else:
        fig.add_trace(
            go.Heatmap(
                z=info.matrix,
                x=info.labels,
                y=info.labels,
                zmin=-1,
                zmax=1,
                colorscale="RdBu",
                reversescale=True,
                text=[[f"{v:.2f}" if v is not None else "" for v in row] for row in info.matrix],
                texttemplate="%{text}",
            )
        )
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def plot_class_balance(classes: list[tuple[Any, int]], column: str) -> go.Figure:
    """Rows per class of a classification target."""
    go = _import_plotly()
    fig = go.Figure(go.Bar(x=[str(c) for c, _ in classes], y=[n for _, n in classes]))
    fig.update_layout(
        xaxis_title=column, yaxis_title="rows", height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )
    return fig


# --- optimizer lab --------------------------------------------------------------------------


class _LabInfo(NamedTuple):
    x: list[float]
    y: list[float]
    z: list[list[float]]
    paths: list[tuple[str, list[float], list[float]]]
    frames: list[int]  # path lengths shown in each animation frame


def _get_optimizer_paths_info(surface: Any, paths: list[Any], n_frames: int = 40) -> _LabInfo:
    import numpy as np

    xs = np.linspace(surface.x_range[0], surface.x_range[1], 120)
    ys = np.linspace(surface.y_range[0], surface.y_range[1], 120)
    f = np.asarray(surface.f(*np.meshgrid(xs, ys)), dtype=float)  # the surfaces are NumPy expressions
    # Log of the height above the lowest point (saddles keep both halves), to 4 decimals: the
    # browser draws the same contour from a third of the JSON.
    z = np.round(np.log1p(f - f.min()), 4).tolist()
    longest = max((len(p.xs) for p in paths), default=1)
    frames = sorted({max(1, round(longest * (i + 1) / n_frames)) for i in range(n_frames)})
    return _LabInfo(xs.tolist(), ys.tolist(), z, [(p.optimizer, p.xs, p.ys) for p in paths], frames)


# One colour per optimizer, by its place in the chosen list, shared by both Lab charts (left to
# Plotly's colourway, the contour took the first colour and the two charts disagreed).
_LAB_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3")


def _lab_colour(i: int) -> str:
    return _LAB_COLOURS[i % len(_LAB_COLOURS)]


def plot_optimizer_paths(surface: Any, paths: list[Any]) -> go.Figure:
    """Trajectories over a contour plot of the surface, with a Play button that animates them.

    The contour is drawn once; animation frames carry only the paths (``traces=``), so the figure
    stays small (a frame per contour made the page send ~11 MB and take seconds per change).
    """
    go = _import_plotly()
    info = _get_optimizer_paths_info(surface, paths)
    contour = go.Contour(
        x=info.x,
        y=info.y,
        z=info.z,
        showscale=False,
        colorscale="Greys",
        opacity=0.5,
        contours={"coloring": "lines"},
        hoverinfo="skip",
    )

    def traces(upto: int) -> list:
        return [
            go.Scatter(
                x=px[:upto],
                y=py[:upto],
                mode="lines+markers",
                marker={"size": 3, "color": _lab_colour(i)},
                line={"color": _lab_colour(i)},
                name=name,
            )
            for i, (name, px, py) in enumerate(info.paths)
        ]

    path_traces = list(range(1, len(info.paths) + 1))
    fig = go.Figure(
        data=[contour, *traces(info.frames[-1])],
        frames=[go.Frame(data=traces(n), traces=path_traces, name=str(n)) for n in info.frames],
    )
    fig.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_range=list(surface.x_range),
        yaxis_range=list(surface.y_range),
        legend={"orientation": "h"},
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.02,
                "y": 0.98,
                "buttons": [
                    {
                        "label": "Play",
                        "method": "animate",
                        "args": [None, {"frame": {"duration": 60, "redraw": False}, "fromcurrent": False}],
                    }
                ],
            }
        ],
    )
    return fig


def plot_optimizer_losses(paths: list[Any]) -> go.Figure:
    """Loss against step for each optimizer (log scale when the losses allow it), in the same
    colours as :func:`plot_optimizer_paths`."""
    from core.store import MetricSeries

    series = {p.optimizer: MetricSeries(p.optimizer, list(range(len(p.losses))), p.losses) for p in paths}
    fig = plot_metric_curves(series, keys=[p.optimizer for p in paths], x_label="step")
    colours = {p.optimizer: _lab_colour(i) for i, p in enumerate(paths)}
    fig.for_each_trace(lambda t: t.update(line={"color": colours.get(t.name)}))
    return fig


# --- training results ---------------------------------------------------------------------


def plot_confusion_matrix(confusion: Mapping[str, Any]) -> go.Figure:
    """Rows: true class; columns: predicted class."""
    go = _import_plotly()
    labels = confusion["classes"]
    fig = go.Figure(
        go.Heatmap(
            z=confusion["matrix"],
            x=labels,
            y=labels,
            colorscale="Blues",
            texttemplate="%{z}",
            showscale=False,
        )
    )
    fig.update_layout(
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


def plot_predicted_vs_actual(points: Mapping[str, Any]) -> go.Figure:
    """Scatter of predictions against true values, with the identity line."""
    go = _import_plotly()
    actual, predicted = list(points["actual"]), list(points["predicted"])
    lo, hi = min(actual + predicted, default=0), max(actual + predicted, default=1)
    fig = go.Figure(
        go.Scatter(x=actual, y=predicted, mode="markers", marker={"size": 5, "opacity": 0.6}, name="runs")
    )
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot"}, name="perfect"))
    fig.update_layout(
        xaxis_title="actual",
        yaxis_title="predicted",
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
    )
    return fig


# --- studies -----------------------------------------------------------------------------------


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
            fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=420)
            out[title] = fig
    return out


def plot_comparison(
    series: Mapping[str, tuple[list[float], list[float]]],
    x_label: str = "step",
    y_label: str = "",
    dashed: frozenset[str] = frozenset(),
) -> go.Figure:
    """One line per run: ``{name: (xs, ys)}``; names are shown as text, never markup. Runs named
    in ``dashed`` (baselines) are drawn dashed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, (xs, ys) in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(xs),
                y=list(ys),
                mode="lines+markers" if len(xs) < 60 else "lines",
                name=name,
                line={"dash": "dash"} if name in dashed else None,
            )
        )
    fig.update_layout(
        xaxis_title=x_label,
        yaxis_title=y_label,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=420,
        legend={"orientation": "h"},
    )
    return fig


# --- seed groups ----------------------------------------------------------------------------

_GROUP_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
SPREADS = ("min-max", "±1 std")


class _BandInfo(NamedTuple):
    label: str
    x: list[int]
    mean: list[float]
    lower: list[float]
    upper: list[float]


def _get_group_bands_info(bands: Sequence[Any], spread: str = "min-max") -> list[_BandInfo]:
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {SPREADS}, but got {spread!r}.")
    out = []
    for band in bands:
        if spread == "min-max":
            lower, upper = list(band.low), list(band.high)
        else:
            lower = [m - s for m, s in zip(band.mean, band.std, strict=True)]
            upper = [m + s for m, s in zip(band.mean, band.std, strict=True)]
        out.append(
            _BandInfo(f"{band.label} (n={band.runs})", list(band.steps), list(band.mean), lower, upper)
        )
    return out


def plot_group_bands(bands: Sequence[Any], spread: str = "min-max", x_label: str = "step") -> go.Figure:
    """Each group's mean curve with a shaded band: its members' min-max, or ±1 std.

    Args:
        bands: :class:`core.experiments.GroupBand` values, one per group.
        spread: ``"min-max"`` or ``"±1 std"``. Defaults to ``"min-max"``.
        x_label: Title of the x axis. Defaults to "step".

    Returns:
        A Plotly figure; empty (with a hint) when no group has a point.
    """
    go = _import_plotly()
    fig = go.Figure()
    infos = _get_group_bands_info(bands, spread)
    for i, info in enumerate(infos):
        colour = _GROUP_COLOURS[i % len(_GROUP_COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=info.x + info.x[::-1],
                y=info.upper + info.lower[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.2,
                line={"width": 0},
                hoverinfo="skip",
                name=f"{info.label} {spread}",
                legendgroup=info.label,
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=info.x,
                y=info.mean,
                mode="lines+markers" if len(info.x) < 60 else "lines",
                line={"color": colour},
                name=f"{info.label} mean",
                legendgroup=info.label,
            )
        )
    fig.update_layout(
        xaxis_title=x_label,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=400,
        legend={"orientation": "h"},
    )
    if not any(info.x for info in infos):
        _say(fig, "No points yet")
    return fig
