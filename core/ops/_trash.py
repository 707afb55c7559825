"""The trash: deleted runs, studies, datasets, pipelines and reports, restorable until purged.

Deleting an item (core.experiments' ``delete_runs``, core.data's ``delete_dataset``, core.reports'
``delete_report``, or :func:`delete_item` here for any kind) stamps its ``deleted_at`` and
``deleted_by``; core.store's access rule then hides it from every list, get and link, for
everyone but Loom's own processes. Whoever may change it (its owner, an admin of its project)
sees it in :func:`list_trash` and may :func:`restore_item` it. After ``LOOM_TRASH_DAYS``
(:attr:`core.config.AppConfig.trash_days`) :func:`purge_trash` removes the row, its parts (metrics,
events, notes, tags, a report's versions) and its files (``python -m core gc``, ``python -m core
trash purge``, and the app's reaper).

What a kept item still needs is never purged: a dataset or pipeline version that a run not in the
trash used stays (the message names the runs), and so does one a run or pipeline still in the
trash uses (it may come back). A run that branches (core.training's ``branch_run``) continue from
stays while any of them is not purged: their shared history (its curves up to each branch's
epoch, its checkpoints) is kept until no branch needs it, and gc keeps its checkpoints too. A
purged study takes its Optuna rows (studies, trials and their values) with it.

A project in the trash (core.sharing's ``delete_project``) is purged the same way, after the same
days: everything in it goes with it (each item under the rules above), then its members, alert
rules and the project itself; if something in it is kept, the project stays with it, named in
the result as kept with why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from core.errors import NotFoundError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import AlertRule
from core.store import Dataset
from core.store import Note
from core.store import Pipeline
from core.store import Project
from core.store import ProjectMember
from core.store import Report
from core.store import ReportVersion
from core.store import Run
from core.store import Study
from core.store import Tag
from core.store import Viewer
from core.store import audit
from core.store import fetch_owned
from core.store import owned
from core.store import utcnow

__all__ = [
    "TRASH_KINDS",
    "PurgeResult",
    "TrashItem",
    "delete_item",
    "list_trash",
    "purge_trash",
    "restore_item",
]

_MODELS: dict[str, Any] = {
    "run": Run,
    "study": Study,
    "dataset": Dataset,
    "pipeline": Pipeline,
    "report": Report,
}
# What may be deleted to the trash; purged in this order, so what a purged run used may go too.
TRASH_KINDS = ("run", "study", "report", "pipeline", "dataset")
_RUN_FOLDERS = ("models", "checkpoints", "predictions")
_LIVE = ("queued", "running")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrashItem:
    """One item in the trash."""

    kind: str
    id: str
    name: str
    author: str
    project_id: str
    deleted_at: datetime
    deleted_by: str

    def purge_after(self, days: float) -> datetime:
        """When it is purged, keeping it ``days`` days."""
        return _aware(self.deleted_at) + timedelta(days=days)


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (``dry_run``: would remove), and what it kept with why."""

    dry_run: bool
    purged: tuple[TrashItem, ...]
    kept: tuple[tuple[TrashItem, str], ...]
    files: tuple[str, ...]
    freed_bytes: int


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _model(kind: str) -> Any:
    if kind not in _MODELS:
        raise SpecError(f"`kind in {TRASH_KINDS}` must hold, but got kind={kind!r}.")
    return _MODELS[kind]


def _item(kind: str, row: Any, project: Any = None) -> TrashItem:
    """``row`` as a trash item; ``project``: its project in the trash, which dates an item that
    is there only as part of it."""
    name = row.title if kind == "report" else row.name
    if kind == "pipeline":
        name = f"{name} v{row.version}"
    deleted_at, deleted_by = row.deleted_at, row.deleted_by
    if deleted_at is None and project is not None:
        deleted_at, deleted_by = project.deleted_at, project.deleted_by
    return TrashItem(
        kind, row.id, name or row.id[:8], row.author, row.project_id or "", deleted_at, deleted_by
    )


def _project_item(project: Any) -> TrashItem:
    owner = project.owner_team or project.owner_user
    return TrashItem(
        "project", project.id, project.name, owner, project.id, project.deleted_at, project.deleted_by
    )


def delete_item(store: Any, kind: str, item_id: str, *, viewer: Viewer) -> TrashItem:
    """Put one item in the trash (a study with its runs); whoever may change it may.

    Raises:
        SpecError: An unknown kind, or a run (of the study) still queued or running: stop it first.
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Visible but not the viewer's to delete.
    """
    model = _model(kind)
    with store.session(viewer) as s:
        row = fetch_owned(s, model, item_id, viewer, "delete")
        runs = [row] if kind == "run" else []
        if kind == "study":
            runs = list(s.scalars(select(Run).where(Run.study_id == item_id)))
        live = [r.id for r in runs if r.status in _LIVE]
        if kind == "study" and row.status in _LIVE:
            raise SpecError(f"Study {row.name!r} is still {row.status}: stop it before deleting.")
        if live:
            raise SpecError(f"Run(s) {live} are still queued or running: stop them before deleting.")
        now = utcnow()
        by = viewer.name or "system"
        for target in (row, *runs):
            target.deleted_at, target.deleted_by = now, by
        audit(s, viewer.name, f"{kind}.delete", kind, item_id, {"name": _item(kind, row).name})
        s.flush()
        return _item(kind, row)


def list_trash(store: Any, *, viewer: Viewer, kinds: tuple[str, ...] = TRASH_KINDS) -> list[TrashItem]:
    """The items in the trash ``viewer`` may restore (their own, and those in projects they are an
    admin of; everything for Loom's own processes and the local user), newest deletion first. A
    study's runs, trashed with it, are listed under the study, not one by one."""
    who = viewer.with_grant(None)
    out: list[TrashItem] = []
    with store.session(SYSTEM) as s:
        for kind in kinds:
            model = _model(kind)
            query = select(model).where(model.deleted_at.is_not(None), owned(model, who))
            for row in s.scalars(query):
                if kind == "run" and row.study_id is not None:
                    study = s.get(Study, row.study_id)
                    if study is not None and study.deleted_at is not None:
                        continue
                out.append(_item(kind, row))
    return sorted(out, key=lambda item: _aware(item.deleted_at), reverse=True)


def restore_item(store: Any, kind: str, item_id: str, *, viewer: Viewer) -> TrashItem:
    """Take an item out of the trash (a study with the runs trashed with it).

    Raises:
        SpecError: An unknown kind.
        NotFoundError: Not in the trash, or not the viewer's to restore (the same answer).
    """
    model = _model(kind)
    who = viewer.with_grant(None)
    with store.session(SYSTEM) as s:
        row = s.scalar(
            select(model).where(model.id == item_id, model.deleted_at.is_not(None), owned(model, who))
        )
        if row is None:
            raise NotFoundError(
                f"No {kind} with ID {str(item_id)[:64]!r} in the trash that you may restore. It may "
                "have been restored or purged already; pick one from the trash list."
            )
        item = _item(kind, row)
        if kind == "study":
            s.execute(
                update(Run)
                .where(Run.study_id == item_id, Run.deleted_at == row.deleted_at)
                .values(deleted_at=None, deleted_by="")
            )
        row.deleted_at, row.deleted_by = None, ""
        audit(s, viewer.name, f"{kind}.restore", kind, item_id, {"name": item.name})
        return item


def _run_label(row: Any) -> str:
    return f"{row.kind} run {row.name or row.id[:8]!r} ({row.id})"


def _blockers(s: Any, kind: str, item_id: str, going: set[tuple[str, str]]) -> str:
    """Why an item may not go yet: the runs (kept or still in the trash) and pipelines that use a
    dataset or pipeline version, the branches that continue a run's history (its curves up to
    each branch's epoch, its per-epoch checkpoint there), other than those purged in the same
    pass. "" when nothing does."""
    if kind == "run":
        branches = [
            r
            for r in s.scalars(select(Run).where(Run.parent_id == item_id, Run.parent_kind == "branched"))
            if ("run", r.id) not in going
        ]
        if branches:
            where = "kept" if branches[0].deleted_at is None else "still in the trash"
            return (
                f"kept: {len(branches)} branch(es) continue its history, e.g. {_run_label(branches[0])} "
                f"({where}); it goes once no branch needs it"
            )
        return ""
    if kind == "study":
        of_study = s.scalars(select(Run).where(Run.study_id == item_id))
        runs = [r for r in of_study if ("run", r.id) not in going]
        if runs:
            return f"kept: {len(runs)} of its runs are kept or not yet due, e.g. {_run_label(runs[0])}"
        return ""
    if kind not in ("dataset", "pipeline"):
        return ""
    column = Run.dataset_id if kind == "dataset" else Run.pipeline_id
    runs = [r for r in s.scalars(select(Run).where(column == item_id)) if ("run", r.id) not in going]
    kept = [r for r in runs if r.deleted_at is None]
    if kept:
        named = ", ".join(_run_label(r) for r in kept[:5]) + (" ..." if len(kept) > 5 else "")
        return f"kept: used by {named}; delete those runs first, Loom keeps what a kept run used"
    if runs:
        return f"kept: used by {_run_label(runs[0])}, still in the trash (it may be restored)"
    if kind == "dataset":
        pipes = [
            p
            for p in s.scalars(select(Pipeline).where(Pipeline.dataset_id == item_id))
            if ("pipeline", p.id) not in going
        ]
        if pipes:
            return f"kept: pipeline {pipes[0].name!r} v{pipes[0].version} ({pipes[0].id}) uses it"
    return ""


def _files(data_dir: Path, kind: str, item_id: str) -> list[Path]:
    if kind == "dataset":
        return [p for p in [data_dir / "datasets" / f"{item_id}.parquet"] if p.exists()]
    if kind == "run":
        return [p for folder in _RUN_FOLDERS for p in sorted((data_dir / folder).glob(f"{item_id}.*"))]
    return []


def _remove_rows(s: Any, kind: str, row: Any) -> None:
    if kind in ("run", "study"):
        s.execute(delete(Note).where(Note.target_kind == kind, Note.target_id == row.id))
        s.execute(delete(Tag).where(Tag.target_kind == kind, Tag.target_id == row.id))
    if kind == "run":
        s.execute(update(Run).where(Run.parent_id == row.id).values(parent_id=None))
    if kind == "report":
        s.execute(delete(ReportVersion).where(ReportVersion.report_id == row.id))
    s.delete(row)  # a run's metrics, events and summaries cascade
    s.flush()


def _delete_optuna_studies(store: Any, names: list[str]) -> None:
    """Optuna's rows of purged studies (its tables share the store's database): studies,
    trials, their params, values and intermediate values, through Optuna's own storage."""
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        if "studies" not in inspect(conn).get_table_names():
            return  # no study ever ran: Optuna's tables were never made
    import optuna

    storage = optuna.storages.RDBStorage(store.engine.url.render_as_string(hide_password=False))
    try:
        for name in names:
            try:
                storage.delete_study(storage.get_study_id_from_name(name))
            except KeyError:
                continue  # the driver never started it
    finally:
        storage.engine.dispose()


def purge_trash(
    store: Any, *, days: float | None = None, dry_run: bool = False, now: datetime | None = None
) -> PurgeResult:
    """Remove (``dry_run``: list) the items deleted more than ``days`` days ago, with their parts
    and files; keep, saying why, a dataset or pipeline version a run still uses.

    Args:
        store: The open store (:class:`core.store.Store`).
        days: How long items stay in the trash. Defaults to the store's configured
            ``trash_days`` (LOOM_TRASH_DAYS, 30).
        dry_run: Only say what would go.
        now: The present (tests set it).

    Raises:
        SpecError: A negative ``days``.
    """
    if days is None:
        days = float(getattr(getattr(store, "config", None), "trash_days", 30.0))
    if not days >= 0:
        raise SpecError(f"`days >= 0` must hold, but got days={days}.")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    data_dir = Path(store.data_dir)
    purged: list[TrashItem] = []
    kept: list[tuple[TrashItem, str]] = []
    paths: list[Path] = []
    optuna_names: list[str] = []
    with store.session(SYSTEM) as s:
        projects = {
            p.id: p
            for p in s.scalars(select(Project).where(Project.deleted_at.is_not(None)))
            if _aware(p.deleted_at) <= cutoff
        }
        due: list[tuple[str, Any]] = []
        for kind in TRASH_KINDS:
            model = _MODELS[kind]
            trashed = model.deleted_at.is_not(None)
            if projects:  # everything in a project due for purging goes with it
                trashed = or_(trashed, model.project_id.in_(list(projects)))
            rows = s.scalars(select(model).where(trashed).order_by(model.deleted_at))
            due += [
                (kind, r)
                for r in rows
                if r.project_id in projects or (r.deleted_at is not None and _aware(r.deleted_at) <= cutoff)
            ]
        going = {(kind, r.id) for kind, r in due}
        # Until nothing changes: keeping one item (a branch) may keep what it needs (its parent).
        changed = True
        while changed:
            changed = False
            for kind, row in due:
                if (kind, row.id) not in going:
                    continue
                why = _blockers(s, kind, row.id, going)
                if kind == "run" and row.status in _LIVE:  # in a deleted project, yet not stopped
                    why = f"kept: still {row.status}; stop it first"
                if why:
                    going.discard((kind, row.id))
                    kept.append((_item(kind, row, projects.get(row.project_id)), why))
                    changed = True
        for kind, row in due:
            if (kind, row.id) not in going:
                continue
            item = _item(kind, row, projects.get(row.project_id))
            purged.append(item)
            if kind == "study":
                optuna_names.append(row.optuna_study_name)
            paths += _files(data_dir, kind, row.id)
            if not dry_run:
                _remove_rows(s, kind, row)
                audit(s, "", f"{kind}.purge", kind, row.id, {"name": item.name, "by": item.deleted_by})
        for project in projects.values():
            held = sum(1 for item, _ in kept if item.project_id == project.id)
            if held:
                why = f"kept: {held} item(s) in it are kept (named beside it); it goes once they do"
                kept.append((_project_item(project), why))
                continue
            purged.append(_project_item(project))
            if not dry_run:
                s.execute(delete(AlertRule).where(AlertRule.project_id == project.id))
                s.execute(delete(ProjectMember).where(ProjectMember.project_id == project.id))
                s.delete(project)
                s.flush()
                audit(
                    s,
                    "",
                    "project.purge",
                    "project",
                    project.id,
                    {"name": project.name, "by": project.deleted_by},
                )
        if dry_run:
            s.rollback()
    if optuna_names and not dry_run:
        _delete_optuna_studies(store, optuna_names)
    freed = 0
    for path in paths:
        try:
            freed += path.stat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            continue
    relative = tuple(str(p.relative_to(data_dir)) for p in paths)
    return PurgeResult(dry_run, tuple(purged), tuple(kept), relative, freed)
