"""Every query is scoped by who is asking: the store's sessions carry a :class:`Viewer`, and a
``do_orm_execute`` hook adds the access rule (:func:`core.store._access.visible`) to every
SELECT, UPDATE and DELETE they run over Loom's items and their parts, whatever the module that
built the statement. No module can build an unscoped query: a session opened without a viewer
refuses to run one. Loom's own processes (workers, the reaper, the admin CLI) say so by opening
their sessions as :data:`~core.store.SYSTEM`.

This is the pattern SQLAlchemy documents for global criteria (``with_loader_criteria`` in
``do_orm_execute``), and the one place Loom's rule meets the database, as Optuna keeps all of
its persistence behind one storage interface.

What it scopes:

- datasets, pipelines, runs, studies, reports and alert rules: :func:`visible` (own, team,
  project role, share link; never the trash);
- a run's metrics, metric blocks, events, evaluations and summaries, a report's versions, and
  the notes and tags of runs and studies: those of visible runs, studies and reports.

What it leaves to its own checks: projects and their members (core.sharing's project functions
check roles), accounts, sessions, share links (a link's token is its credential), and the audit
log (written by :func:`core.store.audit`, read by site admins through core.ops).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_
from sqlalchemy import event
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm import with_loader_criteria

from core.errors import StoreError
from core.store._access import Viewer
from core.store._access import outside_trash
from core.store._access import visible
from core.store._models import AlertRule
from core.store._models import Dataset
from core.store._models import Evaluation
from core.store._models import Metric
from core.store._models import MetricBlock
from core.store._models import Note
from core.store._models import Pipeline
from core.store._models import Report
from core.store._models import ReportVersion
from core.store._models import Run
from core.store._models import RunEvent
from core.store._models import RunSummary
from core.store._models import Study
from core.store._models import Tag

__all__ = ["PARTS_OF_SCOPED_ITEMS", "SCOPED", "install_scope_hook"]

ITEMS = (Dataset, Pipeline, Run, Study, Report, AlertRule)
RUN_PARTS = (Metric, MetricBlock, RunEvent, Evaluation, RunSummary)
# Every table whose rows the hook scopes.
SCOPED = (*ITEMS, *RUN_PARTS, ReportVersion, Note, Tag)

# An execution option for a statement whose parts (summaries, metrics, tags...) are only ever
# joined to an item the same statement reads, or keyed by IDs read under the same viewer: the
# items' rule already scopes them, and repeating it per part would make the database check
# every part's run again (a second pass over the runs table for a list of 1,000,000 runs).
# core.experiments' list sets it; a statement that reads parts on their own must not.
PARTS_OF_SCOPED_ITEMS = "loom_parts_of_scoped_items"


@contextmanager
def sorting_discouraged(session: Session) -> Iterator[None]:
    """Within the block, PostgreSQL's planner avoids sorting (``SET LOCAL enable_sort = off``):
    for a statement that can read an index in its ORDER BY's order up to its LIMIT, where the
    planner would hash and sort every match (its cost model charges a scoped viewer's hashed
    subplans to each probe of the walk). Other databases: nothing changes."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SET LOCAL enable_sort = off"))
    try:
        yield
    finally:
        if postgres:
            session.execute(text("SET LOCAL enable_sort = on"))


def _options(viewer: Viewer) -> list[Any]:
    options = [with_loader_criteria(model, visible(model, viewer), include_aliases=True) for model in ITEMS]
    if viewer.everything:
        return options + _local_parts()  # the local user: everything but the trash
    runs = select(Run.id).where(visible(Run, viewer))
    studies = select(Study.id).where(visible(Study, viewer))
    # A part's run, looked up by its key (EXISTS), rather than ``run_id IN (every visible run)``:
    # SQLite would list every run the viewer sees for each query, a scan of the runs table that
    # grows with the store (a live page's poll of one run's new points, a list of 1,000,000 runs).
    options += [
        with_loader_criteria(
            model,
            exists().where(Run.id == model.run_id, visible(Run, viewer)),
            include_aliases=True,
        )
        for model in RUN_PARTS
    ]
    reports = select(Report.id).where(visible(Report, viewer))
    options.append(
        with_loader_criteria(ReportVersion, ReportVersion.report_id.in_(reports), include_aliases=True)
    )
    for model in (Note, Tag):
        options.append(
            with_loader_criteria(
                model,
                or_(
                    and_(model.target_kind == "run", model.target_id.in_(runs)),
                    and_(model.target_kind == "study", model.target_id.in_(studies)),
                ),
                include_aliases=True,
            )
        )
    return options


def _local_parts() -> list[Any]:
    # The local user sees every item but the trash, so a part is kept out only when its item is
    # in the trash: a trashed run's notes, tags, metrics or events read by its ID. Checked
    # against the short lists of trashed items (outside_trash), not by looking each part's item
    # up, so a live page's poll of one run's new points stays a walk of its index.
    options = [
        with_loader_criteria(model, outside_trash(model.run_id, Run), include_aliases=True)
        for model in RUN_PARTS
    ]
    options.append(
        with_loader_criteria(
            ReportVersion, outside_trash(ReportVersion.report_id, Report), include_aliases=True
        )
    )
    for model in (Note, Tag):
        options.append(
            with_loader_criteria(
                model,
                or_(
                    and_(model.target_kind == "run", outside_trash(model.target_id, Run)),
                    and_(model.target_kind == "study", outside_trash(model.target_id, Study)),
                ),
                include_aliases=True,
            )
        )
    return options


def _scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    viewer = state.session.info.get("viewer")
    if viewer is None:
        raise StoreError(
            "A store session was opened without saying who is asking, so its queries cannot be "
            "scoped. Open it as store.session(viewer), or store.session(SYSTEM) in Loom's own processes."
        )
    if viewer.everything and not viewer.name:
        return  # Loom's own processes
    options = _options(viewer)
    if state.execution_options.get(PARTS_OF_SCOPED_ITEMS):
        options = options[: len(ITEMS)]  # the items' own rule still applies
    state.statement = state.statement.options(*options)


def install_scope_hook(sessions: sessionmaker[Session]) -> None:
    """Scopes every query run by ``sessions``' sessions by their viewer (``session.info``)."""
    event.listen(sessions, "do_orm_execute", _scope)
