"""Data → Plotly figures. Each chart is split into pure data (``_get_*_info``) and drawing
(``plot_*``); tests compare the info. Plotly is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import NamedTuple

from core.store import MetricSeries

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["plot_metric_curves"]


class _Curve(NamedTuple):
    key: str
    x: list[int]
    y: list[float]


class _MetricCurvesInfo(NamedTuple):
    curves: list[_Curve]
    x_label: str
    y_log: bool


def _get_metric_curves_info(
    metrics: Mapping[str, MetricSeries], keys: list[str] | None = None, x_label: str = "step"
) -> _MetricCurvesInfo:
    chosen = sorted(metrics) if keys is None else [k for k in keys if k in metrics]
    curves = [_Curve(k, list(metrics[k].steps), list(metrics[k].values)) for k in chosen]
    values = [v for c in curves for v in c.y]
    # A log axis only when every value is positive and they span over two decades.
    y_log = bool(values) and min(values) > 0 and max(values) / min(values) > 100
    return _MetricCurvesInfo(curves, x_label, y_log)


def _import_plotly():  # type: ignore[no-untyped-def]
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise ImportError("Plotly is needed for charts: `pip install -r requirements.txt`.") from exc
    return go


def plot_metric_curves(
    metrics: Mapping[str, MetricSeries], keys: list[str] | None = None, x_label: str = "step"
) -> go.Figure:
    """Line chart of metric values against step, one line per metric key.

    Args:
        metrics: Series by key, as returned by :func:`core.store.get_metrics`.
        keys: Which keys to draw. Defaults to all, sorted.
        x_label: Title of the x axis. Defaults to "step".

    Returns:
        A Plotly figure; empty (with a hint) when there is no point yet.
    """
    go = _import_plotly()
    info = _get_metric_curves_info(metrics, keys, x_label)
    fig = go.Figure()
    for curve in info.curves:
        fig.add_trace(go.Scatter(x=curve.x, y=curve.y, mode="lines", name=curve.key))
    fig.update_layout(
        xaxis_title=info.x_label,
        yaxis_type="log" if info.y_log else "linear",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=360,
        legend={"orientation": "h"},
        uirevision="keep",  # keep the user's zoom while new points arrive
    )
    if not info.curves:
        fig.add_annotation(text="No points yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return fig
