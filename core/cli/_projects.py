"""``projects``: list, create, members and roles, rename, delete to the trash and restore, move
items between projects; and ``--project REF``, the project another command works in."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli._common import err
from core.cli._common import out
from core.cli._common import table
from core.errors import NotFoundError
from core.errors import PermissionDeniedError

# What a project holds, in the order `delete` names it (keys of core.sharing.project_contents).
_HELD = ("dataset", "pipeline", "run", "study", "report")
_PLURAL = {
    "dataset": "datasets",
    "pipeline": "pipelines",
    "run": "runs",
    "study": "studies",
    "report": "reports",
}


_PROJECT = "its ID, owner/name (a user or team) or a name only one of your projects has"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``projects`` command group, each action with ``--as`` (accounts on)."""
    projects = sub.add_parser(
        "projects", parents=[common], help="list, create and manage projects, their members and roles"
    )
    actions = projects.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, parents=[common], help=help)
        parser.add_argument("--as", dest="acting_as", default=None, help="the user (accounts on)")
        return parser

    listing = action("list", "the projects you hold a role in, with your role")
    listing.add_argument("--trash", action="store_true", help="the projects in the trash you may restore")
    create = action("create", "a new project of yours (or of --team), with you its admin")
    create.add_argument("name")
    create.add_argument("--team", default="", help="a team of yours that owns it (default: you)")
    action("members", "who holds which role in a project").add_argument(
        "project", metavar="PROJECT", help=_PROJECT
    )
    role = action("role", "give a user a role in a project, or remove theirs (none); admins only")
    role.add_argument("project", metavar="PROJECT", help=_PROJECT)
    role.add_argument("user")
    role.add_argument("role", choices=["viewer", "member", "admin", "none"])
    team_role = action("team-role", "the role its team's members hold in a team's project (admins)")
    team_role.add_argument("project", metavar="PROJECT", help=_PROJECT)
    team_role.add_argument("role", choices=["viewer", "member"])
    rename = action("rename", "rename a project (admins)")
    rename.add_argument("project", metavar="PROJECT", help=_PROJECT)
    rename.add_argument("name")
    delete = action("delete", "put a project and everything in it in the trash (admins)")
    delete.add_argument("project", metavar="PROJECT", help=_PROJECT)
    delete.add_argument("--yes", action="store_true", help="yes, put it in the trash with what it holds")
    restore = action("restore", "take a project out of the trash (its admins)")
    restore.add_argument(
        "project", metavar="PROJECT", help="its ID, owner/name or name, as `list --trash` shows"
    )
    move = action("move", "move a dataset, pipeline, run, study or report to another project")
    move.add_argument("kind", choices=list(_HELD))
    move.add_argument("id", metavar="ID")
    move.add_argument("project", metavar="PROJECT", help=_PROJECT)


def _ref(label: str) -> str:
    """How the CLI names a project: ``owner/name``, as ``--project`` accepts it."""
    return label.replace(" / ", "/")


def resolve(store, ref: str, viewer) -> str:  # type: ignore[no-untyped-def]
    """The ID of the viewer's project ``ref`` names (:func:`core.sharing.resolve_project`), its
    error pointing at this CLI's commands rather than the app's pages."""
    from core import sharing

    try:
        return sharing.resolve_project(store, ref, viewer=viewer)
    except NotFoundError as exc:
        text = str(exc).replace(
            "Create one on the Projects page.", "Create one: python -m core projects create NAME"
        )
        raise NotFoundError(text) from exc


def viewer_in_project(store, viewer, ref: str, *, create: bool):  # type: ignore[no-untyped-def]
    """``viewer`` working in the project ``ref`` names (``--project``): lists show it alone, what
    is created goes into it. Unchanged when ``ref`` is empty (lists: every project; creations:
    the user's "Default").

    Raises:
        NotFoundError: No such project of the viewer's, or an ambiguous name (candidates listed).
        PermissionDeniedError: ``create`` and the viewer only views that project; raised before a
            cluster starts or anything is written.
    """
    if not ref:
        return viewer
    from core import sharing

    project_id = resolve(store, ref, viewer)
    if create:
        info = sharing.get_project(store, project_id, viewer=viewer)
        if not info.may("member"):
            raise PermissionDeniedError(
                f"You are a {info.role} of project {_ref(info.label)}; only its members and admins add to "
                f"it. Ask one of its admins (python -m core projects members {_ref(info.label)}) or pick "
                "another project."
            )
    return viewer.in_project(project_id)


def _held(counts: dict[str, int]) -> str:
    parts = [f"{counts.get(k, 0)} {k if counts.get(k, 0) == 1 else _PLURAL[k]}" for k in _HELD]
    live = counts.get("live runs", 0)
    if live:
        parts[2] += f" ({live} live)"
    return ", ".join(parts)


def _trashed(store, ref: str, viewer) -> Any:  # type: ignore[no-untyped-def]
    """The project in the trash that ``ref`` names (ID, owner/name or a unique name)."""
    from core import sharing

    found = sharing.list_projects(store, viewer=viewer, trashed=True)
    key = ref.strip().lower()
    for match in (
        [p for p in found if p.id == key],
        [p for p in found if _ref(p.label).lower() == key.replace(" / ", "/")],
        [p for p in found if p.name.lower() == key],
    ):
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            raise NotFoundError(
                f"{len(match)} projects in the trash are named {ref[:100]!r}: say which by ID, one of "
                + ", ".join(f"{p.id} ({_ref(p.label)})" for p in match)
                + "."
            )
    listed = ", ".join(_ref(p.label) for p in found[:20]) or "none"
    raise NotFoundError(
        f"No project {ref[:100]!r} in the trash that you may restore. In the trash: {listed} "
        "(python -m core projects list --trash)."
    )


def manage(store, config, args) -> int:  # type: ignore[no-untyped-def]
    """Runs one ``projects`` action for the acting user (``--as`` with accounts on, else the
    local user)."""
    from core import sharing
    from core.cli._accounts import viewer_for

    viewer = viewer_for(store, config, args.acting_as)
    if args.action == "list":
        return _list(store, viewer, args.trash)
    if args.action == "create":
        project_id = sharing.create_project(store, args.name, viewer=viewer, team=args.team)
        info = sharing.get_project(store, project_id, viewer=viewer)
        out(f"project {project_id}: {_ref(info.label)} (you are its admin)")
        return 0
    if args.action == "restore":
        info = _trashed(store, args.project, viewer)
        sharing.restore_project(store, info.id, viewer=viewer)
        out(f"project {_ref(info.label)} restored, with everything in it")
        return 0
    project_id = resolve(store, args.project, viewer)
    info = sharing.get_project(store, project_id, viewer=viewer)
    name = _ref(info.label)
    if args.action == "members":
        rows = [["user", "role", "from"]]
        for member in sharing.project_members(store, project_id, viewer=viewer):
            rows.append(
                [member.user, member.role, f"team {info.owner_team}" if member.source == "team" else "named"]
            )
        for line in table(rows):
            out(line)
    elif args.action == "role":
        sharing.set_project_role(
            store, project_id, args.user, "" if args.role == "none" else args.role, viewer=viewer
        )
        user = args.user.strip().lower()
        if args.role != "none":
            out(f"{user} is a{'n' if args.role == 'admin' else ''} {args.role} of project {name}")
        elif info.owner_team:
            out(
                f"{user}'s own role in project {name} removed (members of team {info.owner_team} hold "
                f"its team role, {info.team_role})"
            )
        else:
            out(f"{user} no longer has a role in project {name}")
    elif args.action == "team-role":
        sharing.set_team_role(store, project_id, args.role, viewer=viewer)
        out(f"members of team {info.owner_team} are {args.role}s of project {name} unless named otherwise")
    elif args.action == "rename":
        sharing.rename_project(store, project_id, args.name, viewer=viewer)
        renamed = sharing.get_project(store, project_id, viewer=viewer)
        out(f"project {name} is now {_ref(renamed.label)}")
    elif args.action == "delete":
        return _delete(store, viewer, info, args.yes)
    else:
        sharing.move_to_project(store, args.kind, args.id, project_id, viewer=viewer)
        out(f"{args.kind} {args.id} is now in project {name}")
    return 0


def _list(store, viewer, trash: bool) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    found = sharing.list_projects(store, viewer=viewer, trashed=trash)
    if not found:
        out("no projects in the trash that you may restore" if trash else "no projects")
        return 0
    rows = [["id", "project", "role", *(["deleted", "by"] if trash else [])]]
    for p in found:
        deleted = p.deleted_at.strftime("%Y-%m-%d %H:%M") if p.deleted_at else "-"
        rows.append([p.id, _ref(p.label), p.role, *([deleted, p.deleted_by or "-"] if trash else [])])
    for line in table(rows):
        out(line)
    return 0


def _delete(store, viewer, info, yes: bool) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    name = _ref(info.label)
    if not info.may("admin"):  # before listing what it holds, as if it could go
        raise PermissionDeniedError(
            f"You are a {info.role} of project {name}; only an admin can delete it. Ask one of its admins."
        )
    if not yes:
        counts = sharing.project_contents(store, info.id, viewer=viewer)
        out(f"project {name} holds {_held(counts)}")
        err(
            f"error: deleting puts project {name} and all it holds in the trash (live runs are asked to "
            f"stop; an admin can restore it); say so with --yes: python -m core projects delete {info.id} "
            "--yes"
        )
        return 2
    held = sharing.delete_project(store, info.id, viewer=viewer)
    out(f"project {name} is in the trash with {_held(held)}")
    out(f"restore it with: python -m core projects restore {info.id}")
    return 0
