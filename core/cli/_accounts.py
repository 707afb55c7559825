"""``user`` and ``team`` (accounts, LOOM_AUTH=on), and who the other commands act for."""

from __future__ import annotations

import sys

from core.cli._common import err
from core.cli._common import out
from core.errors import SpecError


def _password() -> str:
    """The password from the terminal (hidden) or one line of stdin, never an argument
    (arguments land in shell history and process lists)."""
    import getpass

    return getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")


def manage_users(store, action: str, name: str | None, email: str | None, admin: bool = False) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    if action == "list":
        for user in sharing.list_users(store):
            out(user)
        return 0
    if not name:
        err(f"error: give the user's name: python -m core user {action} NAME")
        return 2
    if action == "add":
        sharing.create_user(store, name, _password(), email=email, admin=admin)
        out(f"user {name.strip().lower()} added" + (" (site admin)" if admin else ""))
    elif action in ("grant-admin", "revoke-admin"):
        sharing.set_admin(store, name, action == "grant-admin")
        out(
            f"{name.strip().lower()} "
            + ("is a site admin" if action == "grant-admin" else "is no longer a site admin")
        )
    elif action == "passwd":
        sharing.set_password(store, name, _password())
        out(f"password of {name.strip().lower()} changed; their sessions ended")
    else:
        sharing.remove_user(store, name)
        out(f"user {name.strip().lower()} removed (what they made stays)")
    return 0


def manage_teams(store, action: str, names: list[str]) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    wanted = {"add": 1, "list": 0, "add-member": 2, "remove-member": 2}[action]
    if len(names) != wanted:
        usage = {"add": "TEAM", "list": "", "add-member": "TEAM USER", "remove-member": "TEAM USER"}[action]
        err(f"error: python -m core team {action} {usage}".rstrip())
        return 2
    if action == "list":
        for team, members in sharing.list_teams(store).items():
            out(f"{team}: {', '.join(members) or '(no members)'}")
    elif action == "add":
        out(f"team {sharing.create_team(store, names[0])} added")
    elif action == "add-member":
        sharing.add_member(store, names[0], names[1])
        out(f"{names[1]} is in team {names[0]}")
    else:
        sharing.remove_member(store, names[0], names[1])
        out(f"{names[1]} left team {names[0]}")
    return 0


def viewer_for(store, config, acting_as: str | None):  # type: ignore[no-untyped-def]
    """Who the CLI acts for: ``--as NAME`` with accounts on, else the local user."""
    from core import sharing
    from core.errors import NotFoundError

    if not config.auth:
        return sharing.local_viewer()
    if not acting_as:
        raise SpecError("Accounts are on (LOOM_AUTH=on): say who this is for with --as NAME.")
    name = acting_as.strip().lower()
    if name not in sharing.list_users(store):
        raise NotFoundError(f"There is no user {name[:40]!r}. Add it with `python -m core user add {name}`.")
    return sharing.viewer_for(store, name)
