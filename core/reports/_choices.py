"""What a report's author may put in a block: the runs and studies they may see, and the
metrics those runs have."""

from __future__ import annotations

from sqlalchemy import select

from core.store import Metric
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import can_see
from core.store import visible

__all__ = ["metric_keys", "run_choices", "study_choices"]


def run_choices(store: Store, *, viewer: Viewer, limit: int = 300) -> dict[str, str]:
    """The newest runs ``viewer`` may see (not archived), ID -> "name (id) · status"."""
    query = (
        select(Run.id, Run.name, Run.kind, Run.status)
        .where(visible(Run, viewer), Run.archived.is_(False))
        .order_by(Run.created_at.desc())
        .limit(limit)
    )
    with store.session(viewer) as s:
        return {i: f"{name or kind} ({i[:6]}) · {status}" for i, name, kind, status in s.execute(query)}


def study_choices(store: Store, *, viewer: Viewer, limit: int = 100) -> dict[str, str]:
    """The newest studies ``viewer`` may see, ID -> "name (id)"."""
    query = (
        select(Study.id, Study.name)
        .where(visible(Study, viewer))
        .order_by(Study.created_at.desc())
        .limit(limit)
    )
    with store.session(viewer) as s:
        return {i: f"{name} ({i[:6]})" for i, name in s.execute(query)}


def metric_keys(store: Store, run_ids: list[str], *, viewer: Viewer) -> list[str]:
    """The metric keys any of these runs has (only runs ``viewer`` may see), sorted."""
    keys: set[str] = set()
    with store.session(viewer) as s:
        for run_id in run_ids[:10]:
            keys |= set(
                s.scalars(
                    select(Metric.key).where(Metric.run_id == run_id, can_see(Run, run_id, viewer)).distinct()
                )
            )
    return sorted(keys)
