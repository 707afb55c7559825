"""Reads and writes that pages and workers share. Every function takes an open :class:`Store`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC as _UTC
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from core.specs import spec_hash
from core.store._access import SYSTEM
from core.store._access import Viewer
from core.store._access import can_see
from core.store._access import fetch_visible
from core.store._access import in_project
from core.store._access import visible
from core.store._curve_blocks import write_blocks
from core.store._curve_reads import stale_tail
from core.store._curves import MetricSeries
from core.store._db import Store
from core.store._models import Dataset
from core.store._models import Metric
from core.store._models import MetricBlock
from core.store._models import Run
from core.store._models import RunEvent
from core.store._models import RunSummary
from core.store._models import Study
from core.store._models import new_id
from core.store._records import RunRecord

__all__ = [
    "MetricSeries",
    "child_runs",
    "count_rows",
    "create_run",
    "get_events",
    "get_metrics",
    "get_run",
    "list_runs",
    "summarize_run",
    "write_metrics",
]


def create_run(
    store: Store,
    kind: str,
    spec: dict,
    *,
    name: str = "",
    dataset_id: str | None = None,
    pipeline_id: str | None = None,
    study_id: str | None = None,
    parent_id: str | None = None,
    parent_kind: str | None = None,
    author: str | None = None,
    team: str = "",
    run_id: str | None = None,
    project_id: str | None = None,
) -> RunRecord:
    """Insert a ``queued`` run with its spec and spec hash, and its first event. Who may create
    it is checked by the caller (:func:`core.compute.submit_run`)."""
    with store.session(SYSTEM) as s:
        run = Run(
            id=run_id or new_id(),
            kind=kind,
            name=name,
            status="queued",
            status_reason="waiting for a worker",
            stop_requested=False,
            spec_json=spec,
            spec_hash=spec_hash(spec),
            dataset_id=dataset_id,
            pipeline_id=pipeline_id,
            study_id=study_id,
            parent_id=parent_id,
            parent_kind=parent_kind or "",
            author=(author or "")[:100],
            team=team[:100],
            # None: its study's or parent's project, else its author's Default (core.store._projects).
            project_id=project_id or None,
            worker="",
            attempts=0,
            progress=0.0,
            result_json={},
        )
        s.add(run)
        s.flush()
        s.add(RunEvent(run_id=run.id, kind="status", to_status="queued", message="submitted"))
        return RunRecord.from_row(run)


def get_run(store: Store, run_id: str, *, viewer: Viewer) -> RunRecord:
    """The run with this ID, if ``viewer`` may see it.

    Raises:
        NotFoundError: No such run (deleted, a link from another Loom, or not shared with
            ``viewer``: the same answer).
    """
    with store.session(viewer) as s:
        return RunRecord.from_row(fetch_visible(s, Run, run_id, viewer))


def list_runs(
    store: Store,
    *,
    kind: str | None = None,
    statuses: Iterable[str] | None = None,
    limit: int = 100,
    viewer: Viewer,
) -> list[RunRecord]:
    """Runs ``viewer`` may see, newest first, optionally filtered by kind and status."""
    query = (
        select(Run)
        .where(visible(Run, viewer), in_project(Run, viewer))
        .order_by(Run.created_at.desc())
        .limit(limit)
    )
    if kind is not None:
        query = query.where(Run.kind == kind)
    if statuses is not None:
        query = query.where(Run.status.in_(list(statuses)))
    with store.session(viewer) as s:
        return [RunRecord.from_row(r) for r in s.scalars(query)]


def child_runs(store: Store, run_id: str, *, viewer: Viewer) -> list[tuple[str, str, str]]:
    """``(id, name, how)`` of the runs made from this one that ``viewer`` may see."""
    query = select(Run.id, Run.name, Run.parent_kind).where(Run.parent_id == run_id, visible(Run, viewer))
    with store.session(viewer) as s:
        return [(r[0], r[1], r[2]) for r in s.execute(query)]


def get_events(store: Store, run_id: str, *, viewer: Viewer) -> list[RunEvent]:
    """A run's events, oldest first (none for a run ``viewer`` may not see)."""
    query = (
        select(RunEvent).where(RunEvent.run_id == run_id, can_see(Run, run_id, viewer)).order_by(RunEvent.id)
    )
    with store.session(viewer) as s:
        return list(s.scalars(query))


def get_metrics(store: Store, run_id: str, *, viewer: Viewer) -> dict[str, MetricSeries]:
    """Every metric of a run, grouped by key, ordered by step (none for a run ``viewer`` may
    not see)."""
    query = (
        select(Metric.key, Metric.step, Metric.value)
        .where(Metric.run_id == run_id, can_see(Run, run_id, viewer))
        .order_by(Metric.key, Metric.step, Metric.id)
    )
    out: dict[str, tuple[list[int], list[float]]] = {}
    with store.session(viewer) as s:
        for key, step, value in s.execute(query):
            steps, values = out.setdefault(key, ([], []))
            steps.append(step)
            values.append(value)
    return {k: MetricSeries(k, st, va) for k, (st, va) in out.items()}


def write_metrics(store: Store, run_id: str, rows: list[tuple[str, int, float, float]]) -> None:
    """Append ``(key, step, value, unix_ts)`` rows in one transaction, with their blocks (the
    summaries a long run's chart reads; see :mod:`core.store._curves`)."""
    if not rows:
        return
    with store.session(SYSTEM) as s:
        s.execute(
            insert(Metric),
            [{"run_id": run_id, "key": k, "step": st, "value": v, "ts": ts} for k, st, v, ts in rows],
        )
        write_blocks(s, run_id, rows)
    stale_tail(store, run_id)


def count_rows(store: Store, *, viewer: Viewer) -> dict[str, int]:
    """How many datasets, runs and studies ``viewer`` may see (for the home page)."""
    with store.session(viewer) as s:
        return {
            name: s.scalar(select(func.count()).select_from(model).where(visible(model, viewer))) or 0
            for name, model in (("datasets", Dataset), ("runs", Run), ("studies", Study))
        }


def seconds_since(moment: datetime | None, now: float | None = None) -> float | None:
    """Seconds from ``moment`` to now; SQLite returns naive datetimes, read as UTC."""
    if moment is None:
        return None
    ts = moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=_UTC).timestamp()
    return (now if now is not None else time.time()) - ts


def check_integrity(store: Store) -> list[str]:
    """What is wrong with the stored data, in words (empty when all is well): the database's own
    check, every dataset's Parquet file readable, every finished run with a reason, no metric
    without its run."""
    import pyarrow.parquet as pq
    from sqlalchemy import text

    from core.store._models import Dataset

    problems: list[str] = []
    with store.session(SYSTEM) as s:
        if store.engine.dialect.name == "sqlite":
            verdict = s.execute(text("PRAGMA integrity_check")).scalar()
            if verdict != "ok":
                problems.append(f"SQLite integrity_check: {verdict}")
        for dataset_id, name in s.execute(select(Dataset.id, Dataset.name)):
            path = store.path_for("datasets", dataset_id, ".parquet")
            try:
                pq.ParquetFile(path).metadata  # noqa: B018 - reading it is the check
            except (OSError, ValueError) as exc:
                problems.append(f"dataset {name!r} ({dataset_id}): {exc}")
        for run_id, status in s.execute(
            select(Run.id, Run.status).where(
                Run.status.in_(["failed", "stopped", "interrupted"]), Run.status_reason == ""
            )
        ):
            problems.append(f"run {run_id} is {status} without a reason")
        orphans = s.scalar(select(func.count()).select_from(Metric).where(~Metric.run_id.in_(select(Run.id))))
        if orphans:
            problems.append(f"{orphans} metric(s) belong to no run")
    return problems


def summarize_run(store: Store, run_id: str) -> None:
    """Store each metric's last, min and max for list filters and sorting (at a run's end).

    Read from the run's metric blocks, a hundredth of its points (a million-point run ends in
    milliseconds, not the seconds it takes to read every point); a run whose points were
    written around the blocks is read point by point.
    """
    import math

    rows = []
    with store.session(SYSTEM) as s:
        blocks = s.execute(
            select(
                MetricBlock.key,
                func.sum(MetricBlock.n),
                func.min(MetricBlock.min_value),
                func.max(MetricBlock.max_value),
                func.max(MetricBlock.block),
            )
            .where(MetricBlock.run_id == run_id)
            .group_by(MetricBlock.key)
        ).all()
        for key, points, low, high, newest in blocks:
            if low is None:  # no finite value
                continue
            last = s.scalar(
                select(MetricBlock.last_value).where(
                    MetricBlock.run_id == run_id, MetricBlock.key == key, MetricBlock.block == newest
                )
            )
            if last is None or not math.isfinite(last):  # the newest point is not a number
                last = s.scalar(
                    select(Metric.value)
                    .where(Metric.run_id == run_id, Metric.key == key, Metric.value.is_not(None))
                    .where(func.abs(Metric.value) < float("inf"))
                    .order_by(Metric.step.desc(), Metric.id.desc())
                    .limit(1)
                )
            rows.append(RunSummary(run_id=run_id, key=key, last=last, min=low, max=high, points=int(points)))
    if not blocks:
        for key, series in get_metrics(store, run_id, viewer=SYSTEM).items():
            finite = [v for v in series.values if math.isfinite(v)]
            if finite:
                rows.append(
                    RunSummary(
                        run_id=run_id,
                        key=key,
                        last=finite[-1],
                        min=min(finite),
                        max=max(finite),
                        points=len(series.values),
                    )
                )
    with store.session(SYSTEM) as s:
        s.execute(delete(RunSummary).where(RunSummary.run_id == run_id))
        s.add_all(rows)
