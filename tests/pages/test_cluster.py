from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import free_port
from tests.pages.conftest import APP
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def test_cluster_lists_workers(app: AppTest) -> None:
    open_page(app, "pages/cluster.py")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Workers"] == "1"
    assert metrics["Threads"] == "4"
    assert metrics["GPUs"] == "0"
    assert not app.warning


def test_unreachable_scheduler_is_one_clear_message(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    at = AppTest.from_file(APP, default_timeout=90)
    open_page(at, "pages/cluster.py")
    assert len(at.error) == 1
    assert f"Cannot reach the Dask scheduler at DASK_SCHEDULER_ADDRESS='{address}'" in plain(
        at.error[0].value
    )
    assert "unset DASK_SCHEDULER_ADDRESS" in plain(at.error[0].value)
