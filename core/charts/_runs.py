"""Charts of one run or several: metric curves, the comparison of runs, and a trained model's
confusion matrix or predicted-vs-actual scatter."""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

import numpy as np

from core.charts._plotly import COLOURS
from core.charts._plotly import _import_plotly
from core.charts._plotly import _integer_ticks
from core.charts._plotly import _layout
from core.charts._plotly import _panel_axes
from core.charts._plotly import _style
from core.charts._smooth import smooth
from core.store import MetricSeries

if TYPE_CHECKING:
    import plotly.graph_objects as go


class _Curve(NamedTuple):
    key: str
    x: list[int]
    y: list[float]


class _Panel(NamedTuple):
    """One y axis: the curves of one quantity in one unit."""

    y_title: str
    curves: list[_Curve]
    y_log: bool


class _MetricCurvesInfo(NamedTuple):
    title: str
    x_title: str
    panels: list[_Panel]
    markers: list[tuple[int, str]]
    x_integer: bool  # the x axis counts (epochs): whole-number ticks
    history: dict[str, _Curve] = {}  # noqa: RUF012 (never mutated) the parent's shared history, by key

    @property
    def curves(self) -> list[_Curve]:
        return [c for p in self.panels for c in p.curves]


# What a run's curves are drawn against, by their key's prefix ("batch/loss" -> "batch").
_X_TITLES = {"batch": "batch", "epoch": "epoch", "system": "seconds"}
_TITLES = {"batch": "Per batch", "epoch": "Per epoch", "system": "System"}
# Units read from a key's suffix: "system/cpu_percent", "system/gpu0_memory_mb".
_UNITS = {"_percent": "%", "_mb": "MB"}
_FRACTIONS = ("acc", "auc", "precision", "recall", "f1")


def _quantity(key: str) -> tuple[int, str, bool]:
    """(order, y title, may be logarithmic) of the axis a metric key belongs on. Keys with the
    same y title share an axis; "loss" and "val_loss" do, "loss" and "accuracy" do not."""
    name = key.rpartition("/")[2]
    base = name.removeprefix("val_")
    for suffix, unit in _UNITS.items():
        if base.endswith(suffix):
            # Percentages and megabytes share an axis across devices, never a log one.
            return (2, "usage (%)" if unit == "%" else "memory (MB)", False)
    if "loss" in base:
        return (0, "loss", True)
    if any(part in base for part in _FRACTIONS):
        return (1, base.replace("_", " ") + " (fraction)", False)
    if base == "learning_rate":
        return (3, "learning rate", True)
    return (3, base.replace("_", " "), True)


def _get_metric_curves_info(
    metrics: Mapping[str, MetricSeries],
    keys: list[str] | None = None,
    x_label: str | None = None,
    markers: list[tuple[int, str]] | None = None,
    *,
    title: str | None = None,
    y_label: str | None = None,
    history: Mapping[str, MetricSeries] | None = None,
) -> _MetricCurvesInfo:
    chosen = sorted(metrics) if keys is None else [k for k in keys if k in metrics]
    # A branch's shared history: only for keys it draws itself (each under its own curve).
    shared = {
        k: _Curve(k, list(history[k].steps), list(history[k].values))
        for k in chosen
        if history is not None and k in history and history[k].steps
    }
    prefixes = {k.rpartition("/")[0] for k in chosen}
    prefix = prefixes.pop() if len(prefixes) == 1 else ""
    grouped: dict[tuple[int, str, bool], list[_Curve]] = {}
    for k in chosen:
        quantity = (0, y_label, True) if y_label else _quantity(k)
        grouped.setdefault(quantity, []).append(_Curve(k, list(metrics[k].steps), list(metrics[k].values)))
    panels = []
    for (_, y_title, may_log), curves in sorted(grouped.items()):
        values = [v for c in curves for v in c.y if math.isfinite(v)]
        # A log axis only where it is honest: a positive quantity (a loss, a learning rate)
        # spanning over two decades; never percentages, megabytes or fractions.
        y_log = may_log and bool(values) and min(values) > 0 and max(values) / min(values) > 100
        panels.append(_Panel(y_title, curves, y_log))
    # Steering actions at the same step become one marker with all their labels (drawn apart,
    # they overlapped unreadably).
    merged: dict[int, list[str]] = {}
    for step, label in sorted(markers or [], key=lambda m: m[0]):
        merged.setdefault(step, []).append(label)
    x_title = x_label or _X_TITLES.get(prefix, "step")
    return _MetricCurvesInfo(
        title or _TITLES.get(prefix, prefix.replace("_", " ").capitalize() or "Metrics"),
        x_title,
        panels,
        [(s, " + ".join(ls)) for s, ls in sorted(merged.items())],
        x_title == "epoch",
        shared,
    )


_NO_POINTS = {
    "text": "No points yet",
    "showarrow": False,
    "x": 0.5,
    "y": 0.5,
    "xref": "paper",
    "yref": "paper",
}


class _SmoothedInfo(NamedTuple):
    raw: list[float]
    smoothed: list[float] | None  # None: drawn raw only


def _get_smoothed_info(values: list[float], weight: float) -> _SmoothedInfo:
    if weight <= 0 or len(values) < 3:
        return _SmoothedInfo(values, None)
    return _SmoothedInfo(values, smooth(values, weight))


def plot_metric_curves(
    metrics: Mapping[str, MetricSeries],
    keys: list[str] | None = None,
    x_label: str | None = None,
    markers: list[tuple[int, str]] | None = None,
    *,
    title: str | None = None,
    y_label: str | None = None,
    smoothing: float = 0.0,
    history: Mapping[str, MetricSeries] | None = None,
) -> go.Figure:
    """Metric values against step, one panel (y axis) per quantity, one line per metric key.

    Keys that measure the same thing in the same unit share a panel (``loss`` and ``val_loss``);
    others get their own, stacked on one shared x axis (``loss`` above ``accuracy``; CPU % above
    memory MB). A panel is logarithmic only for a positive loss or rate spanning two decades.

    Args:
        metrics: Series by key, as returned by :func:`core.store.get_metrics`.
        keys: Which keys to draw. Defaults to all, sorted.
        x_label: Title of the x axis. Defaults to the keys' prefix's unit: "batch", "epoch",
            "seconds" (``system/``), else "step".
        markers: ``(step, label)`` of steering actions, drawn as vertical lines. Defaults to none.
        title: The chart's title. Defaults to one named after the keys' prefix ("Per batch").
        y_label: One y axis with this title for every key (keys whose names say nothing of
            their unit, such as optimizers' names). Defaults to one axis per quantity.
        smoothing: TensorBoard's smoothing weight, 0 to 0.99: each curve is drawn smoothed
            over its raw values, faded. Defaults to 0 (raw only).
        history: A branch's shared history (its parent's points up to where it branched), by
            key: drawn faded and dashed under the curve of the same key, in its colour, named
            ``<key> (parent)``. Defaults to none.

    Returns:
        A Plotly figure; empty (with a hint) when there is no point yet.

    Raises:
        SpecError: ``smoothing`` is outside ``[0, 1)``.
    """
    go = _import_plotly()
    smooth([], smoothing)  # refuse a bad weight whether or not there is a curve yet
    info = _get_metric_curves_info(
        metrics, keys, x_label, markers, title=title, y_label=y_label, history=history
    )
    rows = max(1, len(info.panels))
    # WebGL once a curve is long (a downsampled long run draws ~2,000 points per curve): SVG makes
    # one page element per point, and the page redraws every second while a run is live.
    kind = "scattergl" if any(len(c.x) > 1000 for c in info.curves) else "scatter"
    colour_of = {c.key: COLOURS[i % len(COLOURS)] for i, c in enumerate(info.curves)}
    # The figure is built as plain dicts and validated once (see _layout).
    traces: list[dict[str, Any]] = []
    for row, panel in enumerate(info.panels, start=1):
        xref, yref = _panel_axes(row)
        for curve in panel.curves:
            # NumPy arrays: Plotly keeps them as they are (lists it checks value by value, which
            # was two thirds of a live tick's drawing) and sends them as typed binary arrays.
            x = np.asarray(curve.x)
            colour = colour_of[curve.key]
            drawn = _get_smoothed_info(curve.y, smoothing)
            common = {"type": kind, "x": x, "xaxis": xref, "yaxis": yref, "legendgroup": curve.key}
            if (past := info.history.get(curve.key)) is not None:  # the parent's, faded beneath
                traces.append(
                    common
                    | {
                        "x": np.asarray(past.x),
                        "y": np.asarray(past.y, dtype=np.float64),
                        "mode": "lines" if len(past.x) > 1 else "markers",
                        "name": f"{curve.key} (parent)",
                        "opacity": 0.35,
                        "line": {"color": colour, "width": 1.5, "dash": "dash"},
                    }
                )
            if drawn.smoothed is not None:  # the raw curve faded behind, in the same colour
                traces.append(
                    common
                    | {
                        "y": np.asarray(drawn.raw, dtype=np.float64),
                        "mode": "lines",
                        "name": f"{curve.key} (raw)",
                        "showlegend": False,
                        "opacity": 0.25,
                        "line": {"color": colour, "width": 1},
                        "hoverinfo": "skip",
                    }
                )
            y = drawn.smoothed if drawn.smoothed is not None else drawn.raw
            traces.append(
                common
                | {
                    "y": np.asarray(y, dtype=np.float64),
                    "mode": "lines" if len(curve.x) > 1 else "markers",
                    "name": curve.key,  # the key as stored: what a person and a browser test look for
                    "line": {"color": colour, "width": 2},
                }
            )
    x_axis: dict[str, Any] = {}
    if info.x_integer:
        xs = [x for c in [*info.curves, *info.history.values()] for x in c.x]
        x_axis = _integer_ticks(max(xs) - min(xs) if xs else 0)
    layout = _layout(
        info.title,
        info.x_title,
        [p.y_title for p in info.panels] or [y_label or "value"],
        height=260 + 160 * rows if rows > 1 else 380,
        x_axis=x_axis,
    )
    for row, panel in enumerate(info.panels, start=1):
        axis = layout[f"yaxis{'' if row == 1 else row}"]
        if panel.y_log:  # a tick per decade: 1e-3, 1e-2 ... (not 1, 2, 5, 10, 2, 5)
            axis |= {"type": "log", "dtick": 1, "exponentformat": "power"}
        else:
            axis["type"] = "linear"
    layout["uirevision"] = "keep"  # keep the user's zoom while new points arrive
    shapes, notes = [], []
    for step, label in info.markers:
        for row in range(1, rows + 1):
            xref, yref = _panel_axes(row)
            shapes.append(
                {
                    "type": "line",
                    "x0": step,
                    "x1": step,
                    "xref": xref,
                    "y0": 0,
                    "y1": 1,
                    "yref": f"{yref} domain",
                    "line": {"dash": "dot", "color": "#888"},
                }
            )
        notes.append(
            {
                "x": step,
                "xref": "x",
                "y": 1,
                "yref": "y domain",
                "text": label,
                "textangle": -90,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
            }
        )
    if not info.curves:
        notes.append(_NO_POINTS)
    layout |= {"shapes": shapes, "annotations": notes}
    return go.Figure(data=traces, layout=layout)


# --- training results ---------------------------------------------------------------------


class _ConfusionInfo(NamedTuple):
    labels: list[str]
    matrix: list[list[int]]


def _get_confusion_matrix_info(confusion: Mapping[str, Any]) -> _ConfusionInfo:
    # Class labels as text: Plotly then draws a categorical axis, one tick per class (numeric
    # labels made a linear axis that read -0.5, 0.5, 1.5).
    return _ConfusionInfo([str(c) for c in confusion["classes"]], [list(r) for r in confusion["matrix"]])


def plot_confusion_matrix(confusion: Mapping[str, Any]) -> go.Figure:
    """Rows: true class; columns: predicted class; one tick per class.

    Args:
        confusion: ``{"classes": [...], "matrix": [[...], ...]}`` as a run's result holds it.
    """
    go = _import_plotly()
    info = _get_confusion_matrix_info(confusion)
    fig = go.Figure(
        go.Heatmap(
            z=info.matrix,
            x=info.labels,
            y=info.labels,
            colorscale="Blues",
            texttemplate="%{z}",
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{z} rows<extra></extra>",
        )
    )
    _style(fig, "Confusion matrix (rows)", "predicted class", "true class", height=420, legend=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def plot_predicted_vs_actual(points: Mapping[str, Any], unit: str = "target units") -> go.Figure:
    """Scatter of predictions against true values, with the identity line.

    Args:
        points: ``{"actual": [...], "predicted": [...]}``.
        unit: What the target is measured in, for the axis titles. Defaults to "target units".
    """
    go = _import_plotly()
    actual, predicted = list(points["actual"]), list(points["predicted"])
    lo, hi = min(actual + predicted, default=0), max(actual + predicted, default=1)
    fig = go.Figure(
        go.Scatter(x=actual, y=predicted, mode="markers", marker={"size": 5, "opacity": 0.6}, name="rows")
    )
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot"}, name="perfect"))
    _style(fig, "Predicted vs actual", f"actual ({unit})", f"predicted ({unit})", height=420)
    return fig


def plot_comparison(
    series: Mapping[str, tuple[list[float], list[float]]],
    x_label: str = "step",
    y_label: str = "value",
    dashed: frozenset[str] = frozenset(),
    title: str | None = None,
) -> go.Figure:
    """One line per run: ``{name: (xs, ys)}``; names are shown as text, never markup. Runs named
    in ``dashed`` (baselines) are drawn dashed.

    Args:
        series: ``{name: (xs, ys)}``, one per run.
        x_label: Title of the x axis. Defaults to "step".
        y_label: Title of the y axis (the metric). Defaults to "value".
        dashed: Names drawn dashed. Defaults to none.
        title: The chart's title. Defaults to the metric's name.
    """
    go = _import_plotly()

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
    y_label = y_label or "value"
    if x_label == "step":  # "epoch/val_loss" is drawn against epochs, "batch/loss" batches
        x_label = _X_TITLES.get(y_label.rpartition("/")[0], "step")
    _style(fig, title or f"{y_label} by run", x_label or "step", y_label, height=420)
    if x_label == "epoch":
        xs_all = [x for xs, _ in series.values() for x in xs]
        fig.update_xaxes(**_integer_ticks(max(xs_all, default=0) - min(xs_all, default=0)))
    return fig


# --- a run's page: which charts, and what each draws ------------------------------------------


class RunChartGroups(NamedTuple):
    """What a run's page draws: ``charts`` as ``(prefix, keys)``, one chart each (batch, epoch,
    a script's own prefixes, then system), and ``rates``, keys shown as a line of text."""

    charts: list[tuple[str, list[str]]]
    rates: list[str]


_CHART_ORDER = {"batch": 0, "epoch": 1, "system": 3}


def get_run_chart_groups(keys: Iterable[str]) -> RunChartGroups:
    """One chart per x axis: ``batch/loss`` against batches, ``epoch/val_loss`` against epochs,
    ``system/*`` against seconds, a script's ``val/acc`` against its steps. Inside a chart,
    :func:`plot_metric_curves` gives each quantity its own axis.

    Args:
        keys: A run's metric keys.

    Returns:
        The charts in drawing order and the rate keys (``*/samples_per_s``) shown as text.
    """
    groups: dict[str, list[str]] = {}
    rates = []
    for key in sorted(keys):
        prefix, _, name = key.rpartition("/")
        if name == "samples_per_s":
            rates.append(key)
            continue
        groups.setdefault(prefix, []).append(key)
    charts = sorted(groups.items(), key=lambda g: (_CHART_ORDER.get(g[0], 2), g[0]))
    return RunChartGroups(charts, rates)
