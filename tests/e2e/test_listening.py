"""The running app (``streamlit run app.py``) listens on loopback only."""

from __future__ import annotations

import psutil
import pytest

from tests.test_security import LOOPBACK
from tests.test_security import _listening

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_the_running_app_listens_on_loopback_only(app_server) -> None:  # type: ignore[no-untyped-def]
    proc = psutil.Process(app_server.proc.pid)
    pids = {proc.pid, *(c.pid for c in proc.children(recursive=True))}
    sockets = _listening(pids)
    assert app_server.port in {p for _, p in sockets}, sockets
    assert {ip for ip, _ in sockets} <= LOOPBACK, sockets
