"""Page tests run the real app with AppTest against a real store and an in-process cluster."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _env(data_dir: Path) -> dict[str, str]:
    return {
        "LOOM_DATA_DIR": str(data_dir),
        "LOOM_DASK_PROCESSES": "false",
        "LOOM_DASK_WORKERS": "1",
        "LOOM_DASK_THREADS": "4",
        "LOOM_HEARTBEAT_SECONDS": "0.5",
    }


def _release(data_dir: Path) -> None:
    """Stop what the app cached for this data dir (cluster, reapers, store): the cache key is
    the config, so nothing else shares them, and an idle cluster per module would pile up."""
    ui = sys.modules.get("pages._ui")
    if ui is None:
        return
    from core.config import get_config

    environ = {**os.environ, **_env(data_dir)}
    for name in ("LOOM_DATABASE_URL", "DASK_SCHEDULER_ADDRESS"):
        environ.pop(name, None)
    cfg = get_config(environ)
    with contextlib.suppress(Exception):  # best effort: a failed test may have left it half-made
        compute = ui._compute(cfg)
        compute.reaper.stop()
        cluster = compute.client.cluster
        compute.client.close(timeout=10)
        cluster.close(timeout=10)
    with contextlib.suppress(Exception):
        ui._store_reaper(cfg).stop()
    with contextlib.suppress(Exception):
        ui._alert_evaluator(cfg).stop()
    for cached in (ui._compute, ui._store_reaper, ui._alert_evaluator, ui._store):
        cached.clear(cfg)
    getattr(ui, "_CLUSTER", {}).pop(cfg, None)


@pytest.fixture(scope="module")
def page_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One data dir per test module: its tests share one cached store and cluster (a new dir
    means a new config, so new ones), and no module sees what another module made."""
    data_dir = tmp_path_factory.mktemp("pages-data")
    yield data_dir
    _release(data_dir)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, page_data_dir: Path) -> Path:
    for name, value in _env(page_data_dir).items():
        monkeypatch.setenv(name, value)
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
