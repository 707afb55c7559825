"""Team quotas: the bytes a team's projects may hold, and the check an upload or a launch makes
before it writes anything.

A team's usage is what :func:`core.ops.disk_use` counts, for the items in the projects the team
owns (``Project.owner_team``): the files of its datasets, its runs' models, checkpoints and
predictions, the bundles its predict runs name, and its runs' metric points times a point's
measured size. It is computed from the store's rows and one listing of each run folder (no walk
of the whole data directory) and kept for :data:`QUOTA_CACHE_S` seconds per team, so a burst of
launches pays for it once; a point's size (which scans the database's pages) is kept longer.

Items in the trash count until purged: their files and points are still on disk (as MLflow's
deleted runs keep their artifacts until ``mlflow gc``, and a cloud drive's trash counts against
its storage), so the quota stays a bound on the disk a team holds. A refusal says how much of
the usage is in the trash and on which day its purge brings the team under the quota.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from core.errors import QuotaExceededError
from core.errors import SpecError
from core.store._access import _not_trashed
from core.store._audit import audit
from core.store._models import Dataset
from core.store._models import Metric
from core.store._models import Project
from core.store._models import Run
from core.store._models import Team

__all__ = [
    "QUOTA_CACHE_S",
    "check_quota",
    "database_sizes",
    "decimal_bytes",
    "forget_usage",
    "set_team_quota",
    "team_quotas",
    "team_usage",
]

QUOTA_CACHE_S = 10.0
_ROW_BYTES_CACHE_S = 300.0
# When the database cannot say how large its metric tables are: a row of `metrics` (id, run
# ID, key, step, value, time) plus its index entry, as SQLite stores them, about.
FALLBACK_ROW_BYTES = 80
_RUN_FOLDERS = ("models", "checkpoints", "predictions")
_lock = threading.Lock()
_usage: dict[tuple[str, str], tuple[float, int]] = {}
_row_bytes: dict[str, tuple[float, float]] = {}


def decimal_bytes(n: float) -> str:
    """``51_200_000_000`` → ``"51.2 GB"`` (decimal units, as quotas are set: "50 GB")."""
    unit = "B"
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            break
        n /= 1000
    return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def database_sizes(engine: Any) -> tuple[int, int]:
    """(the whole database's bytes, the metric tables' bytes; 0 when unknown)."""
    from sqlalchemy.exc import SQLAlchemyError

    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.execute(text("PRAGMA page_count")).scalar_one()
            size = conn.execute(text("PRAGMA page_size")).scalar_one()
            try:
                metric = conn.execute(
                    text(
                        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN "
                        "(SELECT name FROM sqlite_master WHERE tbl_name IN ('metrics', 'metric_blocks'))"
                    )
                ).scalar_one()
            except SQLAlchemyError:  # SQLite built without dbstat
                metric = 0
            return int(pages) * int(size), int(metric)
        if engine.dialect.name == "postgresql":
            whole = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            metric = conn.execute(
                text("SELECT pg_total_relation_size('metrics') + pg_total_relation_size('metric_blocks')")
            ).scalar_one()
            return int(whole), int(metric)
    return 0, 0


def _metric_row_bytes(store: Any) -> float:
    key = str(store.engine.url)
    now = time.monotonic()
    hit = _row_bytes.get(key)
    if hit and now - hit[0] < _ROW_BYTES_CACHE_S:
        return hit[1]
    with store.engine.connect() as conn:
        rows = int(conn.execute(select(func.count()).select_from(Metric)).scalar_one())
    metric_bytes = database_sizes(store.engine)[1]
    value = metric_bytes / rows if rows and metric_bytes else float(FALLBACK_ROW_BYTES)
    _row_bytes[key] = (now, value)
    return value


def _folder_sizes(folder: Path, ids: set[str]) -> dict[str, int]:
    """The bytes of the files in ``folder`` whose name starts with one of ``ids``, per ID (one
    listing; only those files are stat-ed)."""
    sizes: dict[str, int] = {}
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return sizes
    with entries:
        for entry in entries:
            owner = entry.name.split(".", 1)[0].split("-", 1)[0]
            if owner not in ids:
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    sizes[owner] = sizes.get(owner, 0) + entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return sizes


def _folder_bytes(folder: Path, ids: set[str]) -> int:
    return sum(_folder_sizes(folder, ids).values())


def _compute_usage(store: Any, team: str) -> int:
    data_dir = Path(store.data_dir)
    projects = select(Project.id).where(Project.owner_team == team).scalar_subquery()
    with store.engine.connect() as conn:
        datasets = set(conn.execute(select(Dataset.id).where(Dataset.project_id.in_(projects))).scalars())
        runs = set(conn.execute(select(Run.id).where(Run.project_id.in_(projects))).scalars())
        bundles: set[str] = set()
        predicts = select(Run.spec_json).where(Run.project_id.in_(projects), Run.kind == "predict")
        for spec in conn.execute(predicts).scalars():
            if isinstance(spec, dict) and isinstance(spec.get("bundle"), str):
                bundles.add(spec["bundle"])
        points: list[int] = []  # per run: each run's bytes are rounded as disk_use rounds them
        if runs:
            in_team = select(Run.id).where(Run.project_id.in_(projects)).scalar_subquery()
            points = [
                int(n)
                for n in conn.execute(
                    select(func.count()).where(Metric.run_id.in_(in_team)).group_by(Metric.run_id)
                ).scalars()
            ]
    total = _folder_bytes(data_dir / "datasets", datasets)
    for folder in _RUN_FOLDERS:
        total += _folder_bytes(data_dir / folder, runs)
    total += _folder_bytes(data_dir / "bundles", bundles)
    if points:
        row_bytes = _metric_row_bytes(store)
        total += sum(round(n * row_bytes) for n in points)
    return total


def _trash_usage(store: Any, team: str) -> list[tuple[datetime, int]]:
    """When each of the team's runs and datasets in the trash is purged, and the bytes it holds
    until then (its files, a run's metric points), soonest first."""
    data_dir = Path(store.data_dir)
    days = float(getattr(getattr(store, "config", None), "trash_days", 30.0))
    projects = select(Project.id).where(Project.owner_team == team).scalar_subquery()
    with store.engine.connect() as conn:
        # A project in the trash takes everything in it there, purged with it (core.ops); the
        # access rule's own test says what is in the trash, the project's deletion dates it.
        gone = dict(
            conn.execute(
                select(Project.id, Project.deleted_at).where(
                    Project.owner_team == team, Project.deleted_at.is_not(None)
                )
            ).all()
        )

        def in_trash(model: Any) -> Any:
            return select(model.id, model.deleted_at, model.project_id).where(
                model.project_id.in_(projects), ~_not_trashed(model)
            )

        def first(rows: Any) -> dict[str, datetime]:  # trashed itself, or with its project: the first
            return {i: min(w for w in (at, gone.get(p)) if w is not None) for i, at, p in rows}

        datasets = first(conn.execute(in_trash(Dataset)).all())
        runs = first(conn.execute(in_trash(Run)).all())
        trashed_runs = in_trash(Run).with_only_columns(Run.id).scalar_subquery()
        points = dict(
            conn.execute(
                select(Metric.run_id, func.count())
                .where(Metric.run_id.in_(trashed_runs))
                .group_by(Metric.run_id)
            ).all()
        )
    sizes = _folder_sizes(data_dir / "datasets", set(datasets))
    for folder in _RUN_FOLDERS:
        for run_id, size in _folder_sizes(data_dir / folder, set(runs)).items():
            sizes[run_id] = sizes.get(run_id, 0) + size
    if points:
        row_bytes = _metric_row_bytes(store)
        for run_id, n in points.items():
            sizes[run_id] = sizes.get(run_id, 0) + round(int(n) * row_bytes)
    out = []
    for item_id, deleted_at in (*datasets.items(), *runs.items()):
        when = deleted_at if deleted_at.tzinfo else deleted_at.replace(tzinfo=UTC)
        out.append((when + timedelta(days=days), sizes.get(item_id, 0)))
    return sorted(out)


def _trash_advice(store: Any, team: str, used: int, quota: int) -> str:
    """What the trash holds of ``used``, and when purging it brings the team under ``quota``:
    trashed items use their disk until purged, so they count (a user who deleted to get under
    the quota is told why it did not, and when it will)."""
    trash = _trash_usage(store, team)
    held = sum(size for _, size in trash)
    if not held:
        return ""
    left, under = used, None
    for purged_at, size in trash:
        left -= size
        if left < quota:
            under = purged_at
            break
    if under is not None:
        return (
            f" {decimal_bytes(held)} of it is in the trash: empty the trash (a site admin purges it on "
            f"the Admin page) or wait for its purge on {under:%Y-%m-%d}."
        )
    return (
        f" {decimal_bytes(held)} of it is in the trash (purged by {trash[-1][0]:%Y-%m-%d}), which is not "
        "enough to bring it under the quota."
    )


def team_usage(store: Any, team: str, *, max_age_s: float = QUOTA_CACHE_S) -> int:
    """The bytes ``team``'s projects hold (see the module's docstring), at most ``max_age_s``
    seconds old (0: computed now)."""
    key = (str(store.data_dir), team)
    now = time.monotonic()
    with _lock:
        hit = _usage.get(key)
    if hit and max_age_s > 0 and now - hit[0] < max_age_s:
        return hit[1]
    used = _compute_usage(store, team)
    with _lock:
        _usage[key] = (now, used)
    return used


def forget_usage(store: Any | None = None) -> None:
    """Drop the kept usage figures (of ``store``; every store's when None): after a purge."""
    with _lock:
        for key in list(_usage):
            if store is None or key[0] == str(store.data_dir):
                del _usage[key]
        for url in list(_row_bytes):
            if store is None or url == str(store.engine.url):
                del _row_bytes[url]


def team_quotas(store: Any) -> dict[str, int]:
    """Each team with a quota → its quota in bytes."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(Team.name, Team.quota_bytes).where(Team.quota_bytes.is_not(None)))
        return {r.name: int(r.quota_bytes) for r in rows}


def set_team_quota(store: Any, team: str, quota_bytes: int | None, *, actor: str) -> None:
    """Set (``None``: clear) ``team``'s quota; audited as ``team.quota``. Callers check that the
    actor is a site admin.

    Raises:
        SpecError: A quota below 1 byte, or no such team (the message lists the teams).
    """
    from core.store._access import SYSTEM

    if quota_bytes is not None and not quota_bytes >= 1:
        raise SpecError(f"`quota_bytes >= 1` must hold, but got quota_bytes={quota_bytes}.")
    with store.session(SYSTEM) as s:
        row = s.get(Team, team)
        if row is None:
            names = sorted(s.scalars(select(Team.name)))
            raise SpecError(f"No team {team!r}. Teams: {', '.join(names) or '(none yet)'}.")
        before = row.quota_bytes
        row.quota_bytes = quota_bytes
        audit(s, actor, "team.quota", "team", team, {"bytes": quota_bytes, "before": before})


def check_quota(store: Any, project_id: str | None) -> None:
    """Refuse an upload or launch into ``project_id`` when the team that owns the project has a
    quota and uses all of it. Cheap when no quota applies (one indexed lookup).

    Raises:
        QuotaExceededError: With the team's usage and quota, and what to do.
    """
    if not project_id:
        return
    with store.engine.connect() as conn:
        row = conn.execute(
            select(Team.name, Team.quota_bytes)
            .join(Project, Project.owner_team == Team.name)
            .where(Project.id == project_id, Team.quota_bytes.is_not(None))
        ).first()
    if row is None:
        return
    used = team_usage(store, row.name)
    if used >= row.quota_bytes:
        trash = _trash_advice(store, row.name, used, row.quota_bytes)
        raise QuotaExceededError(
            f"Team {row.name} uses {decimal_bytes(used)} of its {decimal_bytes(row.quota_bytes)} quota."
            f"{trash} Delete runs or datasets (they go to the trash; purge it on the admin page) or ask a "
            "site admin to raise the quota."
        )
