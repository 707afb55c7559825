"""pages/_sessions.py: a closed session that leaves Streamlit's session storage (expired or
evicted) is shut down, so its media files and uploads are released; one that reconnects is not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from pages import _sessions


class FakeSession:
    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


def _install(monkeypatch: pytest.MonkeyPatch, storage: MemorySessionStorage, active: set[str]) -> bool:
    import streamlit.runtime as runtime

    manager = SimpleNamespace(_session_storage=storage, is_active_session=lambda sid: sid in active)
    monkeypatch.setattr(runtime, "exists", lambda: True)
    monkeypatch.setattr(runtime, "get_instance", lambda: SimpleNamespace(_session_mgr=manager))
    release: Any = _sessions.release_closed_sessions
    return bool(release.__wrapped__())  # the hook itself, without the process-wide cache


def _stored(storage: MemorySessionStorage, session_id: str) -> FakeSession:
    session = FakeSession(session_id)
    storage.save(SessionInfo(client=None, session=session))  # type: ignore[arg-type]
    return session


def test_an_expired_session_is_shut_down_when_the_storage_reaps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemorySessionStorage(maxsize=8, ttl_seconds=0)  # every entry expires at once
    assert _install(monkeypatch, storage, active=set())
    first = _stored(storage, "a")
    assert first.shutdowns == 0
    second = _stored(storage, "b")  # storing one reaps the expired ones
    assert (first.shutdowns, second.shutdowns) == (1, 0)


def test_a_session_evicted_past_the_storage_size_is_shut_down(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemorySessionStorage(maxsize=1, ttl_seconds=60)
    assert _install(monkeypatch, storage, active=set())
    first = _stored(storage, "a")
    second = _stored(storage, "b")
    assert (first.shutdowns, second.shutdowns) == (1, 0)


def test_a_reconnected_session_is_not_shut_down(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemorySessionStorage(maxsize=8, ttl_seconds=60)
    assert _install(monkeypatch, storage, active={"back"})
    back, gone = _stored(storage, "back"), _stored(storage, "gone")
    storage.delete("back")  # as Streamlit does on a reconnect, once the session is active again
    storage.delete("gone")  # as its close_session does, which then shuts it down (once)
    assert (back.shutdowns, gone.shutdowns) == (0, 1)


def test_without_a_server_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit.runtime as runtime

    monkeypatch.setattr(runtime, "exists", lambda: False)
    release: Any = _sessions.release_closed_sessions
    assert release.__wrapped__() is False


def test_a_changed_storage_leaves_streamlit_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit.runtime as runtime

    monkeypatch.setattr(runtime, "exists", lambda: True)
    monkeypatch.setattr(runtime, "get_instance", lambda: SimpleNamespace(_session_mgr=SimpleNamespace()))
    release: Any = _sessions.release_closed_sessions
    assert release.__wrapped__() is False
