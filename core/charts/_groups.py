"""Seed-group charts: each group's mean curve with a shaded band."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from core.charts._plotly import _import_plotly
from core.charts._plotly import _say
from core.charts._plotly import _style

if TYPE_CHECKING:
    import plotly.graph_objects as go

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


def plot_group_bands(
    bands: Sequence[Any], spread: str = "min-max", x_label: str = "step", y_label: str = "value"
) -> go.Figure:
    """Each group's mean curve with a shaded band: its members' min-max, or ±1 std.

    Args:
        bands: :class:`core.experiments.GroupBand` values, one per group.
        spread: ``"min-max"`` or ``"±1 std"``. Defaults to ``"min-max"``.
        x_label: Title of the x axis. Defaults to "step".
        y_label: Title of the y axis: the metric. Defaults to "value".

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
    if x_label == "step" and y_label.startswith("epoch/"):
        x_label = "epoch"
    _style(fig, f"Seed groups: mean and {spread}", x_label or "step", y_label or "value", height=420)
    if not any(info.x for info in infos):
        _say(fig, "No points yet")
    return fig
