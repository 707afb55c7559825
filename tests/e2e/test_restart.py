"""The Streamlit server stops mid-run and starts again on the same data directory: the run that
its local cluster was running ends as ``interrupted`` with the reason, its points are kept, the
app keeps serving and takes the next run."""

from __future__ import annotations

import re

import pytest

from core.config import AppConfig
from core.store import SYSTEM
from core.store import check_integrity
from core.store import get_metrics
from core.store import open_store
from tests.e2e.conftest import AppServer
from tests.e2e.test_smoke_job import _wait_points_above

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_restarting_the_app_mid_run_loses_nothing(tmp_path, page) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    first = AppServer(data, LOOM_HEARTBEAT_TIMEOUT="4")
    try:
        page.goto(f"{first.url}/jobs")
        page.get_by_label("Steps", exact=True).fill("100000")
        page.get_by_label("Seconds between steps").fill("0.05")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
        run_id = page.url.split("run=")[1][:32]
        _wait_points_above(page, 10)
    finally:
        first.stop()  # the app and the local cluster it started go away mid-run
    kept = len(get_metrics(open_store(AppConfig.for_data_dir(data)), run_id, viewer=SYSTEM)["loss"].steps)
    assert kept > 10

    second = AppServer(data, LOOM_HEARTBEAT_TIMEOUT="4")
    try:
        page.goto(f"{second.url}/jobs?run={run_id}")
        page.get_by_text("interrupted").first.wait_for(timeout=60_000)
        page.get_by_text(re.compile(r"no heartbeat for over 4 s")).first.wait_for()
        store = open_store(AppConfig.for_data_dir(data))
        assert (
            len(get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps) == kept
        )  # every stored point is still there
        page.get_by_text("Launch the smoke job").click()  # folded once runs exist
        page.get_by_label("Steps", exact=True).fill("5")
        page.get_by_label("Seconds between steps").fill("0")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_url(re.compile(r"/jobs\?run=(?!" + run_id + r")[0-9a-f]{32}"))
        page.get_by_text("succeeded").first.wait_for(timeout=60_000)
        assert check_integrity(store) == []
    finally:
        second.stop()
