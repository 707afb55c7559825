"""Start a study from the Tune page in a real browser, with accounts off and on: watch its
history chart grow, and switch charts while the study runs (the chart picker reruns the page,
never only the live fragment, so a click is not lost when the study ends)."""

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


@pytest.fixture(scope="module", params=ACCOUNTS)
def tune_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisApp]:
    yield from iris_app(request, tmp_path_factory, "e2e-tuning")


@pytest.fixture
def pg(browser, tune_app: IrisApp, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, tune_app.server.url, tune_app.user)


def _complete(page) -> int:  # type: ignore[no-untyped-def]
    metric = page.get_by_test_id("stMetric").filter(has_text="complete").first
    text = metric.get_by_test_id("stMetricValue").inner_text(timeout=30_000)
    return int(text.strip() or 0)


_TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .map(el => ((el.layout || {}).title || {}).text || '')"""


def _pick_chart(page, title: str, drawn_title: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Pick a chart; ``drawn_title``: the title of the figure it draws (before trials complete, a
    chart may be a caption saying what it needs)."""
    page.get_by_text(title, exact=True).first.click()
    page.wait_for_url(re.compile(rf"chart={title.split()[0]}"))
    assert page.get_by_role("radio", name=title).is_checked()
    if drawn_title is None:
        return
    seen: list = []

    def drawn() -> bool:
        try:
            seen.append(page.evaluate(_TITLES))
        except Exception:  # noqa: BLE001 - the chart is replaced while the fragment redraws
            return False
        return any(drawn_title in t for t in seen[-1])

    wait_until(drawn, timeout=30, interval=0.25, what=lambda: f"{drawn_title!r} (drawn: {seen[-3:]})")


def test_start_a_study_and_see_the_history_grow(tune_app: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    url = tune_app.server.url
    launch_training(pg, url, tune_app.iris, epochs=2)
    pg.get_by_text("succeeded").first.wait_for(timeout=180_000)

    pg.goto(f"{url}/tune")
    pg.get_by_text("Start from training run").wait_for()
    trials = pg.get_by_label("Trials")
    trials.fill("6")
    trials.press("Enter")
    pg.wait_for_timeout(500)  # the rerun that takes the number: nothing on the page marks it
    pg.get_by_role("button", name="Start study").click()
    pg.wait_for_url(re.compile(r"/tune\?study=[0-9a-f]{32}"), timeout=60_000)
    stop = pg.get_by_role("button", name="Stop study")
    stop.wait_for()

    # While it runs, the picker switches the chart, and the URL says which (a shared link opens it).
    _pick_chart(pg, "Parallel coordinates")
    _pick_chart(pg, "History")
    assert stop.is_visible(), "the study ended before the charts were switched while it ran"

    seen: list[int] = []

    def six_complete() -> bool:
        seen.append(_complete(pg))
        return seen[-1] >= 6

    wait_until(six_complete, timeout=300, interval=1, what=lambda: f"6 complete trials (seen: {seen})")
    assert seen[0] < 6, f"the count should grow while we watch: {seen}"
    # The study's run ends a moment after its last trial; the page then draws the finished board
    # (no live fragment), keeping the chart picked.
    stop.wait_for(state="detached", timeout=60_000)
    assert "chart=History" in pg.url
    assert pg.get_by_role("radio", name="History").is_checked()
    # The history chart holds one point per complete trial (plus the best-value line).
    chart = pg.get_by_test_id("stPlotlyChart").first
    chart.wait_for()
    assert chart.locator("g.point, path.point").count() >= 6
    _pick_chart(pg, "Parallel coordinates", "Parallel Coordinate Plot")
