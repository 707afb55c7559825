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
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import SpecError
from core.store._access import Viewer
from core.store._access import can_see
from core.store._db import Store
from core.store._models import Metric
from core.store._models import MetricBlock
from core.store._models import Run

__all__ = [
    "BLOCK_STEPS",
    "MetricSeries",
    "DISPLAY_POINTS",
    "RAW_POINTS",
    "MetricView",
    "downsample",
    "extend_view",
    "metric_view",
    "metrics_since",
]

Window = tuple[int | None, int | None]

BLOCK_STEPS = 100  # steps per MetricBlock; migration 0006 summarised old points with the same
DISPLAY_POINTS = 2000  # points per curve on screen
RAW_POINTS = 20_000  # a window with at most this many points is read point by point


# --- the pure part ------------------------------------------------------------------------------


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


# --- writing ------------------------------------------------------------------------------------


def _block_rows(run_id: str, rows: Sequence[tuple[str, int, float, float]]) -> list[dict[str, Any]]:
    """The summary of ``rows`` (``(key, step, value, ts)`` in write order) per key and block."""
    import math

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for key, step, value, _ in rows:
        step = int(step)
        value = float(value)
        b = out.get((key, step // BLOCK_STEPS))
        if b is None:
            b = out[(key, step // BLOCK_STEPS)] = {
                "run_id": run_id,
                "key": key,
                "block": step // BLOCK_STEPS,
                "n": 0,
                "first_step": step,
                "first_value": value,
                "last_step": step,
                "last_value": value,
                "min_step": None,
                "min_value": None,
                "max_step": None,
                "max_value": None,
            }
        b["n"] += 1
        if step < b["first_step"]:
            b["first_step"], b["first_value"] = step, value
        if step >= b["last_step"]:
            b["last_step"], b["last_value"] = step, value
        if math.isfinite(value):
            if b["min_value"] is None or value < b["min_value"]:
                b["min_step"], b["min_value"] = step, value
            if b["max_value"] is None or value > b["max_value"]:
                b["max_step"], b["max_value"] = step, value
    for b in out.values():  # NaN is stored as NULL by SQLite; say so on every backend
        for name in ("first_value", "last_value"):
            if not math.isfinite(b[name]):
                b[name] = None
    return list(out.values())


def write_blocks(session: Session, run_id: str, rows: Sequence[tuple[str, int, float, float]]) -> None:
    """Fold ``rows`` into their blocks (an upsert: SQLite >= 3.24 and PostgreSQL)."""
    blocks = _block_rows(run_id, rows)
    if not blocks:
        return
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    from sqlalchemy import case
    from sqlalchemy import or_

    stmt = insert(MetricBlock)
    new, old = stmt.excluded, MetricBlock
    earlier = new.first_step < old.first_step
    later = new.last_step >= old.last_step
    lower = or_(old.min_value.is_(None), new.min_value < old.min_value)
    higher = or_(old.max_value.is_(None), new.max_value > old.max_value)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "key", "block"],
        set_={
            "n": old.n + new.n,
            "first_step": case((earlier, new.first_step), else_=old.first_step),
            "first_value": case((earlier, new.first_value), else_=old.first_value),
            "last_step": case((later, new.last_step), else_=old.last_step),
            "last_value": case((later, new.last_value), else_=old.last_value),
            "min_step": case((lower, new.min_step), else_=old.min_step),
            "min_value": case((lower, new.min_value), else_=old.min_value),
            "max_step": case((higher, new.max_step), else_=old.max_step),
            "max_value": case((higher, new.max_value), else_=old.max_value),
        },
    )
    session.execute(stmt, blocks)


# --- reading ------------------------------------------------------------------------------------

_BLOCK_COLUMNS = (
    MetricBlock.block,
    MetricBlock.n,
    MetricBlock.first_step,
    MetricBlock.first_value,
    MetricBlock.min_step,
    MetricBlock.min_value,
    MetricBlock.max_step,
    MetricBlock.max_value,
    MetricBlock.last_step,
    MetricBlock.last_value,
)
_B, _N, _FS, _FV, _MINS, _MINV, _MAXS, _MAXV, _LS, _LV = range(len(_BLOCK_COLUMNS))


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def metric_view(
    store: Store,
    run_id: str,
    *,
    viewer: Viewer,
    keys: Sequence[str] | None = None,
    window: Window | None = None,
    points: int = DISPLAY_POINTS,
) -> MetricView:
    """A run's metrics to draw: every point of a curve with at most ``RAW_POINTS`` in the
    window, else the curve's blocks, each cut to ``points`` with :func:`downsample`. None for a
    run ``viewer`` may not see.

    Args:
        keys: Only these metric keys; None for all.
        window: Only the steps ``first..last`` (inclusive; None at an end: no bound); None for all.
        points: The most points per curve, at least 4.
    """
    lo, hi = window if window is not None else (None, None)
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"`first <= last` must hold for a step window, but got window={window}.")
    seen = can_see(Run, run_id, viewer)
    with store.session() as s:
        # One snapshot: the newest row first, so rows written meanwhile come with metrics_since.
        last_id = s.scalar(select(func.max(Metric.id))) or 0
        query = select(MetricBlock.key, *_BLOCK_COLUMNS).where(MetricBlock.run_id == run_id, seen)
        if keys is not None:
            query = query.where(MetricBlock.key.in_(list(keys)))
        rows = s.execute(query.order_by(MetricBlock.key, MetricBlock.block)).all()
        if not rows:  # points written around the blocks (none from Loom's writers): read them
            return _raw_view(s, run_id, seen, last_id, keys, window, points)
        import numpy as np

        series, stored, exact, span = {}, {}, {}, {}
        for key, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            blocks = np.array([r[1:] for r in group], dtype=float)  # a NULL value reads as NaN
            span[key] = (int(blocks[0, _FS]), int(blocks[-1, _LS]))
            wanted = np.ones(len(blocks), dtype=bool)
            if lo is not None:
                wanted &= blocks[:, _LS] >= lo
            if hi is not None:
                wanted &= blocks[:, _FS] <= hi
            blocks = blocks[wanted]
            total = int(blocks[:, _N].sum())
            stored[key] = total
            if total <= RAW_POINTS:
                # Up to the snapshot's newest row: a flush committed meanwhile comes with
                # metrics_since (read here too, its points would be drawn twice).
                steps, values = _read(s, run_id, key, lo, hi, last_id)
                stored[key] = len(steps)
            else:
                steps, values = _from_blocks(s, run_id, key, blocks, lo, hi)
            exact[key] = total <= points and total <= RAW_POINTS
            steps, values = downsample(steps, values, points)
            series[key] = MetricSeries(key, steps, values)
    return MetricView(series, stored, exact, span, last_id, window, points)


def _read(
    s: Session, run_id: str, key: str, lo: int | None, hi: int | None, last_id: int | None = None
) -> tuple[list[int], list[float]]:
    query = select(Metric.step, Metric.value).where(Metric.run_id == run_id, Metric.key == key)
    if last_id is not None:
        query = query.where(Metric.id <= last_id)
    if lo is not None:
        query = query.where(Metric.step >= lo)
    if hi is not None:
        query = query.where(Metric.step <= hi)
    rows = s.execute(query.order_by(Metric.step, Metric.id)).all()
    return [r[0] for r in rows], [_nan(r[1]) for r in rows]


def _from_blocks(
    s: Session, run_id: str, key: str, blocks: Any, lo: int | None, hi: int | None
) -> tuple[Any, Any]:
    """The blocks inside the window as their four points each (first, lowest, highest, last, in
    step order); the blocks cut by the window's edges, point by point (at most two blocks)."""
    import numpy as np

    inside = np.ones(len(blocks), dtype=bool)
    if lo is not None:
        inside &= blocks[:, _FS] >= lo
    if hi is not None:
        inside &= blocks[:, _LS] <= hi
    b = blocks[inside]
    # A block of NaNs only has no lowest or highest: its first point stands in.
    no_min = np.isnan(b[:, _MINS])
    mins = np.where(no_min, b[:, _FS], b[:, _MINS])
    maxs = np.where(no_min, b[:, _FS], b[:, _MAXS])
    minv = np.where(no_min, b[:, _FV], b[:, _MINV])
    maxv = np.where(no_min, b[:, _FV], b[:, _MAXV])
    steps = [np.column_stack([b[:, _FS], mins, maxs, b[:, _LS]]).ravel()]
    values = [np.column_stack([b[:, _FV], minv, maxv, b[:, _LV]]).ravel()]
    order = [np.tile([0, 1, 1, 2], len(b))]
    for edge in blocks[~inside]:
        block = int(edge[_B])
        first = max(block * BLOCK_STEPS, lo if lo is not None else int(edge[_FS]))
        last = min(block * BLOCK_STEPS + BLOCK_STEPS - 1, hi if hi is not None else int(edge[_LS]))
        xs, ys = _read(s, run_id, key, first, last)
        steps.append(np.asarray(xs, dtype=float))
        values.append(np.asarray(ys, dtype=float))
        order.append(np.ones(len(xs), dtype=int))
    x, y, o = np.concatenate(steps), np.concatenate(values), np.concatenate(order)
    sort = np.lexsort((o, x))
    x, y = x[sort], y[sort]
    # A point that is, say, both a block's first and its lowest is drawn once.
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    return x[keep].astype(np.int64), y[keep]


def _raw_view(
    s: Session,
    run_id: str,
    seen: Any,
    last_id: int,
    keys: Sequence[str] | None,
    window: Window | None,
    points: int,
) -> MetricView:
    query = select(Metric.key, Metric.step, Metric.value).where(
        Metric.run_id == run_id, seen, Metric.id <= last_id
    )
    if keys is not None:
        query = query.where(Metric.key.in_(list(keys)))
    if window is not None and window[0] is not None:
        query = query.where(Metric.step >= window[0])
    if window is not None and window[1] is not None:
        query = query.where(Metric.step <= window[1])
    grouped: dict[str, tuple[list[int], list[float]]] = {}
    for key, step, value in s.execute(query.order_by(Metric.key, Metric.step, Metric.id)):
        steps, values = grouped.setdefault(key, ([], []))
        steps.append(step)
        values.append(_nan(value))
    series, stored, exact, span = {}, {}, {}, {}
    for key, (steps, values) in grouped.items():
        stored[key] = len(steps)
        exact[key] = len(steps) <= points
        span[key] = (steps[0], steps[-1])
        series[key] = MetricSeries(key, *downsample(steps, values, points))
    return MetricView(series, stored, exact, span, last_id, window, points)


def metrics_since(
    store: Store, run_id: str, after_id: int, *, viewer: Viewer
) -> tuple[dict[str, MetricSeries], int]:
    """The run's points written after row ``after_id`` (by key, in write order) and the newest
    row ID read (of any run: the next poll starts there): a live chart's poll, which never
    re-reads the history."""
    # ``run_id || ''`` keeps the database on the primary key (rows after ``after_id``) instead of
    # the run's index, which would walk every point of a long run on each poll.
    out: dict[str, tuple[list[int], list[float]]] = {}
    with store.session() as s:
        newest = max(after_id, s.scalar(select(func.max(Metric.id))) or 0)
        query = (
            select(Metric.key, Metric.step, Metric.value)
            .where(
                Metric.id > after_id,
                Metric.id <= newest,
                (Metric.run_id + "") == run_id,
                can_see(Run, run_id, viewer),
            )
            .order_by(Metric.id)
        )
        for key, step, value in s.execute(query):
            steps, values = out.setdefault(key, ([], []))
            steps.append(step)
            values.append(_nan(value))
    return {k: MetricSeries(k, st, va) for k, (st, va) in out.items()}, newest
