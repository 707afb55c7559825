"""Curves to draw: a run's metrics cut to a few thousand points that keep their shape.

Every point written stays in ``metrics``; drawing a million of them would take seconds to read
and freeze the browser (TensorBoard draws 1,000 per curve, W&B and MLflow cap under 100,000).
So each write also updates :class:`MetricBlock` rows (one per ``BLOCK_STEPS`` steps: count,
first, last, lowest, highest), and a chart of a long run reads those blocks, a hundredth of the
points, with every extreme kept. A step window narrower than ``RAW_POINTS`` points is read in
full, so zooming refines the curve down to every point. Live updates read only the rows newer
than the last one seen (:func:`metrics_since`) and append them (:func:`extend_view`).

Reading the points at draw time and bucketing them in SQL was measured first: 0.5-1.9 s for two
metrics of a million points each on SQLite, so the summary is kept at write time instead.

This module is the pure part (the series, the view, downsampling); ``_curve_blocks`` writes the
blocks and ``_curve_reads`` reads views and live updates from the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from core.errors import SpecError

__all__ = [
    "BLOCK_STEPS",
    "MetricSeries",
    "DISPLAY_POINTS",
    "RAW_POINTS",
    "MetricView",
    "downsample",
    "extend_view",
]

Window = tuple[int | None, int | None]

BLOCK_STEPS = 100  # steps per MetricBlock; migration 0006 summarised old points with the same
DISPLAY_POINTS = 2000  # points per curve on screen
RAW_POINTS = 20_000  # a window with at most this many points is read point by point


@dataclass(frozen=True)
class MetricSeries:
    key: str
    steps: list[int]
    values: list[float]


def downsample(
    steps: Sequence[int], values: Sequence[float], points: int = DISPLAY_POINTS
) -> tuple[list[int], list[float]]:
    """At most ``points`` of a curve that keep its shape: the first and the last point, and in
    each of ``(points - 2) // 2`` equal runs of the points between them, the lowest and the
    highest, in their order (min/max bucketing, the first stage of MinMaxLTTB; a spike is never
    averaged away). A curve of ``points`` or fewer is returned whole.

    Args:
        steps: The x of each point, in drawing order.
        values: The y of each point; NaN and infinities are kept where they are the only points
            of a bucket and never chosen as its lowest or highest otherwise.
        points: At most this many points come back; at least 4.
    """
    if points < 4:
        raise SpecError(f"`points >= 4` must hold, but got points={points}.")
    if len(steps) != len(values):
        raise SpecError(f"steps and values differ in length ({len(steps)} != {len(values)}).")
    n = len(steps)
    if n <= points:
        return list(steps), list(values)
    import numpy as np

    x = np.asarray(steps)
    y = np.asarray(values, dtype=float)
    buckets = (points - 2) // 2
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)  # the inner points, split evenly
    edges = np.unique(edges)
    inner = y[1 : n - 1]
    finite = np.isfinite(inner)
    low = np.where(finite, inner, np.inf)
    high = np.where(finite, inner, -np.inf)
    starts = edges[:-1] - 1  # offsets into ``inner``
    mins = np.minimum.reduceat(low, starts)
    maxs = np.maximum.reduceat(high, starts)
    bucket_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(inner))))
    # The first position in each bucket holding its lowest (highest) value.
    lo_hits = np.flatnonzero(low == mins[bucket_of])
    hi_hits = np.flatnonzero(high == maxs[bucket_of])
    lo_pos = lo_hits[np.unique(bucket_of[lo_hits], return_index=True)[1]]
    hi_pos = hi_hits[np.unique(bucket_of[hi_hits], return_index=True)[1]]
    keep = np.unique(np.concatenate(([0, n - 1], lo_pos + 1, hi_pos + 1)))
    return x[keep].tolist(), y[keep].tolist()


@dataclass(frozen=True)
class MetricView:
    """What a chart of one run draws, and where to read on from.

    Attributes:
        series: Per metric key, the points to draw (every point when ``exact[key]``).
        stored: Per metric key, how many points the store holds in the window.
        exact: Per metric key, whether ``series`` holds every stored point of the window.
        span: Per metric key, the first and last step stored (the whole run, not the window).
        last_id: The newest metric row this view has seen: pass it to :func:`metrics_since`.
        window: The steps shown, ``(first, last)`` inclusive (None at an end: no bound); None
            for all.
        points: The most points per curve.
    """

    series: dict[str, MetricSeries]
    stored: dict[str, int]
    exact: dict[str, bool]
    span: dict[str, tuple[int, int]]
    last_id: int
    window: Window | None = None
    points: int = DISPLAY_POINTS
    appended: int = field(default=0)  # points appended since the view was read

    @property
    def drawn(self) -> int:
        return sum(len(s.steps) for s in self.series.values())


def _inside(step: int, window: Window | None) -> bool:
    if window is None:
        return True
    lo, hi = window
    return (lo is None or lo <= step) and (hi is None or step <= hi)


def extend_view(view: MetricView, new: Mapping[str, MetricSeries], last_id: int) -> MetricView:
    """``view`` with the points of ``new`` (key -> MetricSeries, from :func:`metrics_since`)
    appended: points outside its window are left out, and a curve grown past twice the view's
    ``points`` is cut back with :func:`downsample` (which keeps its extremes)."""
    series = dict(view.series)
    stored, exact, span = dict(view.stored), dict(view.exact), dict(view.span)
    added = 0
    for key, fresh in new.items():
        pairs = [(s, v) for s, v in zip(fresh.steps, fresh.values, strict=True) if _inside(s, view.window)]
        if fresh.steps:
            first, last = span.get(key, (fresh.steps[0], fresh.steps[0]))
            span[key] = (min(first, *fresh.steps), max(last, *fresh.steps))
        if not pairs:
            continue
        old = series.get(key, MetricSeries(key, [], []))
        steps = list(old.steps) + [s for s, _ in pairs]
        values = list(old.values) + [v for _, v in pairs]
        stored[key] = stored.get(key, 0) + len(pairs)
        exact.setdefault(key, True)
        if len(steps) > 2 * view.points:
            steps, values = downsample(steps, values, view.points)
            exact[key] = False
        series[key] = MetricSeries(key, steps, values)
        added += len(pairs)
    return replace(
        view,
        series=series,
        stored=stored,
        exact=exact,
        span=span,
        last_id=max(view.last_id, last_id),
        appended=view.appended + added,
    )
