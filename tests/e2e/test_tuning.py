"""Start a study from the Tune page in a real browser and watch its history chart grow."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import add_sample
from tests.e2e.conftest import launch_training
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _complete(page) -> int:  # type: ignore[no-untyped-def]
    metric = page.get_by_test_id("stMetric").filter(has_text="complete").first
    text = metric.get_by_test_id("stMetricValue").inner_text(timeout=30_000)
    return int(text.strip() or 0)


def test_start_a_study_and_see_the_history_grow(app_server, page) -> None:  # type: ignore[no-untyped-def]
    launch_training(page, app_server.url, add_sample(page, app_server.url), epochs=2)
    page.get_by_text("succeeded").first.wait_for(timeout=180_000)

    page.goto(f"{app_server.url}/tune")
    page.get_by_text("Start from training run").wait_for()
    trials = page.get_by_label("Trials")
    trials.fill("4")
    trials.press("Enter")
    page.get_by_role("button", name="Start study").click()
    page.wait_for_url(re.compile(r"/tune\?study=[0-9a-f]{32}"), timeout=60_000)
    page.get_by_text("Parallel coordinates").first.wait_for()

    seen: list[int] = []

    def four_complete() -> bool:
        seen.append(_complete(page))
        return seen[-1] >= 4

    wait_until(four_complete, timeout=300, interval=1, what=lambda: f"4 complete trials (seen: {seen})")
    assert seen[0] < 4, f"the count should grow while we watch: {seen}"
    # The history chart holds one point per complete trial (plus the best-value line).
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.wait_for()
    assert chart.locator("g.point, path.point").count() >= 4
