"""Forking a run across people: what the fork may read, and what it is called.

Whoever may fork a run (its owner, a teammate who sees it, or a visitor holding a fork link)
may read the dataset and the saved pipeline version the run used, for that purpose only: the
fork starts from exactly the same data and steps, and never silently from something else. The
right is a ``fork`` :class:`~core.store.Grant`, so the store's access rule applies it in every
query (core.store.visible), like a share link's.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.store import SYSTEM
from core.store import Dataset
from core.store import Grant
from core.store import Pipeline
from core.store import Project
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import fetch_visible
from core.store import through_grant_only

__all__ = ["fork_grant", "fork_name"]

# " · fork 1a2b3c" (a fork's own suffix) and " · seed 3" (a seed group's): a fork keeps neither.
_SUFFIX = re.compile(r"( · (fork [0-9a-f]{6}|seed -?\d+))+$")


def fork_name(source: str) -> str:
    """The name of a fork of a run named ``source``: ``"<source> · fork {id}"`` once, whatever
    the source's own fork or seed suffixes (``{id}`` becomes the new run's short ID).

    Args:
        source: The source run's name (its short ID stands in when it has none).

    Returns:
        The new run's name template.
    """
    base = _SUFFIX.sub("", source.strip()) or source.strip() or "run"
    return f"{base} · fork {{id}}"


def _refuse_trashed(session: Session, what: str, row: Any, store: Store) -> None:
    """A dataset or pipeline version in the trash (deleted itself, or its project deleted) is not
    gone: say so, who may restore it and until when, rather than fork from nothing."""
    days = float(getattr(store.config, "trash_days", 30.0))
    version = f" v{row.version}" if isinstance(row, Pipeline) else ""
    label = f"{row.name}{version} ({row.id[:8]})"
    if row.deleted_at is not None:
        deleted = row.deleted_at if row.deleted_at.tzinfo else row.deleted_at.replace(tzinfo=UTC)
        raise NotFoundError(
            f"The {what}, {label}, is in the trash: {row.deleted_by or row.author or 'its owner'} deleted "
            f"it on {deleted:%Y-%m-%d}. Its owner ({row.author or 'unknown'}) or an admin of its project "
            f"can restore it from the trash on the Projects page until "
            f"{deleted + timedelta(days=days):%Y-%m-%d}; then fork this run again."
        )
    project = session.get(Project, row.project_id) if row.project_id else None
    if project is not None and project.deleted_at is not None:
        raise NotFoundError(
            f"The {what}, {label}, is in project {project.name!r}, which is in the trash "
            f"({project.deleted_by or 'an admin'} deleted it). An admin of that project can restore it "
            "on the Projects page; then fork this run again."
        )


def fork_grant(store: Store, run_id: str, *, viewer: Viewer, link: Grant | None = None) -> Grant:
    """What ``viewer`` may read to fork run ``run_id``: the run, its dataset and its saved
    pipeline version. Pass ``viewer.with_grant(fork_grant(...))`` to the reads and to
    ``submit_run``: the new run is the viewer's own.

    Args:
        run_id: The run to fork.
        viewer: Who forks (signed in, or the local user).
        link: The share link the run was opened through, if any. Defaults to None.

    Returns:
        A ``fork`` grant naming the run, its dataset and its pipeline version.

    Raises:
        NotFoundError: The run does not exist or is not visible (through ``link`` either); or
            the dataset or pipeline version it used was deleted (the message says whose it was
            and what to do).
        PermissionDeniedError: Not signed in, or ``link`` lets its holder view the run only.
    """
    viewer.require_create()
    reader = viewer.with_grant(link) if link is not None else viewer.with_grant(None)
    with store.session(reader) as s:
        run = fetch_visible(s, Run, run_id, reader)
        if link is not None and not link.can_fork and through_grant_only(s, Run, run_id, reader):
            raise PermissionDeniedError(
                "This link lets you view the run, not fork it. Ask its owner for a fork link."
            )
        spec = run.spec_json if isinstance(run.spec_json, dict) else {}
        pipeline = spec.get("pipeline") if isinstance(spec.get("pipeline"), dict) else {}
        dataset_id = run.dataset_id or (pipeline or {}).get("dataset_id") or None
        pipeline_id = run.pipeline_id or spec.get("pipeline_id") or None
        owner = run.author or "its owner"
    # Whether what the run used still exists, whoever owns it: the grant being made opens it.
    with store.session(SYSTEM) as s:
        dataset = s.get(Dataset, dataset_id) if dataset_id else None
        if dataset_id and dataset is None:
            raise NotFoundError(
                f"The dataset this run trained on ({str(dataset_id)[:8]}) no longer exists: {owner} "
                "deleted it. Ask them for the data, upload it on the Data page and train from scratch."
            )
        pipeline = s.get(Pipeline, pipeline_id) if pipeline_id else None
        if pipeline_id and pipeline is None:
            raise NotFoundError(
                f"The pipeline version this run used ({str(pipeline_id)[:8]}) no longer exists: {owner} "
                "deleted it. Ask them to save it again, or pick another pipeline on the Train page."
            )
        for what, row in (
            ("dataset this run trained on", dataset),
            ("pipeline version this run used", pipeline),
        ):
            if row is not None:
                _refuse_trashed(s, what, row, store)
    return Grant(
        "fork",
        run_id,
        permission="fork",
        dataset_ids=(str(dataset_id),) if dataset_id else (),
        pipeline_ids=(str(pipeline_id),) if pipeline_id else (),
    )
