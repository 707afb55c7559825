"""Share: open a share link (``?token=``), or list the links you made and revoke them."""

import streamlit as st

from core.errors import NotFoundError
from core.sharing import NOT_FOUND
from core.sharing import link_params
from core.sharing import list_links
from core.sharing import resolve_link
from core.sharing import revoke_link
from pages import _ui

PAGES = {
    "run": "pages/jobs.py",
    "study": "pages/tune.py",
    "compare": "pages/compare.py",
    "report": "pages/reports.py",
}

store = _ui.store()
token = st.query_params.get("token")
if token:  # a share link: opens without signing in, and only the view it names
    try:
        link = resolve_link(store, token)
    except NotFoundError:
        st.title("Shared link")
        st.error(NOT_FOUND, icon="🔍")
        _ui.end_page()
    st.switch_page(PAGES[link.target_kind], query_params=link_params(link, token))

st.title("Share links")
st.caption(
    "Links you made from a run, a study, a comparison or a report. Loom keeps only a hash of each token, so "
    "a lost link cannot be shown again: make a new one."
)
who = _ui.viewer()
links = list_links(store, viewer=who)
if not links:
    st.info("No links yet. Use “Share this view” on a run, a study or a comparison.")
for link in links:
    state = "revoked" if link.revoked else "active"
    expires = f" · expires {link.expires_at:%Y-%m-%d %H:%M}" if link.expires_at else ""
    c1, c2 = st.columns([5, 1])
    c1.markdown(
        f"**{_ui.md_escape(link.label or link.target_kind)}** · {link.target_kind} · {link.permission} · "
        f"{state}{expires} · made {link.created_at:%Y-%m-%d %H:%M}"
    )
    if not link.revoked and c2.button("Revoke", key=f"revoke_{link.token[:16]}"):
        revoke_link(store, link.token, viewer=who)
        st.toast("Revoked: the link now shows “not found”.")
        st.rerun()
