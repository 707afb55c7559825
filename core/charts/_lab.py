"""Optimizer lab charts: trajectories over a surface's contour, and their losses."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from core.charts._plotly import _import_plotly
from core.charts._plotly import _style
from core.charts._runs import plot_metric_curves

if TYPE_CHECKING:
    import plotly.graph_objects as go


class _LabInfo(NamedTuple):
    x: Any  # NumPy float32 arrays: Plotly sends them as typed binary arrays, not JSON numbers
    y: Any
    z: Any
    paths: list[tuple[str, Any, Any]]
    frames: list[int]  # path lengths shown in each animation frame


# Points an animation frame carries per path, at most: a frame that shows the first n steps of a
# long walk shows every k-th of them (and the last). 40 frames of a 2,000-step walk otherwise
# resent each path's prefix in full, 40 times (megabytes per change, seconds to draw).
_FRAME_POINTS = 250


def _get_optimizer_paths_info(surface: Any, paths: list[Any], n_frames: int = 40) -> _LabInfo:
    import numpy as np

    xs = np.linspace(surface.x_range[0], surface.x_range[1], 120)
    ys = np.linspace(surface.y_range[0], surface.y_range[1], 120)
    f = np.asarray(surface.f(*np.meshgrid(xs, ys)), dtype=float)  # the surfaces are NumPy expressions
    # Log of the height above the lowest point (saddles keep both halves), as float32: the
    # browser draws the same contour from a fraction of the bytes.
    z = np.log1p(f - f.min()).astype(np.float32)
    longest = max((len(p.xs) for p in paths), default=1)
    frames = sorted({max(1, round(longest * (i + 1) / n_frames)) for i in range(n_frames)})
    walked = [(p.optimizer, np.asarray(p.xs, np.float32), np.asarray(p.ys, np.float32)) for p in paths]
    return _LabInfo(xs.astype(np.float32), ys.astype(np.float32), z, walked, frames)


def _frame_points(upto: int, length: int) -> Any:
    """Indices of the first ``upto`` points of a path that a frame carries: all of them, or
    every k-th up to the last one when there are more than :data:`_FRAME_POINTS`."""
    import numpy as np

    upto = min(upto, length)
    if upto <= _FRAME_POINTS:
        return slice(0, upto)
    picked = np.linspace(0, upto - 1, _FRAME_POINTS).round().astype(int)
    return np.unique(picked)


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

    drawn = [
        go.Scatter(
            x=px,
            y=py,
            mode="lines+markers",
            marker={"size": 3, "color": _lab_colour(i)},
            line={"color": _lab_colour(i)},
            name=name,
        )
        for i, (name, px, py) in enumerate(info.paths)
    ]

    def moved(upto: int) -> list[dict[str, Any]]:
        # Plotly merges a frame's trace into the drawn one: only the points change, so a frame
        # carries only them (as plain dicts: no per-frame validation of 40 x 4 traces).
        shown = [
            (px[_frame_points(upto, len(px))], py[_frame_points(upto, len(py))]) for _, px, py in info.paths
        ]
        return [{"type": "scatter", "x": x, "y": y} for x, y in shown]

    path_traces = list(range(1, len(info.paths) + 1))
    fig = go.Figure(data=[contour, *drawn])
    # The last frame is the whole walk as drawn; the ones before it show its first steps.
    steps = info.frames[:-1]
    frames = [{"data": moved(n), "traces": path_traces, "name": str(n)} for n in steps]
    frames.append(
        {
            "data": [{"type": "scatter", "x": px, "y": py} for _, px, py in info.paths],
            "traces": path_traces,
            "name": str(info.frames[-1]),
        }
    )
    fig.frames = frames
    _style(fig, f"Paths over {getattr(surface, 'title', 'the surface').lower()}", "x", "y", height=480)
    fig.update_layout(
        xaxis_range=list(surface.x_range),
        yaxis_range=list(surface.y_range),
        hovermode="closest",
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
    fig = plot_metric_curves(
        series,
        keys=[p.optimizer for p in paths],
        x_label="step",
        title="Loss by optimizer",
        y_label="loss (surface height)",
    )
    colours = {p.optimizer: _lab_colour(i) for i, p in enumerate(paths)}
    fig.for_each_trace(lambda t: t.update(line={"color": colours.get(t.name)}))
    return fig
