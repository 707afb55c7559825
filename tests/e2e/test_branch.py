"""Branch from here in Chromium: a finished run's page offers its kept epochs; the link opens
Train prefilled; Launch starts the branch, whose page draws the parent's history faded."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import add_sample
from tests.e2e.conftest import drawn_curve
from tests.e2e.conftest import launch_training
from tests.e2e.conftest import pick
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_branch_a_finished_run_with_another_learning_rate(app_server, page) -> None:  # type: ignore[no-untyped-def]
    parent = launch_training(page, app_server.url, add_sample(page, app_server.url), epochs=4)
    page.get_by_text("succeeded", exact=False).first.wait_for(timeout=240_000)
    # The default rule keeps the last two epochs (3, 4) and the best.
    page.get_by_text(re.compile(r"Checkpoints: epochs .*3, 4 kept")).wait_for(timeout=60_000)
    pick(page, "Branch from epoch", "3")
    page.get_by_role("link", name="Branch from epoch 3").click()
    page.wait_for_url(re.compile(rf"/train\?branch={parent}&epoch=3"))
    page.get_by_text("from epoch 3: the branch loads that epoch's checkpoint").wait_for()
    lr = page.get_by_label("Learning rate")
    lr.fill("0.01")
    lr.press("Enter")
    epochs = page.get_by_label("Epochs (in all)")
    epochs.fill("6")
    epochs.press("Enter")
    page.get_by_role("button", name="Launch the branch").click()
    page.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
    assert parent not in page.url
    page.get_by_text("succeeded", exact=False).first.wait_for(timeout=240_000)
    wait_until(
        lambda: drawn_curve(page, "epoch/loss (parent)")[0] == [1, 2, 3],
        timeout=60,
        what="the parent's history",
    )
    assert drawn_curve(page, "epoch/loss")[0] == [4, 5, 6]
