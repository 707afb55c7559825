"""Closed browser sessions give their memory back (issue 29's soak).

Streamlit keeps a closed session for ``server.disconnectedSessionTTL`` seconds, so a browser
that reconnects finds it, then drops it from its session storage without shutting it down
(streamlit 1.67: ``MemorySessionStorage`` is a ``TTLCache`` with no removal callback; upstream
issue streamlit#12506). A session closed with its tab is shut down only when it cannot be
resumed, so most are never shut down: their download buttons' and images' bytes (the runtime's
media file manager), uploaded files and lazy dataframe sources stay referenced for the life of
the process. Here a session that leaves the storage (expired, or evicted past its 128 entries)
without having reconnected is shut down as Streamlit's own ``close_session`` does.

Private API (``Runtime._session_mgr._session_storage._cache``, ``TTLCache._on_remove``):
guarded, so a change upstream only logs a warning and leaves Streamlit's behaviour as it was.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

_log = logging.getLogger("loom.ui")


@st.cache_resource(show_spinner=False)
def release_closed_sessions() -> bool:
    """Once per process: shut down each session Streamlit's storage drops. Returns whether
    the hook is installed."""
    from streamlit import runtime

    if not runtime.exists():  # no server (AppTest, a bare script run): no sessions to release
        return False
    try:
        manager = runtime.get_instance()._session_mgr
        cache = manager._session_storage._cache
        previous = cache._on_remove
        is_active = manager.is_active_session
    except AttributeError as exc:
        _log.warning("Closed sessions are left to Streamlit (its session storage changed: %s).", exc)
        return False

    def removed(session_id: str, info: Any) -> None:
        if previous is not None:
            previous(session_id, info)
        # A reconnect moves the session to the active map before deleting it from the storage.
        if is_active(session_id):
            return
        try:
            info.session.shutdown()  # once: it returns at once if already shut down
        except Exception:  # a failed release must not break the storage's bookkeeping
            _log.exception("Could not shut down closed session %s", session_id)

    cache._on_remove = removed
    return True
