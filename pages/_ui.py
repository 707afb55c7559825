"""The one module shared by pages: cached services and small render helpers.

Only ``app.py``, ``pages/`` and this module import streamlit. What a page shows comes from the
store and the URL's query parameters; ``st.session_state`` holds only widget state.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from typing import NoReturn

import streamlit as st

from core.compute import RunStatus
from core.config import AppConfig
from core.config import get_config
from core.errors import AppError
from core.store import Grant
from core.store import Store
from core.store import Viewer
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
    end_page()


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
    from core.training import WARM_UP

    # Workers import TensorFlow as they start; the CLI finds and joins this cluster (advertise).
    client = create_client(cfg, warm_up=(WARM_UP,), advertise=True)
    _CLUSTER[cfg] = client
    # One reaper per client: marks runs whose worker died, or whose task the cluster forgot.
    return _Compute(client, Reaper(_store(cfg), client, cfg.heartbeat_timeout).start())


def store() -> Store:
    """The store, or a clear error on the page if it cannot be opened. Pass it with a
    :func:`viewer` to core: core decides what the viewer may see."""
    cfg = config()
    try:
        opened = _store(cfg)
    except AppError as exc:
        fail(exc)
        raise
    _store_reaper(cfg)
    _alert_evaluator(cfg)
    _trash_purger(cfg)
    return opened


@st.cache_resource(show_spinner=False)
def _store_reaper(cfg: AppConfig):  # type: ignore[no-untyped-def]
    """From the first page view on, runs whose heartbeat stopped are marked ``interrupted`` with
    the reason — also after a restart, before any page needs the cluster (the cluster's own
    reaper adds runs the scheduler forgot)."""
    from core.compute import Reaper

    return Reaper(_store(cfg), None, cfg.heartbeat_timeout).start()


@st.cache_resource(show_spinner=False)
def _alert_evaluator(cfg: AppConfig):  # type: ignore[no-untyped-def]
    """Alert rules checked every few seconds from the first page view on; each fires once even
    with several app processes (the store marks it fired atomically)."""
    from core.alerts import AlertEvaluator

    return AlertEvaluator(_store(cfg), interval=5.0).start()


def serve_metrics() -> None:
    """Starts this process's Prometheus endpoint once (``LOOM_METRICS_PORT``; off by default) and
    sets Loom's log format (``LOOM_LOG_FORMAT``). Called by ``app.py`` on every script run: the
    work happens on the first."""
    _process_setup(config())


@st.cache_resource(show_spinner=False)
def _process_setup(cfg: AppConfig) -> bool:
    from core.config import LOOM_METRICS_HOST
    from core.config import LOOM_METRICS_PORT
    from core.logs import configure_logging
    from core.ops import start_metrics_server

    try:
        configure_logging()
        port = LOOM_METRICS_PORT.get()
        if port is None:
            return False
        # Workers are read from the client once a page made it; a scrape never starts a cluster.
        return start_metrics_server(
            _store(cfg),
            port=port,
            host=LOOM_METRICS_HOST.get() or "127.0.0.1",
            cluster=lambda: _CLUSTER.get(cfg),
        )
    except AppError as exc:
        fail(exc)
        raise
    except OSError as exc:  # the port is taken: the app still serves, without metrics
        _log.error("Could not serve metrics on port %s: %s", LOOM_METRICS_PORT.get(), exc)
        return False


_CLUSTER: dict[AppConfig, Any] = {}  # the Dask client per config, once _compute made it


def run_page(page: Any) -> None:
    """Runs the page ``st.navigation`` picked: its run time goes to the metrics' page render
    histogram, and the audit rows it writes carry the browser's address and session."""
    import hashlib
    import time

    from core.ops import observe_page_render
    from core.store import audit_origin

    token = _session_token() if config().auth else None
    tag = hashlib.sha256(token.encode()).hexdigest()[:12] if token else ""
    try:
        ip = st.context.ip_address or ""
    except (AttributeError, RuntimeError):
        ip = ""
    started = time.perf_counter()
    _in_run_page.active = True
    try:
        with audit_origin(ip=ip, session=tag):
            page.run()
    except _PageEnd:
        pass  # end_page(): the page has drawn all it has; the run completes
    finally:
        _in_run_page.active = False
        observe_page_render(getattr(page, "url_path", "") or "home", time.perf_counter() - started)


_in_run_page = threading.local()  # set while run_page runs a page in this script thread


class _PageEnd(BaseException):
    """Raised by :func:`end_page`; a BaseException, as Streamlit's own StopException is, so that
    no ``except Exception`` on the way swallows it."""


def end_page() -> NoReturn:
    """End this page's script run here, as a run that completed. Every page stops this way
    (errors, not-found answers, empty states), since any page may have drawn a live fragment
    (``st.fragment(run_every=...)``) a run before, and there ``st.stop()`` is unsafe.

    Streamlit forgets the fragments a run did not draw only when the run completes; a run ended by
    ``st.stop()`` keeps them. A timer tick the browser sent just before (the live view of a run
    that was ending, say, while the user switched project) then ran the old fragment against a
    page that no longer had its place: Chromium failed on the delta ("Bad delta path index") and
    showed a blank page, or the fragment's ``st.rerun()`` drew the old project again. Only for a
    page's own body (``run_page`` ends the run), never inside a fragment or a callback. A page run
    without ``run_page`` (AppTest runs ``pages/`` as a pages directory) stops as before.
    """
    if getattr(_in_run_page, "active", False):
        raise _PageEnd
    st.stop()
    raise AssertionError("unreachable: st.stop() raised")


@st.cache_resource(show_spinner=False)
def _trash_purger(cfg: AppConfig):  # type: ignore[no-untyped-def]
    """Every hour, what has been in the trash longer than LOOM_TRASH_DAYS is purged."""
    from core.ops import TrashPurger

    return TrashPurger(_store(cfg)).start()


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


def md_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table, every cell escaped; blank where a row lacks a column.

    A small table drawn as Markdown costs the browser nothing more: ``st.dataframe`` loads the
    data grid and Arrow bundles (1.2 MB), which on a cold run page delay its charts.
    """
    if not rows:
        return ""
    columns = list(dict.fromkeys(c for row in rows for c in row))

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return md_escape(text).replace("\n", " ")  # md_escape already escapes "|"

    lines = ["| " + " | ".join(md_escape(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def md_pairs(values: dict[str, Any]) -> str:
    """``key: value`` lines as Markdown, escaped (a settings list without the JSON viewer)."""
    return "  \n".join(f"{md_escape(k)}: `{str(v).replace('`', chr(39))}`" for k, v in values.items())


def distinct(labels: dict[str, str]) -> dict[str, str]:
    """``labels`` (ID -> text) with the IDs' first 8 characters added where two texts are alike.

    A selectbox or multiselect keeps its choice by the option's text, so two entries shown alike
    (two uploads of ``iris.csv``, two runs named alike in the same second) would silently swap:
    every widget whose options are IDs shows them through this.
    """
    counts = Counter(labels.values())
    if len(counts) == len(labels):
        return labels
    return {i: f"{t} · {i[:8]}" if counts[t] > 1 else t for i, t in labels.items()}


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
    labels = distinct(labels)
    ids = list(labels)
    wanted = st.query_params.get(param)
    if wanted not in labels:
        if wanted:
            not_found(what, stop=False)
            st.caption(f"Showing the newest {what} you can see instead.")
        wanted = ids[0]
        st.query_params[param] = wanted
    key = f"{param}_select"

    def follow() -> None:
        if _replayed():
            return
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


# --- who is asking ------------------------------------------------------------------------
#
# Core decides what a viewer may see (core.store's access rule, applied in every query); this
# module only works out *who* the viewer is, once per script run, and shows the sign-in form.
# The session lives in an HttpOnly cookie signed by the server (set by the /_loom/session route
# in pages/_web.py), so it survives reloads, typed URLs and deep links; the token is checked
# against the store on every run, so signing out or an expiry takes effect at the next request.

_TOKEN_KEY = "_loom_session"  # this browser tab's session token (until the cookie is set)
_SSO_KEY = "_loom_sso_audited"  # the single-sign-on e-mail whose sign-in this session recorded
_COOKIE_CODE = "_loom_cookie_code"  # a handoff code, once, for the background cookie request


def _session_token() -> str | None:
    from core.sharing import COOKIE_NAME
    from core.sharing import token_from_cookie

    token = st.session_state.get(_TOKEN_KEY)
    if token:
        return str(token)
    try:
        raw = st.context.cookies.get(COOKIE_NAME)
    except (AttributeError, RuntimeError):
        raw = None
    return token_from_cookie(config(), raw)


def _base_viewer() -> Viewer | None:
    """The local user (accounts off), the signed-in user, or None."""
    from core.sharing import local_viewer
    from core.sharing import resolve_session
    from core.sharing import sso_sign_in
    from core.sharing import sso_viewer

    if not config().auth:
        return local_viewer()
    found = resolve_session(store(), _session_token())
    if found is None:
        st.session_state.pop(_TOKEN_KEY, None)  # ended or expired: forget it
        email = _sso_email()
        if email and st.session_state.get(_SSO_KEY) != email:
            # The identity's first arrival in this browser session is its sign-in, audited once.
            found = sso_sign_in(store(), email)
            st.session_state[_SSO_KEY] = email
        else:
            found = sso_viewer(store(), email) if email else None
        if found is not None:
            _back_from_sso()
    return found


def _back_from_sso() -> None:
    """Single sign-on always comes back to ``/``: go on to the page it started from (the
    sign-in form left it in a short-lived cookie), once."""
    import json
    from urllib.parse import unquote

    from core.sharing import NEXT_COOKIE
    from core.sharing import safe_next

    try:
        raw = st.context.cookies.get(NEXT_COOKIE)
    except (AttributeError, RuntimeError):
        raw = None
    if not raw:
        return
    target = safe_next(unquote(raw))
    clear = f"document.cookie = {json.dumps(f'{NEXT_COOKIE}=; path=/; max-age=0; samesite=lax')};"
    if target == _here():
        st.html(f"<script>{clear}</script>", unsafe_allow_javascript=True)
        return
    _go(target, before=clear)


def _sso_email() -> str | None:
    """The e-mail of Streamlit's own OIDC sign-in (``st.login``, when ``[auth]`` is in
    secrets.toml), or None when nobody signed in that way."""
    try:
        email = st.user.get("email") if st.user.is_logged_in else None
    except (AttributeError, KeyError, RuntimeError, st.errors.StreamlitAPIException):
        return None
    return str(email) if email else None


def _account_box(found: Viewer) -> None:
    with st.sidebar:
        teams = f" · teams: {', '.join(found.teams)}" if found.teams else ""
        st.caption(f"Signed in as **{md_escape(found.name)}**{md_escape(teams)}")
        _set_cookie()
        if st.button("Sign out", key="sign_out"):
            _sign_out()


def _set_cookie() -> None:
    """Just signed in: trade the handoff code for the HttpOnly session cookie with a background
    request (pages cannot set cookies; /_loom/session can), so the page need not reload. If the
    request fails, the browser goes through /_loom/session itself and comes back here."""
    import json
    from urllib.parse import quote

    from core.sharing import issue_handoff

    code = st.session_state.pop(_COOKIE_CODE, None)
    token = st.session_state.get(_TOKEN_KEY)
    if not code or not token:
        return
    quiet = json.dumps(f"/_loom/session?code={code}&quiet=1")
    # A used code is refused by the route, so the fallback carries its own (unused ones expire).
    again = json.dumps(f"/_loom/session?code={issue_handoff(store(), token)}&next={quote(_here(), safe='')}")
    st.html(
        f"<script>fetch({quiet}, {{credentials: 'same-origin', cache: 'no-store'}})"
        f".then(r => {{ if (!r.ok) throw r; }}).catch(() => window.location.replace({again}));</script>",
        unsafe_allow_javascript=True,
    )


def _sign_out() -> None:
    from core.sharing import end_session

    end_session(store(), _session_token())
    st.session_state.pop(_TOKEN_KEY, None)
    if _sso_email():
        st.logout()
    _go("/_loom/signout?next=/")


def _go(url: str, before: str = "") -> None:
    """Send the browser to a Loom route (it sets or clears the session cookie)."""
    import json

    script = f"{before}window.location.replace({json.dumps(url)});"
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)
    st.link_button("Continue", url)
    end_page()


def _here() -> str:
    """This page's path and full query, for coming back after signing in (never another host).

    ``st.context.url`` drops the query (streamlit 1.67), so the query comes from
    ``st.query_params``: ``/jobs?run=X`` comes back as ``/jobs?run=X``, not ``/jobs``.
    """
    from urllib.parse import urlencode
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(st.context.url or "")
    except (AttributeError, RuntimeError):
        parts = None
    path = parts.path if parts and parts.path.startswith("/") and not parts.path.startswith("//") else "/"
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return path + (f"?{query}" if query else "")


def viewer(kind: str | None = None, target_id: str | None = None) -> Viewer:
    """Who is asking on this page; with accounts on, a visitor who is not signed in gets the
    sign-in form here and the page stops, and a signed-in one the account box in the sidebar.
    Call it once per page run (fragments keep the page's viewer): the session is checked
    against the store each time, so a sign-out or an expiry takes effect at the next request.

    Args:
        kind: "run", "study" or "compare" on the three views a share link opens (``?share=``);
            elsewhere None, and a share parameter means nothing. Defaults to None.
        target_id: The run or study the view shows. Defaults to None.

    Returns:
        The viewer. A view opened through a share link is the link's view for everyone who opens
        it (its owner included): exactly what it names, read only, or with fork.
    """
    grant = _grant(kind, target_id) if kind else None
    if grant is not None:
        from core.sharing import describe_grant

        # The link's view is the same for everyone; a visitor who is signed in still sees so.
        signed = _base_viewer() if config().auth else None
        if signed is not None and signed.signed_in:
            _account_box(signed)
        st.caption(describe_grant(grant), help="Its owner chose what the link includes.")
        return Viewer().with_grant(grant)
    base = _base_viewer()
    if base is None:
        sign_in_form()
        raise AssertionError("unreachable: the sign-in form stops the page")
    if base.signed_in:
        _account_box(base)
        _teams_left(base)
    return base.in_project(_project(base)) if base.can_create else base


def _teams_left(found: Viewer) -> None:
    """Say so when this visitor was removed from a team since their last page: what it shares
    is gone from their lists and links (the session re-reads the teams on every page load)."""
    before = st.session_state.get("_loom_teams")
    gone = sorted(set(before or ()) - set(found.teams))
    if gone:
        st.info(
            f"You are no longer a member of team {', '.join(md_escape(t) for t in gone)}: what it shares "
            "is not visible to you any more. Ask an administrator if this is a mistake.",
            icon=":material/group_remove:",
        )
    st.session_state["_loom_teams"] = found.teams


# --- the project a page works in -------------------------------------------------------------
#
# The URL is the truth (``?project=<id>``, "" or absent for all my projects): every list and
# every creation on every page follows it, through ``Viewer.project``. Streamlit's page
# navigation drops query parameters, so the tab remembers the last choice and writes it back
# into the URL when a page opens without one; a link with ``?project=X`` still opens X.

_PROJECT = "_loom_project"  # this tab's last project ("" all), written back into a bare URL
_PROJECTS = "_loom_projects"  # the viewer's projects, read once per full page run
PROJECT_KEY = "project_select"
# The project the switcher just picked, until the page run it started has read it. Streamlit ends
# a superseded script run only at its next yield point (runner.fastReruns), and a run that was just
# starting (the live view's st.rerun() as its run ended) still loads its older URL into the shared
# st.query_params after the switch's callback wrote the new one: the page drew the old project.
_SWITCHED = "_loom_project_switched"


def _switcher_drawn() -> bool:
    """Whether this script run already has its switcher: a fragment's rerun (the page drew it),
    or a second :func:`viewer` call in one run (a fragment drawn with its page). Private API
    (streamlit 1.67 ``ScriptRunContext``), guarded: if it moves, the switcher is drawn."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return False
    keys = getattr(getattr(ctx, "shared", None), "widget_user_keys_this_run", None)
    return bool(ctx.fragment_ids_this_run) or (keys is not None and PROJECT_KEY in keys)


def _replayed() -> bool:
    """Whether a page-level widget's callback runs in a fragment's run: not a pick, but a live
    view's timer tick carrying the widget's older value after a completed page run dropped the
    widget (a switch to a project without runs); acting on it wrote the old run and project back
    into the URL. A real pick of a widget outside the fragment reruns the whole page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _project(who: Viewer) -> str:
    """The project this page works in, checked against the viewer's projects, with the switcher
    in the sidebar. A project the viewer no longer has (removed from its team, deleted, a random
    ID) gets the one not-found answer and all their projects instead: never an exception."""
    from core.sharing import list_projects

    if _switcher_drawn():  # a fragment keeps its page's project; the sidebar is not its own
        return str(st.session_state.get(_PROJECT, ""))
    switched = st.session_state.pop(_SWITCHED, None)
    if switched is not None and st.query_params.get("project", "") != switched:
        work_in(switched)  # the older URL came back after the switch wrote its own: the switch wins
        st.session_state.pop(_SWITCHED, None)
    wanted = st.query_params.get("project")
    if wanted is None:
        wanted = str(st.session_state.get(_PROJECT, ""))
        if wanted:
            st.query_params["project"] = wanted
    try:
        projects = list_projects(store(), viewer=who)
    except AppError as exc:
        fail(exc)
        raise
    st.session_state[_PROJECTS] = projects
    labels = {"": "All my projects"} | distinct(
        {p.id: f"{p.label} ({p.role})" if who.signed_in else p.label for p in projects}
    )
    if wanted not in labels:
        not_found("project", stop=False)
        st.caption(
            "You no longer have access to this project (it was deleted, or you were removed from it "
            "or its team). Showing all your projects instead."
        )
        st.query_params.pop("project", None)
        wanted = ""
    st.session_state[_PROJECT] = wanted

    def follow() -> None:
        if not _replayed():
            work_in(st.session_state[PROJECT_KEY])

    st.session_state[PROJECT_KEY] = wanted
    st.sidebar.selectbox(
        "Project",
        list(labels),
        format_func=labels.__getitem__,
        key=PROJECT_KEY,
        on_change=follow,
        help="Lists show this project's work, and what you create goes into it. "
        "Manage projects on the Projects page.",
    )
    if any(p.id == wanted and not p.may("member") for p in projects):
        st.sidebar.caption("You are a viewer here: you can read and add notes. To add work, ask an admin.")
    return wanted


def work_in(project_id: str) -> None:
    """Work in ``project_id`` ("" for all my projects) from the next run on. The page's other
    query parameters go: what it showed (a run, a dataset) belongs to the project left behind."""
    st.session_state[_PROJECT] = project_id
    st.session_state[_SWITCHED] = project_id
    st.query_params.clear()
    if project_id:
        st.query_params["project"] = project_id


def my_projects() -> list[Any]:
    """The viewer's projects (``core.sharing.ProjectInfo``), as this page run read them."""
    return list(st.session_state.get(_PROJECTS, []))


def viewer_here(who: Viewer, doing: str) -> bool:
    """Whether ``who`` only views the project the page works in; if so, say that ``doing``
    needs a member's role and how to get one (the page then offers no form that core would
    refuse at the end)."""
    if project_role(who) != "viewer":
        return False
    here = next((p for p in my_projects() if p.id == who.project), None)
    name = md_escape(here.label) if here is not None else "this project"
    st.info(
        f"You are a viewer of **{name}**: you can read and note here, but {doing} needs a member. "
        "Ask one of its admins (Projects page), or pick another project in the sidebar.",
        icon=":material/visibility:",
    )
    return True


def may_change(who: Viewer, author: str, project_id: str = "") -> bool:
    """Whether ``who`` may stop, steer, share or re-team an item by ``author`` in ``project_id``:
    its owner, or an admin of its project (core decides again on every change)."""
    if who.grant is not None:
        return False
    if who.owns(author):
        return True
    return bool(project_id) and any(p.id == project_id and p.role == "admin" for p in my_projects())


def project_role(who: Viewer) -> str:
    """The viewer's role in the project the page works in; "" for all their projects (or a view
    through a share link), where each item's own project decides."""
    if not who.project or who.grant is not None:
        return ""
    return next((p.role for p in my_projects() if p.id == who.project), "")


def project_box(kind: str, item_id: str, project_id: str, author: str, who: Viewer) -> None:
    """The project an item belongs to, and "Move to project" for whoever may change it (its
    owner, or an admin of its project) into one where they are a member or admin (core checks).

    Args:
        kind: "dataset", "pipeline", "run", "study" or "report".
        item_id: Its ID.
        project_id: Its project ("" for an item older than projects).
        author: Its owner.
        who: The viewer.
    """
    from core.sharing import move_to_project

    if who.grant is not None or not who.can_create:
        return
    projects = my_projects()
    here = next((p for p in projects if p.id == project_id), None)
    st.caption(
        f"Project: **{md_escape(here.label)}**" if here else "Project: one you are not a member of",
        help="Every dataset, pipeline, run, study and report belongs to one project.",
    )
    # Moving needs change rights (owner, or an admin here) and a member's role here now (core
    # checks it; an owner since demoted to viewer is told why there is no Move).
    writes_here = here.may("member") if here is not None else not project_id
    may = (who.owns(author) and writes_here) or (here is not None and here.may("admin"))
    targets = {p.id: p.label for p in projects if p.may("member") and p.id != project_id}
    if who.owns(author) and not writes_here:
        st.caption(
            f"You are {'a ' + here.role if here else 'no longer a member'} here, so you cannot move "
            "it to another project: moving needs a member of both. Ask one of its admins."
        )
    if not may or not targets:
        return
    flash = f"_loom_moved_{kind}_{item_id}"
    if done := st.session_state.pop(flash, None):
        st.success(done, icon="✅")
    with st.popover("Move to project", icon=":material/drive_file_move:"):
        names = distinct(targets)
        target = st.selectbox(
            "Move to", list(targets), format_func=names.__getitem__, key=f"move_to_{kind}_{item_id}"
        )
        if st.button("Move", key=f"move_{kind}_{item_id}"):
            try:
                move_to_project(store(), kind, item_id, target, viewer=who)
            except AppError as exc:
                error(exc)
            else:
                st.session_state[flash] = f"Moved this {kind} to {md_escape(targets[target])}."
                if who.project:  # it left the project this page lists: follow it there
                    st.session_state[_PROJECT] = target
                    st.query_params["project"] = target
                st.rerun()


def fork_viewer(who: Viewer, run_id: str) -> Viewer:
    """``who``, who may also read run ``run_id`` and the dataset and pipeline version it used, to
    fork it (through the page's ``?share=`` fork link if it carries one; an unusable link stops
    the page with the not-found answer).

    Raises:
        AppError: Not allowed, or something the run used is gone (core says what and whose).
    """
    from core.experiments import fork_grant

    link = _grant("run", run_id) if st.query_params.get("share") else None
    return who.with_grant(fork_grant(store(), run_id, viewer=who, link=link))


def _grant(kind: str, target_id: str | None) -> Grant | None:
    """The grant of a ``?share=`` token valid *for this view*; anything else stops the page with
    the same not-found as a missing run."""
    from core.errors import NotFoundError
    from core.sharing import NOT_FOUND
    from core.sharing import resolve_grant

    token = st.query_params.get("share")
    if not token:
        return None
    try:
        grant = resolve_grant(store(), token)
    except NotFoundError:
        grant = None
    runs = tuple(i for i in st.query_params.get("runs", "").split(",") if i)
    if (
        grant is None
        or grant.kind != kind
        or (target_id is not None and grant.target_id != target_id)
        or (kind == "compare" and grant.run_ids != runs)
    ):
        st.error(NOT_FOUND, icon="🔍")
        end_page()
    return grant


def sign_in_form() -> None:
    """The sign-in form; stops the page. A successful sign-in sends the browser through
    /_loom/session, which sets the session cookie and comes back here."""
    from core.errors import RateLimitedError
    from core.errors import SpecError
    from core.sharing import issue_handoff
    from core.sharing import sign_in

    st.title("Sign in to Loom")
    with st.form("sign_in"):
        name = st.text_input("User name", max_chars=100, key="sign_in_name")
        password = st.text_input("Password", type="password", max_chars=500, key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            done = sign_in(store(), name, password)
        except (SpecError, RateLimitedError) as exc:
            st.error(str(exc))
        else:
            # Signed in at once, on this very page and query: the token is in this session, and
            # the next run sets the cookie in the background (no page reload; bench/signin.py).
            st.session_state[_TOKEN_KEY] = done.token
            st.session_state[_COOKIE_CODE] = issue_handoff(store(), done.token)
            st.rerun()
    if _sso_configured():
        import json
        from urllib.parse import quote

        from core.sharing import NEXT_COOKIE

        # Single sign-on comes back to "/": remember this page (path and query) for ten minutes.
        cookie = f"{NEXT_COOKIE}={quote(_here(), safe='')}; path=/; max-age=600; samesite=lax"
        st.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", unsafe_allow_javascript=True)
        st.button("Sign in with single sign-on", key="sso_sign_in", on_click=st.login)
    st.caption("An administrator adds accounts with `python -m core user add NAME`.")
    end_page()


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


@dataclass(frozen=True)
class Access:
    """What this visitor may do on the current view (for showing buttons; core checks again)."""

    shared: bool  # opened through a share link
    can_act: bool  # launch, stop, steer, delete (the owner)
    can_fork: bool  # start a tweaked copy
    can_share: bool  # make links (the owner)
    can_note: bool  # notes and tags (owner and teammates)


def access(who: Viewer, author: str | None = None) -> Access:
    """What ``who`` may do on a view of an object by ``author`` (None: a view of several)."""
    shared = who.grant is not None
    # A viewer of the project the page works in reads and notes there, but adds nothing to it.
    creates = who.can_create and project_role(who) != "viewer"
    owner = not shared and (who.owns(author) if author is not None else creates)
    return Access(
        shared=shared,
        can_act=owner,
        can_fork=creates or (who.grant is not None and who.grant.can_fork),
        can_share=owner,
        can_note=who.can_create,
    )


def team_choice(key: str, who: Viewer, current: str = "", label: str = "Visible to") -> str:
    """Private, or one of the viewer's teams (accounts on); "" when there are no teams."""
    if not who.teams:
        return ""
    options = ["", *who.teams]
    if current and current not in options:
        options.append(current)
    return str(
        st.selectbox(
            label,
            options,
            index=options.index(current),
            format_func=lambda t: f"team {t}" if t else "only me",
            key=key,
        )
    )


def share_box(kind: str, target_id: str, query: dict[str, str], who: Viewer) -> None:
    """An expander that makes a share link to this exact view (core refuses anyone but the
    owner)."""
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
        # A link shows the view's own data; notes (with their authors) and the model are extras.
        o1, o2 = st.columns(2)
        notes = o1.checkbox("Include notes", key=f"share_notes_{kind}", help="Notes and their authors.")
        download = kind == "run" and o2.checkbox(
            "Allow model download", key=f"share_download_{kind}", help="The “Download bundle” button."
        )
        if st.button("Create link", key=f"share_create_{kind}"):
            try:
                token = create_link(
                    store(),
                    kind,
                    target_id,
                    permission=permission,
                    query=query,
                    expires_in=lifetimes[expiry],
                    label=label.strip(),
                    include_notes=notes,
                    allow_download=download,
                    viewer=who,
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


def team_box(kind: str, target_id: str, team: str, who: Viewer) -> None:
    """Who sees a run or study: only its owner, or one of the owner's teams (owner only)."""
    from core.experiments import set_team

    visibility_box(
        kind, target_id, team, who, lambda chosen: set_team(store(), kind, target_id, chosen, viewer=who)
    )


def visibility_box(kind: str, target_id: str, team: str, who: Viewer, apply) -> None:  # type: ignore[no-untyped-def]
    """Change who sees a run, study, dataset, pipeline or report (owner only; core checks):
    pick, Apply, and a confirmation says what it is now.

    Args:
        kind: What it is, in words and keys ("run", "dataset", ...).
        target_id: Its ID.
        team: Its team now ("" private).
        who: The viewer (signed in; nothing is drawn otherwise).
        apply: Called with the chosen team; raises AppError when refused.
    """
    if not who.signed_in:
        return
    if not who.teams:
        st.caption("Visible only to you. An administrator adds teams: `python -m core team add NAME`.")
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    with c1:
        chosen = team_choice(f"team_{kind}_{target_id}", who, team)
    flash = f"_loom_visibility_{kind}_{target_id}"
    if done := st.session_state.pop(flash, None):  # said once, after the rerun that shows it
        st.success(done, icon="✅")
    if chosen != team and c2.button("Apply", key=f"team_apply_{kind}_{target_id}"):
        try:
            apply(chosen)
        except AppError as exc:
            error(exc)
        else:
            audience = f"team {chosen}" if chosen else "only you"
            st.session_state[flash] = f"This {kind} is now visible to {audience}."
            st.toast(st.session_state[flash], icon="✅")
            st.rerun()


NOT_SHARED = "This {what} does not exist or is not shared with you."


def not_found(what: str, *, stop: bool = True, picker: str | None = None, label: str = "") -> None:
    """The one answer for a missing or hidden run, study, comparison, report, dataset or
    pipeline, on every page: the same words and look whether it never existed, was deleted or is
    someone else's (nothing of it is shown, not even its ID).

    Args:
        what: "run", "study", ...
        stop: Stop the page after it. Defaults to True.
        picker: A page to pick another from (shown as a link). Defaults to None.
        label: The link's text. Defaults to "Pick another".
    """
    st.error(NOT_SHARED.format(what=what), icon="🔍")
    if picker:
        st.page_link(picker, label=label or "Pick another", icon=":material/arrow_forward:")
    if stop:
        end_page()


def notes_and_tags(kind: str, target_id: str, who: Viewer, can_note: bool, tags: bool = True) -> None:
    """Tags and notes of a run or a study, with author and time; their text is shown as text.

    Args:
        kind: "run" or "study".
        target_id: Its ID.
        who: The viewer (core shows only what they may see).
        can_note: Offer adding (owner and teammates; not through a view link).
        tags: Show tags too. Defaults to True.
    """
    from core.experiments import NOTE_MAX_CHARS
    from core.experiments import add_note
    from core.experiments import add_tag
    from core.experiments import list_notes
    from core.experiments import tags_of

    the_store = store()
    if tags:
        found = tags_of(the_store, kind, target_id, viewer=who)
        st.markdown("**Tags:** " + (", ".join(f"`{t}`" for t in found) if found else "none"))
        if can_note:
            c1, c2 = st.columns([3, 1])
            tag = c1.text_input("Add a tag", max_chars=50, key=f"tag_{kind}_{target_id}")
            if c2.button("Add tag", key=f"add_tag_{kind}_{target_id}") and tag.strip():
                _saved(lambda: add_tag(the_store, kind, target_id, tag, viewer=who))
    if who.grant is not None and not who.grant.shows_notes(kind, target_id):
        st.caption("This link does not include notes.")
        return
    for note in list_notes(the_store, kind, target_id, viewer=who):
        st.markdown(f"**{md_escape(note.author)}** · {note.created_at:%Y-%m-%d %H:%M}")
        st.text(note.body)  # plain text: never markdown or HTML
    if can_note:
        body = st.text_area("Add a note", max_chars=NOTE_MAX_CHARS, key=f"note_{kind}_{target_id}")
        if st.button("Save note", key=f"save_note_{kind}_{target_id}"):
            _saved(lambda: add_note(the_store, kind, target_id, body, viewer=who))


def _saved(action) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except AppError as exc:
        error(exc)
    else:
        st.rerun()
