"""Which project a new row goes into, decided in one place: the session's ``before_flush``.

Every dataset, pipeline, run, study, report and alert rule belongs to a project. Code that
creates one names it (``project_id=viewer.project or None``) or leaves it to this hook:

- a study's trial, a resumed, promoted or forked run of the same author: the project of its
  study or parent (a fork of someone else's run goes to the forker's own project);
- a new version of a saved pipeline: the project of the versions before it;
- anything else: its author's "Default" project, created on first use.

A project named explicitly must be one where the author may create (``member`` or ``admin``);
otherwise the flush fails with a :class:`~core.errors.PermissionDeniedError` and nothing is
written. With accounts off the one local user may create anywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.store._access import ROLES
from core.store._models import AlertRule
from core.store._models import Dataset
from core.store._models import Pipeline
from core.store._models import Project
from core.store._models import ProjectMember
from core.store._models import Report
from core.store._models import Run
from core.store._models import Study
from core.store._models import TeamMember
from core.store._models import new_id
from core.store._models import utcnow

__all__ = ["DEFAULT_PROJECT", "default_project", "install_project_hook", "role_of"]

DEFAULT_PROJECT = "Default"
_ITEMS = (Dataset, Pipeline, Run, Study, Report, AlertRule)


def default_project(session: Session, user: str) -> str:
    """The ID of ``user``'s "Default" project, created (with ``user`` its admin) if missing or in
    the trash."""
    found = session.scalar(
        select(Project.id)
        .where(
            Project.owner_user == user,
            Project.owner_team == "",
            Project.name == DEFAULT_PROJECT,
            Project.deleted_at.is_(None),
        )
        .order_by(Project.created_at)
        .limit(1)
    )
    if found is not None:
        return found
    project = Project(id=new_id(), name=DEFAULT_PROJECT, owner_user=user, owner_team="", created_at=utcnow())
    session.add(project)
    if user:
        session.add(ProjectMember(project_id=project.id, user=user, role="admin"))
    return project.id


def role_of(session: Session, project_id: str, user: str) -> str | None:
    """``user``'s role in project ``project_id``: their member row, else the owning team's role
    for its members, else None (also for a project in the trash or a missing one)."""
    project = session.get(Project, project_id)
    if project is None or project.deleted_at is not None or not user:
        return None
    row = session.get(ProjectMember, (project_id, user))
    if row is not None:
        return row.role
    if project.owner_team and session.get(TeamMember, (project.owner_team, user)) is not None:
        return project.team_role
    return None


def _inherited(session: Session, obj: Any) -> str | None:
    if isinstance(obj, Run):
        # A trial, a resume or a promotion stays in its study's or parent's project; someone
        # else's fork goes into the forker's own (they may hold no role in the source's).
        for model, key in ((Study, obj.study_id), (Run, obj.parent_id)):
            if key:
                row = session.execute(select(model.project_id, model.author).where(model.id == key)).first()
                if row is not None and row[0] and (row[1] == obj.author or not obj.author):
                    return str(row[0])
    if isinstance(obj, AlertRule) and obj.target_id:
        model = Study if obj.target_kind == "study" else Run
        found = session.scalar(select(model.project_id).where(model.id == obj.target_id))
        if found:
            return str(found)
    if isinstance(obj, Pipeline):
        found = session.scalar(
            select(Pipeline.project_id)
            .where(Pipeline.name == obj.name, Pipeline.author == obj.author, Pipeline.project_id.is_not(None))
            .order_by(Pipeline.version.desc())
            .limit(1)
        )
        if found:
            return str(found)
    return None


def _check_may_create(session: Session, project_id: str, author: str) -> None:
    role = role_of(session, project_id, author)
    if role is None:
        project = session.get(Project, project_id)
        if project is None or project.deleted_at is not None:
            raise NotFoundError(
                f"No project with ID {project_id[:64]!r}. It may have been deleted, or it is not shared "
                "with you; pick one in the sidebar."
            )
    if role is None or ROLES.index(role) < ROLES.index("member"):
        raise PermissionDeniedError(
            f"You are {'a ' + role if role else 'not a member'} in this project, so you cannot add to it. "
            "Ask one of its admins to make you a member, or pick another project in the sidebar."
        )


def _assign(session: Session, _context: Any, _instances: Any) -> None:
    with session.no_autoflush:
        for obj in list(session.new):
            if not isinstance(obj, _ITEMS):
                continue
            author = obj.author or ""
            if obj.project_id is None:
                obj.project_id = _inherited(session, obj) or default_project(session, author)
            elif session.info.get("check_roles") and author:
                _check_may_create(session, obj.project_id, author)


def install_project_hook(sessions: sessionmaker[Session], *, check_roles: bool) -> None:
    """Assigns and checks the project of every new item flushed by ``sessions``.

    Args:
        sessions: The store's session factory.
        check_roles: Whether an explicit project must be one where the author may create
            (accounts on); with accounts off the local user may create anywhere.
    """
    sessions.configure(info={"check_roles": check_roles})
    event.listen(sessions, "before_flush", _assign)
