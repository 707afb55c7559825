"""The project switcher used just as a watched run ends, in a real browser (accounts off and on).

When a run ends, the Jobs page's live fragment reruns the page for the finished view. A switch to
another project at that moment left Chromium blank (a run that ended in ``st.stop()`` kept the old
fragment, whose queued timer tick then drew into a place the page no longer had: "Bad delta path
index"), or drew the old project again under the new URL (the superseded run loaded its older URL
into the shared query parameters after the switch wrote its own). Each round launches a short
smoke run and switches at a different moment around its end, to a project without runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.config import AppConfig
from core.sharing import create_user
from core.store import open_store
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.e2e.test_accounts import _settled

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# Seconds from Launch to the switch: a 4-step run at 0.25 s a step ends about a second in, so the
# rounds switch before, at and just after its end (and the finished view's rerun).
DELAYS = [0.6, 0.9, 1.2, 1.5, 1.8]


@pytest.fixture(scope="module", params=ACCOUNTS)
def live_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    data = tmp_path_factory.mktemp("e2e-live-end") / "data"
    if request.param == "accounts on":
        store = open_store(AppConfig.for_data_dir(data))
        create_user(store, "ann", "ann-password-long")
        store.engine.dispose()
        server, user = AppServer(data, LOOM_AUTH="on"), "ann"
    else:
        server, user = AppServer(data, LOOM_USER="dana"), None
    yield server, user
    server.stop()


@pytest.fixture
def pg(browser, live_app, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    server, user = live_app
    yield from open_page(browser, request, server.url, user)


def _fill_steps(pg, steps) -> None:  # type: ignore[no-untyped-def]
    """Four steps in the smoke launcher, opening it where it is folded (once the project has
    runs). The page's first runs may still be drawing: a launcher seen open can fold as the page
    draws it again (the suite saw "element is inert", then hidden), so each try looks again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(4):
        if not steps.is_visible():
            pg.get_by_text("Launch the smoke job").first.click()
        try:
            steps.fill("4", timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    steps.fill("4")


def test_switch_project_as_the_run_ends(live_app, pg) -> None:  # type: ignore[no-untyped-def]
    url = live_app[0].url
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{url}/projects")
    pg.get_by_text("Create a project", exact=True).click()
    pg.get_by_label("Name", exact=True).fill("Images")
    pg.get_by_role("button", name="Create project").click()
    pg.get_by_text("Created project Images").wait_for()
    pg.wait_for_url(re.compile(r"project=[0-9a-f]{32}"))
    images = re.search(r"project=([0-9a-f]{32})", pg.url).group(1)  # type: ignore[union-attr]
    steps = pg.get_by_label("Steps", exact=True)
    for i, delay in enumerate(DELAYS):
        pg.goto(f"{url}/jobs?project={images}")
        pg.get_by_text("No runs yet").or_(pg.get_by_role("combobox", name="Run", exact=True)).first.wait_for()
        _fill_steps(pg, steps)
        pg.get_by_role("button", name="Launch").click()
        pg.wait_for_url(re.compile(r"run=[0-9a-f]{32}"))
        pg.wait_for_timeout(delay * 1000)  # the scenario: the moment of the click, not a wait for state
        pick(pg, "Project", "/ Default", exact=False)
        try:
            pg.get_by_text("No runs yet").wait_for(timeout=30_000)
        except Exception as exc:  # noqa: BLE001 - said with what the browser reported
            what = f"round {i} (switch {delay} s after Launch)"
            raise AssertionError(f"{what}: {exc}; page errors {errors}") from exc
        _settled(pg)  # and it stays: no late redraw of the old project, no blank page
        assert pg.get_by_text("No runs yet").is_visible(), f"round {i}: the view changed after the switch"
        switcher = pg.get_by_test_id("stSidebar").get_by_role("combobox", name="Project")
        assert "/ Default" in switcher.input_value()
        assert images not in pg.url and "run=" not in pg.url, pg.url
        assert not errors, f"round {i}: {errors}"
