"""Population-based training: the family tree (members over epochs, exploit and clone edges,
kills) and every member's curve on one chart."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from core.charts._plotly import COLOURS
from core.charts._plotly import _import_plotly
from core.charts._plotly import _integer_ticks
from core.charts._plotly import _layout
from core.charts._plotly import _say

if TYPE_CHECKING:
    import plotly.graph_objects as go


class _TreeInfo(NamedTuple):
    # (member, first epoch, last epoch, status, hover text) per segment
    segments: list[tuple[int, int, int, str, str]]
    # (from member, epoch, to member, why) per branch from another member's checkpoint
    edges: list[tuple[int, int, int, str]]
    kills: list[tuple[int, int]]  # (member, epoch it stopped at)
    epochs: int
    members: int


def _get_population_tree_info(population: Any) -> _TreeInfo:
    by_run = {s.run_id: s for s in population.segments}
    segments, edges = [], []
    for s in population.segments:
        values = ", ".join(
            f"{p.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{p}={v}" for p, v in s.values.items()
        )
        segments.append(
            (
                s.member,
                s.start,
                s.end,
                s.status,
                f"member {s.member} · epochs {s.start + 1}-{s.end} · {values}",
            )
        )
        parent = by_run.get(s.parent or "")
        if parent is not None and parent.member != s.member:
            edges.append(
                (parent.member, s.start, s.member, s.why if s.why in ("exploit", "clone") else "branch")
            )
    kills = []
    for member in sorted(population.killed):
        own = [s for s in population.segments if s.member == member]
        kills.append((member, max((s.end if s.status == "succeeded" else s.start for s in own), default=0)))
    members = max((s.member for s in population.segments), default=-1) + 1
    return _TreeInfo(segments, edges, kills, int(population.spec.epochs), members)


def plot_population_tree(population: Any) -> go.Figure:
    """A population's family tree: a line per member segment (faded while it trains, dotted if
    it failed), an edge where a member branched from another's checkpoint, a cross where it was
    killed or lost."""
    go = _import_plotly()
    info = _get_population_tree_info(population)
    fig = go.Figure()
    for member, start, end, status, text in info.segments:
        colour = COLOURS[member % len(COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=[start, end],
                y=[member, member],
                mode="lines+markers",
                line={
                    "color": colour,
                    "width": 4,
                    "dash": "dot" if status in ("failed", "interrupted") else "solid",
                },
                opacity=0.45 if status in ("queued", "running") else 1.0,
                name=f"member {member}",
                legendgroup=f"m{member}",
                showlegend=False,
                hovertext=f"{text} · {status}",
                hoverinfo="text",
            )
        )
    for source, epoch, target, why in info.edges:
        fig.add_annotation(
            x=epoch,
            y=target,
            ax=epoch,
            ay=source,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=1.5,
            arrowcolor="#888",
            text="",
            hovertext=f"{why}: member {target} from member {source} at epoch {epoch}",
        )
    if info.kills:
        fig.add_trace(
            go.Scatter(
                x=[e for _, e in info.kills],
                y=[m for m, _ in info.kills],
                mode="markers",
                marker={"symbol": "x", "size": 14, "color": "#d62728"},
                name="killed or lost",
                hovertext=[f"member {m} stopped at epoch {e}" for m, e in info.kills],
                hoverinfo="text",
            )
        )
    if not info.segments:
        _say(fig, "The population's first segments have not started yet.")
    layout = _layout(
        "Population family tree",
        "Epoch",
        "Member",
        legend=bool(info.kills),
        x_axis=_integer_ticks(info.epochs),
    )
    layout["yaxis"] |= _integer_ticks(max(info.members, 1)) | {"autorange": "reversed"}
    layout["hovermode"] = "closest"
    fig.update_layout(layout)
    return fig


class _CurvesInfo(NamedTuple):
    lines: dict[int, tuple[list[int], list[float]]]
    metric: str
    epochs: int


def _get_population_curves_info(
    curves: dict[int, list[tuple[int, float]]], metric: str, epochs: int
) -> _CurvesInfo:
    lines = {m: ([e for e, _ in pts], [v for _, v in pts]) for m, pts in sorted(curves.items()) if pts}
    return _CurvesInfo(lines, metric, epochs)


def plot_population_curves(curves: dict[int, list[tuple[int, float]]], metric: str, epochs: int) -> go.Figure:
    """Every member's ``metric`` by epoch on one chart (a member that copied another jumps to
    the other's curve at that epoch)."""
    go = _import_plotly()
    info = _get_population_curves_info(curves, metric, epochs)
    fig = go.Figure()
    for member, (x, y) in info.lines.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=f"member {member}",
                line={"color": COLOURS[member % len(COLOURS)]},
            )
        )
    if not info.lines:
        _say(fig, f"No member has reported {metric} yet.")
    fig.update_layout(_layout(f"Every member's {metric}", "Epoch", metric, x_axis=_integer_ticks(epochs)))
    return fig
