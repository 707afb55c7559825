"""Launch a training run from the Train page and watch its curve grow; steer it; stop it."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import add_sample
from tests.e2e.conftest import launch_training
from tests.e2e.test_smoke_job import _points
from tests.e2e.test_smoke_job import _wait_points_above

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_launch_training_and_watch_it(app_server, page) -> None:  # type: ignore[no-untyped-def]
    launch_training(page, app_server.url, add_sample(page, app_server.url), epochs=400)

    first = _wait_points_above(page, 0, timeout=120)
    _wait_points_above(page, first + 20, timeout=120)  # the curve grows while we watch
    lr = page.get_by_label("New learning rate")
    lr.fill("0.01")
    lr.press("Enter")
    page.get_by_role("button", name="Set", exact=True).click()
    page.get_by_text("set_lr 0.01").first.wait_for(timeout=30_000)  # the marker on the curve
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped on request").wait_for()
    assert _points(page) > first
