"""Projects: the projects you work in, what each holds, its members and roles, and the trash
(deleted projects, and deleted runs, studies, datasets, pipelines and reports, restorable until
they are purged after LOOM_TRASH_DAYS).

The project chosen in the sidebar (``?project=<id>``) is the one managed here; every other page
lists and creates inside it too. Roles: viewer (read, note), member (also create, fork, launch),
admin (also members, settings, delete). Core checks every change again.
"""

import streamlit as st

from core.errors import AppError
from core.ops import list_trash
from core.ops import restore_item
from core.sharing import create_project
from core.sharing import delete_project
from core.sharing import list_projects
from core.sharing import project_contents
from core.sharing import project_members
from core.sharing import rename_project
from core.sharing import restore_project
from core.sharing import set_project_role
from core.sharing import set_team_role
from pages import _ui

st.title("Projects")
store = _ui.store()
who = _ui.viewer()
if not who.can_create:  # a share link's visitor: nothing of this is theirs
    _ui.not_found("project")

_FLASH = "_loom_projects_flash"
_KINDS = ("runs", "datasets", "pipelines", "studies", "reports")
_SINGULAR = {
    "runs": "run",
    "datasets": "dataset",
    "pipelines": "pipeline",
    "studies": "study",
    "reports": "report",
}
_NAMES = {
    "run": "runs",
    "dataset": "datasets",
    "pipeline": "pipelines",
    "study": "studies",
    "report": "reports",
}


def _held(counts: dict[str, int]) -> dict[str, int]:
    """``project_contents``'s counts by plural name ("runs", "live runs")."""
    return {_NAMES.get(k, k): v for k, v in counts.items()}


def _holds(counts: dict[str, int]) -> str:
    """ "holds 12 runs, 3 datasets" (or "is empty"), plus the live runs a delete would stop."""
    parts = [f"{n:,} {k if n != 1 else _SINGULAR[k]}" for k in _KINDS if (n := counts.get(k, 0))]
    text = "holds " + ", ".join(parts) if parts else "is empty"
    live = counts.get("live runs", 0)
    if live:
        text += f"; {live} live run{'s' if live != 1 else ''} will be stopped"
    return text


def _go_to(project_id: str, message: str) -> None:
    """Work in ``project_id`` from now on ("" all), say ``message`` after the rerun."""
    st.session_state[_FLASH] = message
    _ui.work_in(project_id)
    st.rerun()


def _done(action, message: str) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except AppError as exc:
        _ui.error(exc)
    else:
        st.session_state[_FLASH] = message
        st.rerun()


if flash := st.session_state.pop(_FLASH, None):
    st.success(_ui.md_escape_message(flash), icon="✅")

projects = _ui.my_projects()
st.caption(
    "Every dataset, pipeline, run, study and report belongs to one project. The project chosen in "
    "the sidebar is the one every page lists and adds to; pick it there to manage it here."
)

# --- my projects ---------------------------------------------------------------------------
rows = []
for p in projects[:100]:
    try:
        counts = _held(project_contents(store, p.id, viewer=who))
    except AppError:  # deleted a moment ago
        continue
    rows.append(
        {
            "Project": p.label,
            "Owner": p.owner,
            "Your role": p.role,
            **{k.capitalize(): counts.get(k, 0) for k in _KINDS},
            "Live runs": counts.get("live runs", 0),
        }
    )
st.subheader("Your projects")
st.markdown(_ui.md_table(rows) if rows else "No projects yet: create one below.")

with st.expander("Create a project", expanded=not projects):
    with st.form("create_project", border=False):
        c1, c2 = st.columns([2, 1])
        name = c1.text_input("Name", max_chars=100, key="project_name")
        owners = ["", *who.teams] if who.signed_in else [""]
        owner = c2.selectbox(
            "Owner",
            owners,
            format_func=lambda t: f"team {t}" if t else "me",
            key="project_owner",
            help="A team's project gives every member of the team a role in it (member unless "
            "an admin changes it).",
        )
        create = st.form_submit_button("Create project", type="primary", key="project_create")
    if create:
        if not name.strip():
            st.warning("Please give the project a name.")
        else:
            try:
                new_id = create_project(store, name, viewer=who, team=owner)
            except AppError as exc:
                _ui.error(exc)
            else:
                _go_to(new_id, f"Created project {name.strip()}; you are its admin, and you now work in it.")

# --- the project chosen in the sidebar ------------------------------------------------------
current = next((p for p in projects if p.id == who.project), None)
if current is None:
    st.info("Pick a project in the sidebar to see its members and settings.", icon=":material/arrow_back:")
else:
    st.subheader(f"Project {_ui.md_escape(current.label)}")
    admin = current.may("admin")
    st.caption(f"Owner: {_ui.md_escape(current.owner)} · your role: **{current.role}**")
    try:
        members = project_members(store, current.id, viewer=who)
    except AppError as exc:
        _ui.fail(exc)
    st.markdown(
        _ui.md_table(
            [
                {
                    "User": m.user,
                    "Role": m.role,
                    "From": "named" if m.source == "member" else f"team {current.owner_team}",
                }
                for m in members
            ]
        )
        or "No members."
    )
    if admin:
        with st.form("project_member", border=False):
            c1, c2 = st.columns([2, 1])
            user = c1.text_input("User", max_chars=100, key="member_user", placeholder="a user name")
            role = c2.selectbox(
                "Role",
                ["viewer", "member", "admin", ""],
                index=1,
                format_func=lambda r: r or "remove (a team member keeps the team's role)",
                key="member_role",
            )
            changed = st.form_submit_button("Set role", key="member_set")
        if changed:
            if not user.strip():
                st.warning("Please enter a user name.")
            else:
                _done(
                    lambda: set_project_role(store, current.id, user, role, viewer=who),
                    f"{user.strip()} is now {'a ' + role if role else 'no longer a named member'} "
                    f"in {current.label}.",
                )
        if current.owner_team:
            with st.form("project_team_role", border=False):
                c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
                team_role = c1.selectbox(
                    f"Role of every member of team {_ui.md_escape(current.owner_team)} (unless named above)",
                    ["viewer", "member"],
                    index=["viewer", "member"].index(current.team_role),
                    key="team_role",
                )
                apply = c2.form_submit_button("Apply", key="team_role_apply")
            if apply:
                _done(
                    lambda: set_team_role(store, current.id, team_role, viewer=who),
                    f"Team {current.owner_team}'s role in {current.label} is now {team_role}.",
                )
        with st.form("project_rename_form", border=False):
            c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
            new_name = c1.text_input("Name", value=current.name, max_chars=100, key="project_rename")
            rename = c2.form_submit_button("Rename", key="project_rename_apply")
        if rename:
            _done(
                lambda: rename_project(store, current.id, new_name, viewer=who),
                f"Renamed the project to {new_name.strip()}.",
            )
        with st.expander("Delete this project"):
            try:
                counts = _held(project_contents(store, current.id, viewer=who))
            except AppError as exc:
                _ui.fail(exc)
            st.warning(
                f"{_ui.md_escape(current.label)} {_holds(counts)}. Deleting it puts it in the trash with "
                "everything in it: hidden from every list and link until an admin restores it, and "
                f"purged with its files after {_ui.config().trash_days:g} days.",
                icon=":material/delete:",
            )
            sure = st.checkbox("Yes, put this project in the trash", key="project_delete_sure")
            if st.button("Delete project", type="primary", disabled=not sure, key="project_delete"):
                try:
                    held = _held(delete_project(store, current.id, viewer=who))
                except AppError as exc:
                    _ui.error(exc)
                else:
                    _go_to("", f"Moved {current.label} to the trash (it {_holds(held)}). Restore it below.")
    else:
        st.caption(
            f"You are a {current.role} here: only its admins change members or settings, or delete it. "
            "Ask one of them."
        )

# --- the trash ------------------------------------------------------------------------------
trashed = list_projects(store, viewer=who, trashed=True)
st.subheader("Trash")
if not trashed:
    st.caption("No deleted projects you can restore.")
for p in trashed:
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    when = f"{p.deleted_at:%Y-%m-%d %H:%M}" if p.deleted_at else ""
    purged_on = p.purge_after(_ui.config().trash_days)
    purge = f" · purged with everything in it after {purged_on:%Y-%m-%d}" if purged_on else ""
    by = f" by {p.deleted_by}" if p.deleted_by else ""
    c1.markdown(f"**{_ui.md_escape(p.label)}** · deleted {when}{_ui.md_escape(by)}{purge}")
    if c2.button("Restore", key=f"restore_{p.id}"):
        try:
            restore_project(store, p.id, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            _go_to(p.id, f"Restored {p.label}, with everything in it; you now work in it.")

deleted = list_trash(store, viewer=who)
days = _ui.config().trash_days
st.markdown("**Deleted items**")
if not deleted:
    st.caption(f"No deleted runs, studies, datasets, pipelines or reports you can restore ({days:g} days).")
else:
    st.caption(
        f"Deleted runs, studies, datasets, pipelines and reports stay here {days:g} days, then are purged "
        "with their files. A dataset or pipeline version a kept run used is never purged."
    )
for item in deleted[:200]:
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    by = f" by {item.deleted_by}" if item.deleted_by else ""
    purge = f"{item.purge_after(days):%Y-%m-%d}"
    c1.markdown(
        f"{item.kind.capitalize()} **{_ui.md_escape(item.name)}** `{item.id[:8]}` · deleted "
        f"{item.deleted_at:%Y-%m-%d %H:%M}{_ui.md_escape(by)} · purged after {purge}"
    )
    if c2.button("Restore", key=f"restore_{item.kind}_{item.id}"):
        _done(
            lambda item=item: restore_item(store, item.kind, item.id, viewer=who),
            f"Restored {item.kind} {item.name}.",
        )
