"""The one module shared by pages: cached services and small render helpers.

Only ``app.py``, ``pages/`` and this module import streamlit. What a page shows comes from the
store and the URL's query parameters; ``st.session_state`` holds only widget state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.compute import RunStatus
from core.config import AppConfig
from core.config import get_config
from core.errors import AppError
from core.store import Store
from core.store import open_store

_log = logging.getLogger("loom.ui")


def _leave_legacy_multipage_mode() -> bool:
    """Make a deep link (``/jobs?run=...``) on a fresh server use ``app.py``'s navigation.

    Streamlit starts in its legacy "pages/ directory" mode whenever a ``pages/`` folder sits
    beside the main script, and leaves it only once ``st.navigation`` runs. A first request for a
    page URL never runs ``app.py``, so it would get the legacy sidebar (every file in pages/).
    We switch the flag off here; the first :func:`config` call then reruns, which runs ``app.py``
    and resolves the same URL. Private API (streamlit 1.67 ``PagesManager.uses_pages_directory``):
    guarded, so a rename upstream only brings the legacy sidebar back on first visits, never an
    error. Returns whether a rerun is due.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - moved upstream
        return False
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        return True
    return False


_RERUN_FOR_NAVIGATION = _leave_legacy_multipage_mode()

STATUS_ICONS = {
    RunStatus.QUEUED: ":material/schedule:",
    RunStatus.RUNNING: ":material/directions_run:",
    RunStatus.SUCCEEDED: ":material/check_circle:",
    RunStatus.FAILED: ":material/error:",
    RunStatus.STOPPED: ":material/stop_circle:",
    RunStatus.INTERRUPTED: ":material/warning:",
}


def status_label(status: str) -> str:
    """The status with its icon, for markdown labels (plain-text widgets use the status)."""
    try:
        return f"{STATUS_ICONS[RunStatus(status)]} {status}"
    except ValueError:
        return status


def error(exc: AppError | str) -> None:
    """Show a Loom error. Its text may quote user data (file names, column names, cells), so
    everything outside `code spans` is escaped: no links, images, HTML, LaTeX or icons."""
    st.error(md_escape_message(str(exc)), icon="🚫")


def fail(exc: AppError) -> None:
    """Show a Loom error on the page and in the server log, then stop this script run."""
    _log.error("%s", exc)
    error(exc)
    st.stop()


def config() -> AppConfig:
    global _RERUN_FOR_NAVIGATION
    if _RERUN_FOR_NAVIGATION:
        # Rerun here, not during the import: a rerun raised while this module is imported would
        # leave it half-imported for sessions importing it at the same moment.
        _RERUN_FOR_NAVIGATION = False
        st.rerun()
    try:
        return get_config()
    except AppError as exc:
        fail(exc)
        raise  # unreachable: st.stop() raised


# The config is the cache key: tests and restarts with other settings get their own store.
@st.cache_resource(show_spinner="Opening the store…")
def _store(cfg: AppConfig) -> Store:
    return open_store(cfg)


@dataclass(frozen=True)
class _Compute:
    # A box: a Client is awaitable, which st.cache_resource refuses to cache directly.
    client: Any
    reaper: Any


@st.cache_resource(show_spinner="Starting the Dask cluster…")
def _compute(cfg: AppConfig) -> _Compute:
    from core.compute import Reaper
    from core.compute import create_client

    client = create_client(cfg)
    # One reaper per client: marks runs whose worker died, or whose task the cluster forgot.
    return _Compute(client, Reaper(_store(cfg), client, cfg.heartbeat_timeout).start())


def store() -> Store:
    """The store, or a clear error on the page if it cannot be opened. With accounts on, a
    visitor who is not signed in gets the sign-in form here (every page starts with this)."""
    cfg = config()
    try:
        opened = _store(cfg)
    except AppError as exc:
        fail(exc)
        raise
    _store_reaper(cfg)
    if cfg.auth:
        sign_in_gate()
    return opened


@st.cache_resource(show_spinner=False)
def _store_reaper(cfg: AppConfig):  # type: ignore[no-untyped-def]
    """From the first page view on, runs whose heartbeat stopped are marked ``interrupted`` with
    the reason — also after a restart, before any page needs the cluster (the cluster's own
    reaper adds runs the scheduler forgot)."""
    from core.compute import Reaper

    return Reaper(_store(cfg), None, cfg.heartbeat_timeout).start()


def client():  # type: ignore[no-untyped-def]
    """The Dask client (shared by all sessions), or a clear error on the page."""
    cfg = config()
    store()
    try:
        return _compute(cfg).client
    except AppError as exc:
        fail(exc)
        raise


_MD_SPECIAL = "\\`*_{}[]()<>#+-.!|~$:"


def md_escape(text: str) -> str:
    """User text made inert in Streamlit markdown: no links, images, HTML or formatting."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in str(text))


def md_escape_message(text: str) -> str:
    """Like :func:`md_escape`, but keeps `code spans` (they render literally anyway)."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: no reliable spans, escape it all
        return md_escape(text)
    return "`".join(part if i % 2 else md_escape(part) for i, part in enumerate(parts))


def url_selectbox(
    label: str, param: str, labels: dict[str, str], *, clears: tuple[str, ...] = (), what: str = "item"
) -> str:
    """A selectbox whose choice lives in the URL (``?<param>=<id>``), so reloads and shared
    links show the same thing. The URL is the truth; the widget follows it, and writes it back
    when the user picks another entry (clearing ``clears``, which depend on the choice).

    Args:
        label: The widget's label.
        param: The query parameter.
        labels: ID -> text, in display order; must not be empty.
        clears: Query parameters to drop when the choice changes. Defaults to none.
        what: Named in the warning for a link to an ID that is gone. Defaults to "item".

    Returns:
        The chosen ID.
    """
    ids = list(labels)
    wanted = st.query_params.get(param)
    if wanted not in labels:
        if wanted:
            st.warning(f"The {what} in the link no longer exists. Showing the newest one.")
        wanted = ids[0]
        st.query_params[param] = wanted
    key = f"{param}_select"

    def follow() -> None:
        st.query_params[param] = st.session_state[key]
        for other in clears:
            st.query_params.pop(other, None)

    st.session_state[key] = wanted
    return st.selectbox(label, ids, format_func=labels.__getitem__, key=key, on_change=follow)


def on_cluster(fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)`` computed on the Dask cluster, cached by the function's name and arguments.

    For pure functions of specs and immutable data (a dataset's Parquet never changes under its
    ID): a page's reruns after each widget change then cost nothing on the cluster. Loom errors
    are not cached, so a fixed spec is computed again.
    """
    return _on_cluster(f"{fn.__module__}:{fn.__qualname__}", fn, *args)


# `_fn` is left out of the cache key (Streamlit cannot hash functions); its name stands in.
@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _on_cluster(name: str, _fn, *args):  # type: ignore[no-untyped-def]
    return client().submit(_fn, *args, pure=False).result(timeout=120)


def user() -> str:
    """Who is at the keyboard: the signed-in user when accounts are on (``LOOM_AUTH=on``), else
    ``LOOM_USER`` or the server's account name."""
    import getpass
    import os

    if config().auth:
        return str(st.session_state.get("loom_user", ""))
    try:
        return os.environ.get("LOOM_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "local user"


def visible_author() -> str | None:
    """With accounts on, lists show only the signed-in user's runs (others come by share link)."""
    return user() if config().auth else None


def check_visible(author: str) -> None:
    """Stop with the same not-found as a missing run if accounts are on and this is not yours."""
    from core.sharing import NOT_FOUND

    if config().auth and author != user() and not st.query_params.get("share"):
        st.error(NOT_FOUND, icon="🔍")
        st.stop()


def sign_in_gate() -> None:
    """With accounts on, everyone signs in — except a visitor opening a share link, who sees only
    what the link shows. The session holds the user's name; nothing about it is logged."""
    if not config().auth:
        return
    if st.session_state.get("loom_user"):
        with st.sidebar:
            st.caption(f"Signed in as **{md_escape(st.session_state['loom_user'])}**")
            if st.button("Sign out", key="sign_out"):
                st.session_state.pop("loom_user", None)
                st.rerun()
        return
    if st.query_params.get("share") or st.query_params.get("token"):
        return
    from core.sharing import authenticate

    st.title("Sign in to Loom")
    with st.form("sign_in"):
        name = st.text_input("User name", max_chars=100, key="sign_in_name")
        password = st.text_input("Password", type="password", max_chars=500, key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        who = authenticate(_store(config()), name, password)
        if who:
            st.session_state["loom_user"] = who
            st.rerun()
        st.error("Wrong user name or password.")
    st.caption("An administrator adds accounts with `python -m core user add NAME`.")
    st.stop()


@dataclass(frozen=True)
class Access:
    """What this visitor may do on the current view."""

    shared: bool  # opened through a share link
    can_act: bool  # launch, stop, steer, annotate, delete
    can_fork: bool  # start a tweaked copy
    can_share: bool  # make links


FULL_ACCESS = Access(shared=False, can_act=True, can_fork=True, can_share=True)


def shared_access(kind: str, target_id: str | None = None) -> Access:
    """The visitor's rights on this view. A ``?share=`` token must be valid *for this view*;
    anything else gets the same not-found as a missing run, and the page stops."""
    from core.errors import NotFoundError
    from core.sharing import NOT_FOUND
    from core.sharing import resolve_link

    token = st.query_params.get("share")
    if not token:
        return FULL_ACCESS
    try:
        link = resolve_link(store(), token)
    except NotFoundError:
        link = None
    runs = st.query_params.get("runs", "")
    if (
        link is None
        or link.target_kind != kind
        or (target_id is not None and link.target_id != target_id)
        or (kind == "compare" and (link.query_json or {}).get("runs") != runs)
    ):
        st.error(NOT_FOUND, icon="🔍")
        st.stop()
    return Access(shared=True, can_act=False, can_fork=link.permission == "fork", can_share=False)


def share_box(kind: str, target_id: str, query: dict[str, str]) -> None:
    """An expander that makes a share link to this exact view."""
    from datetime import timedelta

    from core.sharing import create_link

    with st.expander("Share this view"):
        c1, c2, c3 = st.columns([1, 1, 2])
        permission = c1.radio("Permission", ["view", "fork"], horizontal=True, key=f"share_perm_{kind}")
        lifetimes = {
            "never": None,
            "1 day": timedelta(days=1),
            "7 days": timedelta(days=7),
            "30 days": timedelta(days=30),
        }
        expiry = c2.selectbox("Expires", list(lifetimes), key=f"share_exp_{kind}")
        label = c3.text_input("Label (for your list of links)", max_chars=200, key=f"share_label_{kind}")
        if st.button("Create link", key=f"share_create_{kind}"):
            try:
                token = create_link(
                    store(),
                    kind,
                    target_id,
                    permission=permission,
                    query=query,
                    expires_in=lifetimes[expiry],
                    owner=user(),
                    label=label.strip(),
                )
            except AppError as exc:
                error(exc)
            else:
                st.code(f"{_base_url()}/share?token={token}", language=None)
                st.caption("Copy it now: Loom keeps only a hash of the token. Revoke it on the Share page.")


def _base_url() -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(st.context.url or "")
    except (AttributeError, RuntimeError):
        parts = None
    if parts and parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return "http://127.0.0.1:8501"


def notes_and_tags(kind: str, target_id: str, can_act: bool, tags: bool = True) -> None:
    """Tags and notes of a run or a study, with author and time; their text is shown as text.

    Args:
        kind: "run" or "study".
        target_id: Its ID.
        can_act: Offer adding (not through a view link).
        tags: Show tags too. Defaults to True.
    """
    from core.experiments import NOTE_MAX_CHARS
    from core.experiments import add_note
    from core.experiments import add_tag
    from core.experiments import list_notes
    from core.experiments import tags_of

    the_store = store()
    if tags:
        found = tags_of(the_store, kind, target_id)
        st.markdown("**Tags:** " + (", ".join(f"`{t}`" for t in found) if found else "none"))
        if can_act:
            c1, c2 = st.columns([3, 1])
            tag = c1.text_input("Add a tag", max_chars=50, key=f"tag_{kind}_{target_id}")
            if c2.button("Add tag", key=f"add_tag_{kind}_{target_id}") and tag.strip():
                _saved(lambda: add_tag(the_store, kind, target_id, tag, user()))
    for note in list_notes(the_store, kind, target_id):
        st.markdown(f"**{md_escape(note.author)}** · {note.created_at:%Y-%m-%d %H:%M}")
        st.text(note.body)  # plain text: never markdown or HTML
    if can_act:
        body = st.text_area("Add a note", max_chars=NOTE_MAX_CHARS, key=f"note_{kind}_{target_id}")
        if st.button("Save note", key=f"save_note_{kind}_{target_id}"):
            _saved(lambda: add_note(the_store, kind, target_id, body, user()))


def _saved(action) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except AppError as exc:
        error(exc)
    else:
        st.rerun()
