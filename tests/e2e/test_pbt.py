"""Population-based training in a real browser, with accounts off and on: start a small
population from the Tune page, watch its family tree grow while it trains (the live fragment),
and freeze a setting: the action shows among the population's events."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import launch_training
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# The segments drawn on the family tree: one trace per member segment.
_SEGMENTS = """() => {
    for (const el of document.querySelectorAll('.js-plotly-plot')) {
        const title = ((el.layout || {}).title || {}).text || '';
        if (title === 'Population family tree')
            return (el._fullData || []).filter(t => (t.name || '').startsWith('member ')).length;
    }
    return 0;
}"""


@pytest.fixture(scope="module", params=ACCOUNTS)
def pbt_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisApp]:
    yield from iris_app(request, tmp_path_factory, "e2e-pbt")


@pytest.fixture
def pg(browser, pbt_app: IrisApp, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, pbt_app.server.url, pbt_app.user)


def _fill(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)  # the rerun that takes the number: nothing on the page marks it


def test_start_a_population_watch_its_tree_grow_and_freeze_a_setting(pbt_app: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    url = pbt_app.server.url
    launch_training(pg, url, pbt_app.iris, epochs=1)
    pg.get_by_text("succeeded").first.wait_for(timeout=180_000)

    pg.goto(f"{url}/tune")
    pg.get_by_text("Start from training run").wait_for()
    pg.get_by_text("Population-based training", exact=True).click()
    pg.get_by_role("button", name="Start population").wait_for()
    _fill(pg, "Members", 3)
    _fill(pg, "Epochs per member", 4)
    _fill(pg, "Exploit every (epochs)", 1)
    pg.get_by_role("button", name="Start population").click()
    pg.wait_for_url(re.compile(r"/tune\?study=[0-9a-f]{32}"), timeout=60_000)
    pg.get_by_text("Population-based training · 3 members × 4 epochs", exact=False).wait_for()
    stop = pg.get_by_role("button", name="Stop population")
    stop.wait_for()

    # While it trains, freeze the learning rate (the only setting explored).
    pg.get_by_role("button", name="Freeze it").click()
    pg.get_by_text(re.compile(r"froze optimizer\.learning_rate: explore leaves it as it is")).wait_for(
        timeout=60_000
    )

    seen: list[int] = []

    def grown() -> bool:
        try:
            seen.append(int(pg.evaluate(_SEGMENTS)))
        except Exception:  # noqa: BLE001 - the chart is replaced while the fragment redraws
            return False
        return seen[-1] >= 6

    # The tree grows round by round while we watch (3 members: 3 segments a round).
    wait_until(grown, timeout=400, interval=1, what=lambda: f"two rounds on the tree (seen: {seen[-5:]})")
    assert min(seen) < 6, f"the tree should grow while we watch: {seen}"
    pg.get_by_text(re.compile(r"member \d copied member \d at epoch \d")).first.wait_for(timeout=400_000)
    stop.wait_for(state="detached", timeout=400_000)  # it finished: the board without the fragment
    assert int(pg.evaluate(_SEGMENTS)) == 12
