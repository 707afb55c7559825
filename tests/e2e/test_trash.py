"""The trash in a real browser: a finished run deleted on the Experiments page leaves the list,
shows in the Projects page's trash, and comes back when restored."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.config import AppConfig
from tests.e2e.conftest import AppServer
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def trash_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, str]]:
    from core.store import SYSTEM
    from core.store import Run
    from core.store import create_run
    from core.store import open_store

    root = tmp_path_factory.mktemp("trash")
    store = open_store(AppConfig.for_data_dir(root / "data"))
    run = create_run(store, "external", {"type": "external"}, name="TRASH-E2E")
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    store.engine.dispose()
    server = AppServer(root / "data")
    yield server, run.id
    server.stop()


def _shows(locator) -> bool:  # type: ignore[no-untyped-def]
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.wait_for(timeout=5_000)
    except PlaywrightTimeout:
        return False
    return True


def test_a_run_deleted_on_experiments_is_restored_from_the_trash(trash_app, page) -> None:  # type: ignore[no-untyped-def]
    server, run_id = trash_app
    page.goto(f"{server.url}/experiments")
    page.get_by_text(re.compile(r"^1 run\(s\)")).first.wait_for()
    grid = page.get_by_test_id("stDataFrame").first
    grid.get_by_text("TRASH-E2E", exact=True).first.wait_for(state="attached")
    box = grid.bounding_box()
    assert box is not None
    delete = page.get_by_role("button", name="Delete…")

    def ticked() -> bool:  # the grid is a canvas: click the first row's "select" cell
        if delete.count():
            return True
        page.mouse.click(box["x"] + 40, box["y"] + 53)  # its checkbox
        if _shows(delete):
            return True
        page.keyboard.press("Space")  # the cell is focused: space ticks it
        return _shows(delete)

    wait_until(ticked, timeout=30, interval=0.2, what="the run's row to be selected")
    delete.click()
    page.get_by_text("They go to the trash").wait_for()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_text(re.compile(r"^0 run\(s\)")).first.wait_for()

    page.goto(f"{server.url}/projects")
    page.get_by_text("Deleted items").wait_for()
    page.get_by_text(re.compile(rf"TRASH-E2E.*{run_id[:8]}")).first.wait_for()
    page.get_by_role("button", name="Restore").click()
    page.get_by_text("Restored run TRASH-E2E").wait_for()
    page.goto(f"{server.url}/experiments")
    page.get_by_text(re.compile(r"^1 run\(s\)")).first.wait_for()
    assert "Traceback" not in page.content()
