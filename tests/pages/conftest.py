"""Page tests run the real app with AppTest against a real store and an in-process cluster."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def page_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pages-data")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, page_data_dir: Path) -> Path:
    """One data dir for all page tests, so they share one cached store and cluster."""
    monkeypatch.setenv("LOOM_DATA_DIR", str(page_data_dir))
    monkeypatch.setenv("LOOM_DASK_PROCESSES", "false")
    monkeypatch.setenv("LOOM_DASK_WORKERS", "1")
    monkeypatch.setenv("LOOM_DASK_THREADS", "4")
    monkeypatch.setenv("LOOM_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return page_data_dir


@pytest.fixture
def app(app_env: Path) -> Iterator[AppTest]:
    at = AppTest.from_file(APP, default_timeout=60)
    yield at


def open_page(at: AppTest, path: str, /, **query: str) -> AppTest:
    at.run()
    at.switch_page(path)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    """A message as the user reads it: markdown escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)
