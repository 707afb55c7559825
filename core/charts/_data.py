"""Dataset profile charts: a column's distribution, the correlation heatmap, class balance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from core.charts._plotly import _import_plotly
from core.charts._plotly import _integer_ticks
from core.charts._plotly import _say
from core.charts._plotly import _style

if TYPE_CHECKING:
    import plotly.graph_objects as go


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
    name = str(column.get("name", "column"))
    if info is None:
        _say(fig, "No distribution to show")
    else:
        fig.add_trace(go.Bar(x=info.x, y=info.y, width=info.width, marker_line_width=0, name="rows"))
        fig.update_layout(bargap=0.05)
    kind = "Histogram" if info is not None and info.width is not None else "Most frequent values"
    _style(fig, f"{kind} of {name}", name, "rows", height=340, legend=False)
    fig.update_yaxes(rangemode="tozero", **_integer_ticks(max(info.y, default=0) if info else 0))
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
                colorbar={"title": {"text": "r"}},
            )
        )
    _style(fig, "Correlation (Pearson r)", "column", "column", height=440, legend=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def plot_class_balance(classes: list[tuple[Any, int]], column: str) -> go.Figure:
    """Rows per class of a classification target."""
    go = _import_plotly()
    fig = go.Figure(go.Bar(x=[str(c) for c, _ in classes], y=[n for _, n in classes], name="rows"))
    _style(fig, f"Rows per class of {column}", f"{column} (class)", "rows", height=320, legend=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(rangemode="tozero", **_integer_ticks(max((n for _, n in classes), default=0)))
    return fig
