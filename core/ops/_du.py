"""Disk use per user, team and project: the bytes of each one's datasets, checkpoints, models,
predictions and bundles (the files' sizes on disk), and of its metrics (rows × the measured
size of a metric row: the metric tables' size in the database divided by their rows)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.ops._files import payload_files
from core.ops._gc import RUN_FOLDERS
from core.ops._gc import References
from core.ops._gc import references
from core.store import database_sizes

__all__ = ["KINDS", "DiskUse", "UsageRow", "disk_use"]

KINDS = ("datasets", "checkpoints", "models", "predictions", "bundles", "metrics")
# When the database cannot say how large its metric tables are: a row of `metrics` (id, run
# ID, key, step, value, time) plus its index entry, as SQLite stores them, about.
_FALLBACK_ROW_BYTES = 80


@dataclass(frozen=True)
class UsageRow:
    """One user's, team's or project's bytes per kind (``KINDS``)."""

    scope: str  # "user", "team" or "project"
    name: str
    bytes: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.bytes.values())


@dataclass(frozen=True)
class DiskUse:
    """The rows (users, then teams, then projects, each largest first), bytes no row owns
    (files gc would remove, uploads, unused bundles), the database's size, and how many bytes
    a metric point was counted as."""

    rows: tuple[UsageRow, ...]
    unowned: dict[str, int]
    database_bytes: int
    metric_rows: int
    metric_row_bytes: float

    def scope(self, scope: str) -> dict[str, UsageRow]:
        return {row.name: row for row in self.rows if row.scope == scope}


def _owner_names(engine: Any) -> dict[str, str]:
    from sqlalchemy import select

    from core.store import Project

    with engine.connect() as conn:
        rows = conn.execute(select(Project.id, Project.name, Project.owner_user, Project.owner_team))
        return {r.id: f"{r.name} ({r.owner_team or r.owner_user or '-'})" for r in rows}


def disk_use(store: Any) -> DiskUse:
    """Bytes per user, team and project; see the module's docstring.

    Args:
        store: The open store (:class:`core.store.Store`).
    """
    from sqlalchemy import func
    from sqlalchemy import select

    from core.store import Metric

    refs: References = references(store.engine)
    projects = _owner_names(store.engine)
    usage: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    unowned: dict[str, int] = defaultdict(int)

    def add(owner: tuple[str, str, str | None] | None, kind: str, size: int) -> None:
        if owner is None:
            unowned[kind] += size
            return
        author, team, project_id = owner
        usage[("user", author or "(none)")][kind] += size
        usage[("team", team or "(no team)")][kind] += size
        project = projects.get(project_id or "", "(no project)")
        usage[("project", project)][kind] += size

    for item in payload_files(Path(store.data_dir)):
        object_id = item.object_id
        if item.kind == "datasets" and object_id:
            add(refs.datasets.get(object_id), "datasets", item.size)
        elif item.kind in RUN_FOLDERS and object_id:
            add(refs.runs.get(object_id), item.kind, item.size)
        elif item.kind == "bundles" and object_id:
            run = refs.bundles.get(object_id)
            add(refs.runs.get(run) if run else None, "bundles", item.size)
        else:
            unowned[item.kind or "(top)"] += item.size

    with store.engine.connect() as conn:
        per_run = dict(conn.execute(select(Metric.run_id, func.count()).group_by(Metric.run_id)).all())
    rows_total = sum(per_run.values())
    database_bytes, metric_bytes = database_sizes(store.engine)
    row_bytes = metric_bytes / rows_total if rows_total and metric_bytes else float(_FALLBACK_ROW_BYTES)
    for run_id, n in per_run.items():
        add(refs.runs.get(run_id), "metrics", round(n * row_bytes))

    order = {"user": 0, "team": 1, "project": 2}
    rows = sorted(
        (UsageRow(scope, name, dict(kinds)) for (scope, name), kinds in usage.items()),
        key=lambda r: (order[r.scope], -r.total, r.name),
    )
    return DiskUse(tuple(rows), dict(sorted(unowned.items())), database_bytes, rows_total, row_bytes)
