"""Admin: what fills the disk, per user, team and project (the table `python -m core du` prints),
team quotas (`python -m core quota`), purging the trash, and the audit log (who did what, when;
`python -m core audit` exports it).

For site admins only: the local user with accounts off, and with accounts on the users an
operator made admin (`python -m core user grant-admin NAME`). Others are told so and see nothing.
"""

from datetime import UTC
from datetime import datetime
from datetime import time

import streamlit as st

from core.errors import AppError
from core.formatting import human_bytes
from core.ops import KINDS
from core.ops import clear_quota
from core.ops import count_audit
from core.ops import disk_use
from core.ops import list_quotas
from core.ops import purge_trash
from core.ops import read_audit
from core.ops import set_quota
from core.sharing import is_site_admin
from core.sharing import list_teams
from core.store import decimal_bytes
from pages import _ui

AUDIT_PAGE = 50
AUDIT_KINDS = [
    "",
    "signin",
    "user",
    "team",
    "project",
    "link",
    "run",
    "dataset",
    "pipeline",
    "study",
    "report",
]

st.title("Admin")
store = _ui.store()
who = _ui.viewer()
try:
    who.require_create()
except AppError as exc:
    _ui.fail(exc)
if not is_site_admin(store, who):
    st.error(
        "The Admin page is for site admins. Ask one, or the operator, to make you one "
        "(`python -m core user grant-admin NAME`).",
        icon="🔒",
    )
    _ui.end_page()


def _purge() -> None:
    """The purge, as its button's callback: done before the page draws, so the disk use below
    already shows what it freed. Its outcome is shown once, under the button."""
    try:
        purged = purge_trash(store, days=st.session_state["purge_days"])
    except AppError as exc:
        st.session_state["purge_outcome"] = exc
    else:
        kept = f"; kept {len(purged.kept)} a kept item still needs" if purged.kept else ""
        st.session_state["purge_outcome"] = (
            f"Purged {len(purged.purged)} item(s), freed {human_bytes(purged.freed_bytes)}{kept}."
        )


st.subheader("Disk use")
st.caption(
    "Datasets, checkpoints, models, predictions and bundles are their files' sizes; metrics are "
    "each one's points times a point's measured size in the database. `python -m core gc` "
    "removes files no row needs; `python -m core backup OUT` backs everything up."
)
try:
    use = disk_use(store)
except AppError as exc:
    _ui.fail(exc)
tabs = st.tabs(["Users", "Teams", "Projects"])
for tab, scope in zip(tabs, ("user", "team", "project"), strict=True):
    with tab:
        rows = [
            {
                scope: row.name,
                **{k: human_bytes(row.bytes[k]) for k in KINDS},
                "total": human_bytes(row.total),
            }
            for row in use.rows
            if row.scope == scope
        ]
        if rows:
            st.dataframe(rows, hide_index=True, key=f"disk_use_{scope}")
        else:
            st.info("Nothing stored yet.")
owned = ", ".join(f"{kind} {human_bytes(size)}" for kind, size in use.unowned.items())
st.markdown(
    f"**Database:** {human_bytes(use.database_bytes)}, {use.metric_rows:,} metric points "
    f"(about {use.metric_row_bytes:.0f} bytes each)."
    + (f" **No owner** (what gc can free): {_ui.md_escape(owned)}." if owned else "")
)


@st.fragment
def _quotas() -> None:
    """Team quotas: saving one reruns only this part (a quota changes no disk use above)."""
    st.subheader("Team quotas")
    st.caption(
        "A team's usage is the bytes of its projects' datasets, runs (models, checkpoints, predictions, "
        "metrics) and bundles. When a team uses all of its quota, uploads and launches into its "
        "projects are refused with the figures. `python -m core quota` does the same."
    )
    teams = list(list_teams(store))
    if teams:
        with st.form("quota_form"):
            left, right = st.columns(2)
            team = left.selectbox("Team", teams, key="quota_team")
            size = right.text_input(
                "Quota", key="quota_size", placeholder="50 GB, 500 MiB; leave empty to clear"
            ).strip()
            if st.form_submit_button("Save quota", key="quota_save"):
                try:
                    if size:
                        quota = set_quota(store, team, size, actor=who.name)
                        st.success(f"Team {team}: quota {decimal_bytes(quota)}.")
                    else:
                        clear_quota(store, team, actor=who.name)
                        st.success(f"Team {team}: no quota.")
                except AppError as exc:
                    _ui.error(exc)
    else:
        st.info("No teams yet: `python -m core team add NAME` makes one.")
    quotas = list_quotas(store)
    if quotas:
        st.dataframe(
            [
                {
                    "team": q.team,
                    "used": decimal_bytes(q.used),
                    "quota": decimal_bytes(q.quota) if q.quota is not None else "none",
                    "used %": f"{q.used / q.quota:.0%}" if q.quota else "",
                    "state": "over: uploads and launches refused" if q.over else "",
                }
                for q in quotas
            ],
            hide_index=True,
            key="quota_table",
        )


_quotas()

st.subheader("Trash")
outcome = st.session_state.pop("purge_outcome", None)
with st.form("purge_form"):  # typing the days reruns nothing
    st.number_input(
        "Purge what was deleted more than N days ago",
        min_value=0.0,
        value=float(store.config.trash_days),
        step=1.0,
        key="purge_days",
    )
    st.form_submit_button("Purge the trash", key="purge_trash", on_click=_purge)
if isinstance(outcome, AppError):
    _ui.error(outcome)
elif outcome:
    st.success(outcome)


@st.fragment
def _audit_log() -> None:
    """The audit log: its filters and pages rerun only this part, not the disk use above."""
    st.subheader("Audit log")
    st.caption(
        "Sign-ins, accounts and teams, projects and their roles, share links, visibility, deletions "
        "and restores: who, what, when. Newest first; `python -m core audit` exports it."
    )
    left, middle, right = st.columns(3)
    actor = left.text_input("Actor", key="audit_actor", placeholder="any user").strip().lower()
    kind = middle.selectbox("Action", AUDIT_KINDS, key="audit_action", format_func=lambda k: k or "any")
    day = right.date_input("On or after", value=None, key="audit_since")
    since = datetime.combine(day, time(), tzinfo=UTC) if day else None
    total = count_audit(store, since=since, actor=actor, action=kind or "")
    pages = max(1, -(-total // AUDIT_PAGE))
    page = int(
        st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key="audit_page")
    )
    entries = read_audit(
        store, since=since, actor=actor, action=kind or "", limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE
    )
    if entries:
        st.dataframe(
            [
                {
                    "when (UTC)": e.ts.astimezone(UTC).replace(microsecond=0, tzinfo=None),
                    "actor": e.actor,
                    "action": e.action,
                    "target": f"{e.target_kind} {e.target_id}".strip(),
                    "detail": ", ".join(f"{k}={v}" for k, v in e.detail.items()),
                    "from": e.ip,
                }
                for e in entries
            ],
            hide_index=True,
            key="audit_table",
        )
        st.caption(f"{total:,} event(s); showing {len(entries)} from #{(page - 1) * AUDIT_PAGE + 1}.")
    else:
        filtered = total == 0 and (actor or kind or since)
        st.info("No audit events match." if filtered else "No audit events yet.")


_audit_log()
