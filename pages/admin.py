"""Admin: what fills the disk, per user, team and project (the table `python -m core du` prints).

With accounts off the local user sees it; with accounts on, for now, anyone signed in does (no
admin role yet). A share-link visitor does not.
"""

import streamlit as st

from core.errors import AppError
from core.formatting import human_bytes
from core.ops import KINDS
from core.ops import disk_use
from pages import _ui

st.title("Admin")
store = _ui.store()
who = _ui.viewer()
try:
    who.require_create()
except AppError as exc:
    _ui.fail(exc)

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
