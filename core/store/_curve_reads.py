"""Reading curves to draw: a run's metrics from their blocks or point by point
(:func:`metric_view`), and the points written since a view was read (:func:`metrics_since`)."""

from __future__ import annotations

import bisect
import itertools
import operator
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import SpecError
from core.store._access import Viewer
from core.store._access import can_see
from core.store._curves import BLOCK_STEPS
from core.store._curves import DISPLAY_POINTS
from core.store._curves import RAW_POINTS
from core.store._curves import MetricSeries
from core.store._curves import MetricView
from core.store._curves import Window
from core.store._curves import downsample
from core.store._db import Store
from core.store._models import Metric
from core.store._models import MetricBlock
from core.store._models import Run

__all__ = ["metric_view", "metrics_since", "stale_tail"]

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
    with store.session(viewer) as s:
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


# Every page of this process watching a run shares one poll of its new points (Streamlit runs
# all browser sessions in one process): 50 viewers of 8 runs ask the database 8 times per
# ``_TAIL_TTL_S``, not 50 times per tick, and hold a connection that much less.
_TAIL_TTL_S = 0.1
_TAIL_ROWS = 20_000  # the newest rows of a run kept for pages that fall behind (older: read)
_TAIL_IDLE_S = 60.0  # a run nobody polled for this long is forgotten


@dataclass
class _Tail:
    """A run's newest points as read by the last shared poll: every row of the run with an ID
    in ``(floor, newest]`` is in ``ids``/``rows``, in write order."""

    floor: int
    newest: int
    polled: float = float("-inf")
    ids: list[int] = field(default_factory=list)
    rows: list[tuple[str, int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_TAILS: dict[tuple[str, str], _Tail] = {}
_TAILS_LOCK = threading.Lock()


def _tail(store: Store, run_id: str, after_id: int) -> _Tail:
    key = (store.config.database_url, run_id)
    now = time.monotonic()
    with _TAILS_LOCK:
        tail = _TAILS.get(key)
        if tail is None:
            for old in [k for k, t in _TAILS.items() if now - t.polled > _TAIL_IDLE_S]:
                del _TAILS[old]
            tail = _TAILS[key] = _Tail(floor=after_id, newest=after_id)
        return tail


def stale_tail(store: Store, run_id: str) -> None:
    """Points of ``run_id`` were written by this process: its next poll reads them at once (a
    worker in another process is seen within the TTL)."""
    tail = _TAILS.get((store.config.database_url, run_id))
    if tail is not None:
        tail.polled = float("-inf")


def _poll(s: Session, tail: _Tail, run_id: str) -> None:
    """Reads the run's rows written since the tail's last poll into it (at most every TTL)."""
    now = time.monotonic()
    if now - tail.polled < _TAIL_TTL_S:
        return
    # ``run_id || ''`` keeps the database on the primary key (rows after the last poll) instead
    # of the run's index, which would walk every point of a long run on each poll.
    newest = max(tail.newest, s.scalar(select(func.max(Metric.id))) or 0)
    query = (
        select(Metric.id, Metric.key, Metric.step, Metric.value)
        .where(Metric.id > tail.newest, Metric.id <= newest, (Metric.run_id + "") == run_id)
        .order_by(Metric.id)
    )
    for row_id, key, step, value in s.execute(query):
        tail.ids.append(row_id)
        tail.rows.append((key, step, _nan(value)))
    tail.newest, tail.polled = newest, now
    if len(tail.ids) > _TAIL_ROWS:
        drop = len(tail.ids) - _TAIL_ROWS
        tail.floor = tail.ids[drop - 1]
        del tail.ids[:drop], tail.rows[:drop]


def metrics_since(
    store: Store, run_id: str, after_id: int, *, viewer: Viewer
) -> tuple[dict[str, MetricSeries], int]:
    """The run's points written after row ``after_id`` (by key, in write order) and the newest
    row ID read (of any run: the next poll starts there): a live chart's poll, which never
    re-reads the history. Every page of the process watching the run shares one read of its
    new points per ``_TAIL_TTL_S``; each still sees them only if it may see the run."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    tail = _tail(store, run_id, after_id)
    with store.session(viewer) as s:
        # A run this viewer may not see (the local user: one in the trash) has no points for them.
        if viewer.name or not viewer.everything:
            if s.scalar(select(Run.id).where(Run.id == run_id)) is None:
                return {}, after_id
        with tail.lock:
            _poll(s, tail, run_id)
            if after_id >= tail.floor:  # everything after ``after_id`` is in the tail
                start = bisect.bisect_right(tail.ids, after_id)
                rows, newest = tail.rows[start:], tail.newest
            else:  # a page far behind (or older than the tail): its rows from the database
                newest = tail.newest
                query = (
                    select(Metric.key, Metric.step, Metric.value)
                    .where(Metric.id > after_id, Metric.id <= newest, (Metric.run_id + "") == run_id)
                    .order_by(Metric.id)
                )
                rows = [(k, st, _nan(v)) for k, st, v in s.execute(query)]
    for key, step, value in rows:
        steps, values = out.setdefault(key, ([], []))
        steps.append(step)
        values.append(value)
    return {k: MetricSeries(k, st, va) for k, (st, va) in out.items()}, newest
