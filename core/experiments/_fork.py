"""Forking a run across people: what the fork may read, and what it is called.

Whoever may fork a run (its owner, a teammate who sees it, or a visitor holding a fork link)
may read the dataset and the saved pipeline version the run used, for that purpose only: the
fork starts from exactly the same data and steps, and never silently from something else. The
right is a ``fork`` :class:`~core.store.Grant`, so the store's access rule applies it in every
query (core.store.visible), like a share link's.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.store import SYSTEM
from core.store import Dataset
from core.store import Grant
from core.store import Pipeline
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
        if dataset_id and s.scalar(select(Dataset.id).where(Dataset.id == dataset_id)) is None:
            raise NotFoundError(
                f"The dataset this run trained on ({str(dataset_id)[:8]}) no longer exists: {owner} "
                "deleted it. Ask them for the data, upload it on the Data page and train from scratch."
            )
        if pipeline_id and s.scalar(select(Pipeline.id).where(Pipeline.id == pipeline_id)) is None:
            raise NotFoundError(
                f"The pipeline version this run used ({str(pipeline_id)[:8]}) no longer exists: {owner} "
                "deleted it. Ask them to save it again, or pick another pipeline on the Train page."
            )
    return Grant(
        "fork",
        run_id,
        permission="fork",
        dataset_ids=(str(dataset_id),) if dataset_id else (),
        pipeline_ids=(str(pipeline_id),) if pipeline_id else (),
    )
