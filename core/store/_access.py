"""Who is asking, and what they may see: the one place Loom's access rule is written.

Every core function that lists, reads or changes a dataset, pipeline, run, study, note, tag or
share link takes a :class:`Viewer` and puts :func:`visible` (or :func:`owned`) into its query's
``WHERE``, so nothing another user may not see ever leaves the database. An object someone may
not see answers exactly like a missing one.

The rule:

- **Accounts off** (``LOOM_AUTH=off``): the local user sees and changes everything
  (:meth:`Viewer.local`). Workers, the reaper and the admin CLI use :data:`SYSTEM`.
- **Accounts on**: a signed-in user sees what they own and what is visible to one of their
  teams; teammates may view and fork, only the owner may stop, delete, share or change who sees
  it.
- **A share link** is a :class:`Grant`: exactly the run, study or compare set it names, read
  only (``view``) or with ``fork``; nothing else (not the dataset row, not the study's other
  runs). A grant adds to a viewer's rights only on the view that carries it. A report's link
  opens the report and, inside it, only the runs and studies its owner owns (core.reports).
  A run's link shows its notes and offers its model only if its owner chose so.
- **Projects**: every dataset, pipeline, run, study, report and alert rule belongs to one
  project (core.sharing's projects). A role in a project lets its holder see everything in it:
  ``viewer`` (read, note), ``member`` (also create, fork, launch), ``admin`` (also change or
  delete anything in it, manage members). A project owned by a team gives each team member its
  ``team_role`` unless a member row says otherwise. A project in the trash hides everything in
  it from everyone but Loom's own processes, and so does a deleted item (in the trash, core.ops).
  Lists are per project when the viewer names one (:func:`in_project`); a get by ID finds the
  object in any project the viewer may see.
- **Forking** is a ``fork`` grant (core.experiments.fork_grant): whoever may fork a run (a
  teammate who sees it, or a fork link) may read that run, the dataset and the saved pipeline
  version it used, and nothing else, so the fork starts from exactly the same data and steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.store._models import AlertRule
from core.store._models import Dataset
from core.store._models import Pipeline
from core.store._models import Project
from core.store._models import ProjectMember
from core.store._models import Report
from core.store._models import Run
from core.store._models import Study

__all__ = [
    "ROLES",
    "SYSTEM",
    "Grant",
    "Viewer",
    "can_see",
    "fetch_owned",
    "fetch_visible",
    "in_project",
    "owned",
    "projects_with_role",
    "through_grant_only",
    "outside_trash",
    "visible",
]

_KIND_NAMES = {Run: "run", Study: "study", Dataset: "dataset", Pipeline: "pipeline", Report: "report"}

# A project's roles, weakest first: each may do what the ones before it may.
ROLES = ("viewer", "member", "admin")


@dataclass(frozen=True)
class Grant:
    """What one share link opens.

    Args:
        kind: "run", "study", "compare" or "report".
        target_id: The run, study or report ID ("" for a compare set).
        run_ids: The runs of a compare set; for a report, the runs of its owner that it shows
            (filled in by core.reports for the version being read). Defaults to none.
        permission: "view" or "fork". Defaults to "view".
        study_ids: For a report, the studies of its owner that it shows. Defaults to none.
        include_notes: A run's link shows its notes (with their authors). Defaults to False.
        allow_download: A run's link offers the trained model's bundle. Defaults to False.
        dataset_ids: For a fork, the dataset the source run used. Defaults to none.
        pipeline_ids: For a fork, the saved pipeline version it used. Defaults to none.
    """

    kind: str
    target_id: str
    run_ids: tuple[str, ...] = ()
    permission: str = "view"
    study_ids: tuple[str, ...] = ()
    include_notes: bool = False
    allow_download: bool = False
    dataset_ids: tuple[str, ...] = ()
    pipeline_ids: tuple[str, ...] = ()

    @property
    def can_fork(self) -> bool:
        return self.permission == "fork"

    def shows_notes(self, kind: str, target_id: str) -> bool:
        """Whether this grant opens the notes of ``kind`` ``target_id`` (a run link with notes)."""
        return self.include_notes and self.kind == kind and self.target_id == target_id

    def allows_download(self, run_id: str) -> bool:
        """Whether this grant offers ``run_id``'s model bundle (a run link that allows it)."""
        return self.allow_download and self.kind == "run" and self.target_id == run_id


@dataclass(frozen=True)
class Viewer:
    """Who is asking.

    Args:
        name: The user's name; "" for a visitor who is not signed in. Defaults to "".
        teams: The teams the user belongs to. Defaults to none.
        everything: Sees and changes everything: the local user with accounts off, Loom's own
            workers and the admin CLI. Defaults to False.
        grant: A share link opened on this view. Defaults to None.
        project: The project this view works in: lists show it alone and what is created goes
            into it. "" for every project the viewer may see (created items then go into the
            viewer's "Default" project). Defaults to "".
    """

    name: str = ""
    teams: tuple[str, ...] = field(default=())
    everything: bool = False
    grant: Grant | None = None
    project: str = ""

    @classmethod
    def local(cls, name: str) -> Viewer:
        """The one user of a Loom without accounts."""
        return cls(name=name, everything=True)

    @property
    def signed_in(self) -> bool:
        return bool(self.name) and not self.everything

    @property
    def can_create(self) -> bool:
        """May add datasets, pipelines, runs and studies (a signed-in or local user)."""
        return bool(self.name) or self.everything

    def require_create(self, team: str = "") -> None:
        """Raises PermissionDeniedError unless this viewer may create objects visible to ``team``."""
        if not self.can_create:
            raise PermissionDeniedError("Sign in to create datasets, pipelines, runs or studies.")
        if not self.may_use_team(team):
            raise PermissionDeniedError(
                f"You are not a member of team {team[:100]!r}. Pick one of your teams or keep it private."
            )

    def with_grant(self, grant: Grant | None) -> Viewer:
        return Viewer(self.name, self.teams, self.everything, grant, self.project)

    def in_project(self, project: str) -> Viewer:
        """This viewer working in ``project`` ("" for all their projects)."""
        return Viewer(self.name, self.teams, self.everything, self.grant, project)

    def owns(self, author: str) -> bool:
        return self.everything or (bool(self.name) and author == self.name)

    def may_use_team(self, team: str) -> bool:
        return team == "" or self.everything or team in self.teams


# Loom's own processes (workers, the reaper, the admin CLI).
SYSTEM = Viewer(name="", everything=True)


def _grant_clause(model: Any, grant: Grant | None) -> ColumnElement[bool]:
    if grant is None:
        return false()
    if model is Run:
        if grant.kind in ("run", "fork"):
            return Run.id == grant.target_id
        if grant.kind in ("compare", "report"):
            return Run.id.in_(grant.run_ids)
    if model is Study:
        if grant.kind == "study":
            return Study.id == grant.target_id
        if grant.kind == "report":
            return Study.id.in_(grant.study_ids)
    if model is Report and grant.kind == "report":
        return Report.id == grant.target_id
    if model is Dataset and grant.kind == "fork" and grant.dataset_ids:
        return Dataset.id.in_(grant.dataset_ids)
    if model is Pipeline and grant.kind == "fork" and grant.pipeline_ids:
        return Pipeline.id.in_(grant.pipeline_ids)
    return false()


def projects_with_role(viewer: Viewer, role: str = "viewer") -> Select[Any]:
    """The IDs of the projects (not in the trash) where ``viewer`` holds ``role`` or a stronger
    one: their own member rows, and their teams' projects where no row of theirs says otherwise.
    Everything for a viewer that sees everything."""
    roles = ROLES[ROLES.index(role) :]
    alive = Project.deleted_at.is_(None)
    if viewer.everything:
        return select(Project.id).where(alive)
    if not viewer.name:
        return select(Project.id).where(false())
    explicit = select(ProjectMember.project_id).where(
        ProjectMember.user == viewer.name, ProjectMember.role.in_(roles)
    )
    clauses: list[ColumnElement[bool]] = [Project.id.in_(explicit)]
    if viewer.teams:
        own_row = exists().where(ProjectMember.project_id == Project.id, ProjectMember.user == viewer.name)
        clauses.append(and_(Project.owner_team.in_(viewer.teams), Project.team_role.in_(roles), ~own_row))
    return select(Project.id).where(alive, or_(*clauses))


def _not_trashed(model: Any) -> ColumnElement[bool]:
    trashed = select(Project.id).where(Project.deleted_at.is_not(None))
    alive = or_(model.project_id.is_(None), model.project_id.not_in(trashed))
    # An item deleted on its own (core.ops's trash) is hidden like one of a trashed project.
    return and_(model.deleted_at.is_(None), alive) if hasattr(model, "deleted_at") else alive


def outside_trash(key: Any, model: Any) -> ColumnElement[bool]:
    """A ``WHERE`` clause: ``key`` (a part's column naming a row of ``model``) names no row in the
    trash (deleted itself, or in a trashed project): what keeps the local user from a trashed
    item's notes, tags, metrics and events. The trash holds few rows, so each list is read once
    per statement through an index (``deleted_at``, ``project_id``) and each part is checked
    against it, rather than looking its item up row by row."""
    projects = select(Project.id).where(Project.deleted_at.is_not(None))
    return and_(
        key.not_in(select(model.id).where(model.deleted_at.is_not(None))),
        key.not_in(select(model.id).where(model.project_id.in_(projects))),
    )


def visible(model: Any, viewer: Viewer) -> ColumnElement[bool]:
    """A ``WHERE`` clause: the rows of ``model`` (Dataset, Pipeline, Run, Study, Report or
    AlertRule) ``viewer`` may see."""
    if viewer.everything:
        # Loom's own processes see everything; the local user everything but the trash.
        return _not_trashed(model) if viewer.name else true()
    clauses = [_grant_clause(model, viewer.grant)]
    if viewer.name:
        clauses.append(model.author == viewer.name)
        clauses.append(model.project_id.in_(projects_with_role(viewer)))
    if viewer.teams and model is not AlertRule:
        clauses.append(model.team.in_(viewer.teams))
    return and_(or_(*clauses), _not_trashed(model))


def in_project(model: Any, viewer: Viewer) -> ColumnElement[bool]:
    """A ``WHERE`` clause: the rows of the project ``viewer`` works in (every row when none)."""
    return model.project_id == viewer.project if viewer.project else true()


def can_see(model: Any, object_id: str, viewer: Viewer) -> ColumnElement[bool]:
    """A ``WHERE`` clause: ``viewer`` may see the one row ``object_id`` (for queries of its parts:
    metrics, events, notes, tags). Nothing at all for Loom's own processes, so their polling of a
    run's parts costs no extra lookup; the local user's still finds nothing of an item in the
    trash (one lookup by its key)."""
    if viewer.everything and not viewer.name:
        return true()
    return exists(select(model.id).where(model.id == object_id, visible(model, viewer)))


def owned(model: Any, viewer: Viewer) -> ColumnElement[bool]:
    """A ``WHERE`` clause: the rows ``viewer`` may change (stop, delete, share, re-team, move):
    their own, and everything in a project where they are an admin."""
    if viewer.everything:
        return true()
    if not viewer.name:
        return false()
    return or_(model.author == viewer.name, model.project_id.in_(projects_with_role(viewer, "admin")))


def not_found(model: Any, object_id: str) -> NotFoundError:
    what = _KIND_NAMES.get(model, "object")
    return NotFoundError(
        f"No {what} with ID {str(object_id)[:64]!r}. It may have been deleted, or it is not shared "
        "with you; pick one from the list."
    )


def fetch_visible(session: Session, model: Any, object_id: str, viewer: Viewer) -> Any:
    """The row, if ``viewer`` may see it.

    Raises:
        NotFoundError: Missing, or not visible to ``viewer`` (the same answer).
    """
    row = session.scalar(select(model).where(model.id == object_id, visible(model, viewer)))
    if row is None:
        raise not_found(model, object_id)
    return row


def through_grant_only(session: Session, model: Any, object_id: str, viewer: Viewer) -> bool:
    """Whether ``viewer`` sees the row ``object_id`` only through its grant (a share link or a
    fork), not by their own rights: what a link leaves out (notes, the model) stays out then.
    False for a row they do not see at all (that answers as missing, elsewhere)."""
    if viewer.grant is None or viewer.everything:
        return False
    seen = session.scalar(select(model.id).where(model.id == object_id, visible(model, viewer)))
    own = viewer.with_grant(None)
    return seen is not None and (
        session.scalar(select(model.id).where(model.id == object_id, visible(model, own))) is None
    )


def fetch_owned(session: Session, model: Any, object_id: str, viewer: Viewer, action: str) -> Any:
    """The row, if ``viewer`` may change it.

    Raises:
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Visible (a teammate's) but not the viewer's own.
    """
    row = fetch_visible(session, model, object_id, viewer)
    if (
        not viewer.owns(row.author)
        and session.scalar(
            select(model.id).where(model.id == object_id, owned(model, viewer.with_grant(None)))
        )
        is None
    ):
        what = _KIND_NAMES.get(model, "object")
        raise PermissionDeniedError(
            f"Only the owner of this {what} ({row.author}) or an admin of its project can {action} it. "
            "Fork it to work on your own copy."
        )
    return row
