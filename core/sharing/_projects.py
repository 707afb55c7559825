"""Projects: how a team's work is organised, and who may do what in it.

Every dataset, pipeline, run, study, report and alert rule belongs to one project; a project
belongs to a user or to a team. Roles per project:

- ``viewer``: read everything in it, and note;
- ``member``: also create, fork and launch in it;
- ``admin``: also change or delete anything in it, manage its members and settings, delete it.

A team's project gives every member of the team its ``team_role`` (``member`` unless an admin
changes it); a member row for a person overrides it, either way. Whoever creates a project is
its first admin, and a project always keeps one: removing or demoting its last admin is
refused. A deleted project goes to the trash with everything in it (hidden from every list and
link, its live runs stopped) until an admin restores it.

The rule itself is written once, in the store's access layer (``core.store``): these functions
only change projects and their members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.store import ROLES
from core.store import AlertRule
from core.store import Dataset
from core.store import Pipeline
from core.store import Project
from core.store import ProjectMember
from core.store import Report
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import TeamMember
from core.store import User
from core.store import Viewer
from core.store import audit
from core.store import default_project
from core.store import fetch_owned
from core.store import projects_with_role
from core.store import role_of
from core.store import utcnow

__all__ = [
    "ITEM_KINDS",
    "MemberInfo",
    "ProjectInfo",
    "create_project",
    "delete_project",
    "get_project",
    "list_projects",
    "move_to_project",
    "my_default_project",
    "project_contents",
    "project_members",
    "rename_project",
    "resolve_project",
    "restore_project",
    "set_project_role",
    "set_team_role",
]

ITEM_KINDS: dict[str, Any] = {
    "dataset": Dataset,
    "pipeline": Pipeline,
    "run": Run,
    "study": Study,
    "report": Report,
}
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_LIVE = ("queued", "running", "paused")


@dataclass(frozen=True)
class ProjectInfo:
    """A project as one viewer sees it.

    Attributes:
        role: The viewer's role in it ("admin" for a viewer who sees everything).
    """

    id: str
    name: str
    owner_user: str
    owner_team: str
    team_role: str
    role: str
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str = ""

    @property
    def owner(self) -> str:
        """Who it belongs to: "team vision" or "alice"."""
        return f"team {self.owner_team}" if self.owner_team else (self.owner_user or "Loom")

    @property
    def label(self) -> str:
        """How lists and the sidebar name it: "vision / Images", "alice / Default"."""
        return f"{self.owner_team or self.owner_user or 'Loom'} / {self.name}"

    def may(self, role: str) -> bool:
        """Whether the viewer's role is ``role`` or stronger."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def purge_after(self, days: float) -> datetime | None:
        """When a project in the trash is purged with everything in it, keeping it ``days`` days
        (as core.ops' ``TrashItem.purge_after``); None for one not in the trash."""
        return None if self.deleted_at is None else self.deleted_at + timedelta(days=days)


@dataclass(frozen=True)
class MemberInfo:
    """One person's role in a project, and where it comes from ("member" row or "team")."""

    user: str
    role: str
    source: str


def _not_found(project_id: str) -> NotFoundError:
    return NotFoundError(
        f"No project with ID {str(project_id)[:64]!r}. It may have been deleted, or you are not a member; "
        "pick one in the sidebar."
    )


def _role(session: Session, project: Project, viewer: Viewer) -> str | None:
    if viewer.everything:
        return "admin"
    return role_of(session, project.id, viewer.name)


def _info(project: Project, role: str) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        name=project.name,
        owner_user=project.owner_user,
        owner_team=project.owner_team,
        team_role=project.team_role,
        role=role,
        created_at=project.created_at,
        deleted_at=project.deleted_at,
        deleted_by=project.deleted_by,
    )


def _fetch(session: Session, project_id: str, viewer: Viewer, need: str, action: str) -> Project:
    """The live project, if ``viewer`` holds ``need`` in it.

    Raises:
        NotFoundError: Missing, in the trash, or the viewer holds no role in it (the same answer).
        PermissionDeniedError: The viewer's role is weaker than ``need``.
    """
    project = session.get(Project, str(project_id)[:32])
    role = _role(session, project, viewer) if project is not None and project.deleted_at is None else None
    if project is None or role is None:
        raise _not_found(project_id)
    if ROLES.index(role) < ROLES.index(need):
        raise PermissionDeniedError(
            f"You are a {role} of project {project.name!r}; only "
            f"{'an admin' if need == 'admin' else 'a member'} can {action}. Ask one of its admins."
        )
    return project


def _check_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not _NAME.match(name):
        raise SpecError(f"A project's name must be 1 to 100 printable characters, but got {name[:120]!r}.")
    return name


def _check_unique(session: Session, name: str, owner_user: str, owner_team: str, but: str = "") -> None:
    taken = session.scalar(
        select(Project.id).where(
            func.lower(Project.name) == name.lower(),
            Project.owner_user == owner_user,
            Project.owner_team == owner_team,
            Project.deleted_at.is_(None),
            Project.id != but,
        )
    )
    if taken is not None:
        owner = f"team {owner_team}" if owner_team else owner_user
        raise SpecError(f"{owner} already has a project named {name!r}. Pick another name.")


def my_default_project(store: Store, *, viewer: Viewer) -> str:
    """The ID of the viewer's "Default" project (created if they have none)."""
    with store.session(viewer) as s:
        return default_project(s, viewer.name)


def list_projects(store: Store, *, viewer: Viewer, trashed: bool = False) -> list[ProjectInfo]:
    """The projects ``viewer`` holds a role in (every one for a viewer who sees everything), the
    viewer's own first, then by owner and name. The viewer's "Default" project is created if
    they have none, so a signed-in user always has somewhere to work.

    Args:
        trashed: The projects in the trash that the viewer may restore (admins) instead.
            Defaults to False.
    """
    with store.session(viewer) as s:
        if viewer.name and not trashed:
            default_project(s, viewer.name)
            s.flush()
        if trashed:
            rows = s.scalars(select(Project).where(Project.deleted_at.is_not(None))).all()
            found = [_info(p, r) for p in rows if (r := _trashed_role(s, p, viewer)) == "admin"]
        else:
            rows = s.scalars(select(Project).where(Project.id.in_(projects_with_role(viewer)))).all()
            # Two queries whatever the number of projects (the sidebar lists them on every page).
            named = dict(
                s.execute(
                    select(ProjectMember.project_id, ProjectMember.role).where(
                        ProjectMember.user == viewer.name
                    )
                ).all()
            )
            found = [_info(p, _listed_role(p, viewer, named)) for p in rows]
    mine = viewer.name
    return sorted(found, key=lambda p: (p.owner_user != mine or bool(p.owner_team), p.label.lower()))


def _listed_role(project: Project, viewer: Viewer, named: dict[str, str]) -> str:
    if viewer.everything:
        return "admin"
    if project.id in named:
        return named[project.id]
    return project.team_role if project.owner_team in viewer.teams else "viewer"


def _trashed_role(session: Session, project: Project, viewer: Viewer) -> str | None:
    if viewer.everything:
        return "admin"
    row = session.get(ProjectMember, (project.id, viewer.name))
    return row.role if row is not None else None


def resolve_project(store: Store, ref: str, *, viewer: Viewer) -> str:
    """The ID of the project ``ref`` names among the viewer's: its ID, ``owner/name`` (a user or
    a team), or a name only one of them has. What the CLI's ``--project`` and ``core.track``'s
    ``project=`` accept.

    Raises:
        NotFoundError: No such project of the viewer's, or the name is ambiguous (the message
            lists the candidates as ``owner/name``).
    """
    ref = str(ref).strip()
    found = list_projects(store, viewer=viewer)
    by_id = [p for p in found if p.id == ref.lower()]
    by_label = [
        p for p in found if p.label.lower() == " / ".join(x.strip() for x in ref.split("/", 1)).lower()
    ]
    by_name = [p for p in found if p.name.lower() == ref.lower()]
    for match in (by_id, by_label, by_name):
        if len(match) == 1:
            return match[0].id
    if len(by_name) > 1:
        raise NotFoundError(
            f"{len(by_name)} of your projects are named {ref[:100]!r}: say which with owner/name, one of "
            + ", ".join(p.label.replace(" / ", "/") for p in by_name)
            + "."
        )
    raise NotFoundError(
        f"You have no project {ref[:100]!r}. Yours: "
        + ", ".join(p.label.replace(" / ", "/") for p in found[:20])
        + ". Create one on the Projects page."
    )


def get_project(store: Store, project_id: str, *, viewer: Viewer) -> ProjectInfo:
    """One live project the viewer holds a role in.

    Raises:
        NotFoundError: Missing, in the trash, or not theirs to see (the same answer).
    """
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "viewer", "read it")
        return _info(project, _role(s, project, viewer) or "viewer")


def create_project(store: Store, name: str, *, viewer: Viewer, team: str = "") -> str:
    """A new project of the viewer's, or of ``team`` (one of the viewer's teams), with the viewer
    its admin.

    Raises:
        PermissionDeniedError: Not signed in, or ``team`` is not one of the viewer's.
        SpecError: A bad name, or the owner has a project of that name already.
    """
    viewer.require_create(team)
    name = _check_name(name)
    owner_user = "" if team else viewer.name
    with store.session(viewer) as s:
        _check_unique(s, name, owner_user, team)
        project = Project(name=name, owner_user=owner_user, owner_team=team, team_role="member")
        s.add(project)
        s.flush()
        if viewer.name:
            s.add(ProjectMember(project_id=project.id, user=viewer.name, role="admin"))
        audit(s, viewer.name, "project.create", "project", project.id, {"name": name, "team": team})
        return project.id


def rename_project(store: Store, project_id: str, name: str, *, viewer: Viewer) -> None:
    """Renames a project (admins)."""
    name = _check_name(name)
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "admin", "rename it")
        _check_unique(s, name, project.owner_user, project.owner_team, but=project.id)
        audit(s, viewer.name, "project.rename", "project", project.id, {"from": project.name, "to": name})
        project.name = name


def set_team_role(store: Store, project_id: str, role: str, *, viewer: Viewer) -> None:
    """The role every member of a team's project holds unless a member row says otherwise
    (admins). ``admin`` is refused: admins are named one by one."""
    if role not in ("viewer", "member"):
        raise SpecError(f"A team's role in its project must be 'viewer' or 'member', but got {role[:20]!r}.")
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "admin", "change its settings")
        if not project.owner_team:
            raise SpecError(f"Project {project.name!r} belongs to {project.owner_user}, not to a team.")
        project.team_role = role
        audit(s, viewer.name, "project.team_role", "project", project.id, {"role": role})


def project_members(store: Store, project_id: str, *, viewer: Viewer) -> list[MemberInfo]:
    """Who holds which role in a project: its member rows, then the owning team's other members."""
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "viewer", "see its members")
        rows = s.scalars(select(ProjectMember).where(ProjectMember.project_id == project.id)).all()
        found = [MemberInfo(r.user, r.role, "member") for r in rows]
        if project.owner_team:
            named = {r.user for r in rows}
            team = s.scalars(
                select(TeamMember.user).where(TeamMember.team == project.owner_team).order_by(TeamMember.user)
            ).all()
            found += [MemberInfo(u, project.team_role, "team") for u in team if u not in named]
    order = {r: i for i, r in enumerate(reversed(ROLES))}
    return sorted(found, key=lambda m: (m.source != "member", order[m.role], m.user))


def set_project_role(store: Store, project_id: str, user: str, role: str, *, viewer: Viewer) -> None:
    """Gives ``user`` ``role`` in a project, or removes their member row (``role=""``; a member of
    the owning team then keeps the team's role). Admins only.

    Raises:
        PermissionDeniedError: The viewer is not an admin of it.
        SpecError: An unknown role or user, or the change would leave the project without an admin.
    """
    if role not in ("", *ROLES):
        raise SpecError(f"A role must be one of {', '.join(ROLES)}, but got {role[:20]!r}.")
    user = str(user).strip().lower()[:100]
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "admin", "manage its members")
        if role and store.config.auth and s.get(User, user) is None:
            raise SpecError(f"No user named {user!r}. Create the account first (python -m core users add).")
        row = s.get(ProjectMember, (project.id, user))
        if row is not None and row.role == "admin" and role != "admin":
            admins = s.scalar(
                select(func.count())
                .select_from(ProjectMember)
                .where(ProjectMember.project_id == project.id, ProjectMember.role == "admin")
            )
            if (admins or 0) <= 1:
                raise SpecError(
                    f"{user} is the last admin of project {project.name!r}; a project needs one. "
                    "Make someone else admin first."
                )
        if not role:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(ProjectMember(project_id=project.id, user=user, role=role))
        else:
            row.role = role
        audit(s, viewer.name, "project.role", "project", project.id, {"user": user, "role": role})


def project_contents(store: Store, project_id: str, *, viewer: Viewer) -> dict[str, int]:
    """How many datasets, pipelines, runs, studies and reports a project holds, and how many of
    its runs are live: what deleting it would put in the trash."""
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "viewer", "read it")
        found = {
            kind: s.scalar(select(func.count()).select_from(model).where(model.project_id == project.id)) or 0
            for kind, model in ITEM_KINDS.items()
        }
        found["live runs"] = (
            s.scalar(
                select(func.count())
                .select_from(Run)
                .where(Run.project_id == project.id, Run.status.in_(_LIVE))
            )
            or 0
        )
        return found


def delete_project(store: Store, project_id: str, *, viewer: Viewer) -> dict[str, int]:
    """Puts a project and everything in it in the trash (admins): hidden from every list and
    link until restored; its live runs are asked to stop. Returns what it held."""
    held = project_contents(store, project_id, viewer=viewer)
    with store.session(viewer) as s:
        project = _fetch(s, project_id, viewer, "admin", "delete it")
        project.deleted_at = utcnow()
        project.deleted_by = viewer.name[:100]
        audit(s, viewer.name, "project.delete", "project", project.id, {"name": project.name})
        s.execute(
            update(Run).where(Run.project_id == project.id, Run.status.in_(_LIVE)).values(stop_requested=True)
        )
    return held


def restore_project(store: Store, project_id: str, *, viewer: Viewer) -> None:
    """Takes a project out of the trash (its admins), everything in it as it was."""
    with store.session(viewer) as s:
        project = s.get(Project, str(project_id)[:32])
        if project is None or project.deleted_at is None or _trashed_role(s, project, viewer) != "admin":
            raise _not_found(project_id)
        _check_unique(s, project.name, project.owner_user, project.owner_team, but=project.id)
        project.deleted_at = None
        project.deleted_by = ""
        audit(s, viewer.name, "project.restore", "project", project.id, {"name": project.name})


def _check_may_take_out(session: Session, row: Any, kind: str, viewer: Viewer) -> None:
    # The role held now, not the one held when the item was made: owning it is not enough.
    if viewer.everything or not row.project_id:
        return
    source = session.get(Project, row.project_id)
    role = _role(session, source, viewer) if source is not None else None
    if role is not None and ROLES.index(role) >= ROLES.index("member"):
        return
    where = f"project {source.name!r}" if source is not None else "its project"
    you = f"are a {role}" if role else "are no longer a member"
    raise PermissionDeniedError(
        f"You {you} of {where}, so you cannot move this {kind} out of it: moving needs a member "
        "or admin of both projects. Ask one of its admins to move it, or to make you a member again."
    )


def move_to_project(store: Store, kind: str, item_id: str, project_id: str, *, viewer: Viewer) -> None:
    """Moves a dataset, pipeline (every version of it), run, study (with its trials) or report
    to another project. The mover must be allowed to change the item (its owner, or an admin of
    its project) and to write in both projects now (a member or admin of the source and of the
    target): an owner since demoted to viewer in the item's project may no longer take it out.

    Raises:
        NotFoundError: The item or the project is missing or not visible.
        PermissionDeniedError: The viewer may not change the item, take it out of its project
            or add to the target.
    """
    model = ITEM_KINDS.get(kind)
    if model is None:
        raise SpecError(f"Only {', '.join(ITEM_KINDS)} can move between projects, but got {kind[:20]!r}.")
    with store.session(viewer) as s:
        target = _fetch(s, project_id, viewer, "member", "add to it")
        row = fetch_owned(s, model, item_id, viewer.with_grant(None), "move")
        _check_may_take_out(s, row, kind, viewer)
        audit(s, viewer.name, f"{kind}.move", kind, row.id, {"from": row.project_id, "to": target.id})
        row.project_id = target.id
        # Alert rules follow the run or study they watch.
        s.execute(update(AlertRule).where(AlertRule.target_id == row.id).values(project_id=target.id))
        if model is Study:
            s.execute(update(Run).where(Run.study_id == row.id).values(project_id=target.id))
        if model is Pipeline:
            s.execute(
                update(Pipeline)
                .where(Pipeline.name == row.name, Pipeline.author == row.author)
                .values(project_id=target.id)
            )
