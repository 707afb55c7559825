"""Charts of one run or several: metric curves, the comparison of runs, and a trained model's
confusion matrix or predicted-vs-actual scatter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

import numpy as np

from core.charts._plotly import _import_plotly
from core.charts._plotly import _say
from core.store import MetricSeries

if TYPE_CHECKING:
    import plotly.graph_objects as go


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
        # NumPy arrays: Plotly keeps them as they are (lists it checks value by value, which was
        # two thirds of a live tick's drawing) and sends them as typed binary arrays.
        x, y = np.asarray(curve.x), np.asarray(curve.y, dtype=np.float64)
        fig.add_trace(trace(x=x, y=y, mode="lines", name=curve.key))
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
