"""scikit-learn in a real browser, with accounts off and on: pick scikit-learn and a random forest
on the Train page, launch, watch it finish with its progress points on the run page, click
"Baselines for this data", and see Compare open with the three baselines beside the forest.

The dataset is written into the store before the app starts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.store import thaw
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


Seeded = IrisApp


@pytest.fixture(scope="module", params=ACCOUNTS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from iris_app(request, tmp_path_factory, "e2e-estimators")


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _succeeded(store, run_id: str, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    def done() -> bool:
        run = get_run(store, run_id, viewer=SYSTEM)
        assert run.status not in ("failed", "stopped", "interrupted"), run.status_reason
        return run.status == "succeeded"

    wait_until(done, timeout=timeout, interval=0.5, what=f"run {run_id} to succeed")


def test_random_forest_then_baselines_in_compare(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    store = open_store(seeded.config)
    pg.goto(f"{seeded.server.url}/train?dataset={seeded.iris}")
    pg.get_by_text("Model family").wait_for()
    pg.get_by_text("scikit-learn", exact=True).click()
    estimator = pg.get_by_role("combobox", name="Estimator", exact=True)
    estimator.wait_for()
    assert estimator.input_value() == "random forest"
    epochs = pg.get_by_label("Epochs")  # optimizer and epochs do not apply: gone once redrawn
    wait_until(lambda: epochs.count() == 0, timeout=30, interval=0.2, what="the Keras settings to go")
    trees = pg.get_by_role("spinbutton", name="n estimators")
    trees.fill("40")
    trees.press("Enter")
    pg.get_by_text("(grown in chunks: one live point each)").wait_for()
    pg.get_by_role("button", name="Launch", exact=True).click()
    pg.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
    run_id = pg.url.split("run=")[1][:32]
    _succeeded(store, run_id)
    run = get_run(store, run_id, viewer=SYSTEM)
    assert thaw(run.spec)["model"]["params"]["n_estimators"] == 40
    assert run.author == (seeded.user or run.author)
    # Its progress: one point per chunk of trees, drawn on the run page.
    points = get_metrics(store, run_id, viewer=SYSTEM)
    assert points["epoch/val_accuracy"].steps == list(range(1, 11))
    assert points["epoch/n_estimators"].values[-1] == 40
    # The finished view replaces the live one: a copy of the live view may linger meanwhile.
    pg.get_by_text(re.compile(r"[1-9][0-9]* points · run")).first.wait_for(timeout=60_000)
    pg.locator(".js-plotly-plot").first.wait_for()
    pg.get_by_text(f"models/{run_id}.skops").first.wait_for()  # a copy from the live view may linger

    button = pg.get_by_role("button", name="Baselines for this data")
    # The finished run's page is drawn once more as such; a copy from the live view may linger.
    wait_until(lambda: button.count() == 1, timeout=30, interval=0.2, what="one baselines button")
    button.click()
    pg.wait_for_url(re.compile(r"/compare\?runs="))
    ids = re.search(r"runs=([0-9a-f,%C]+)", pg.url)[1].replace("%2C", ",").split(",")  # type: ignore[index]
    assert ids[0] == run_id and len(ids) == 4
    for baseline in ids[1:]:
        _succeeded(store, baseline, 120)
        assert get_run(store, baseline, viewer=SYSTEM).name.startswith("Baseline · ")
    # Compare redraws once they end: the baselines are named beside the forest, drawn dashed.
    caption = pg.get_by_text(re.compile(r"^Dashed: baselines \("))
    caption.wait_for(timeout=60_000)
    text = caption.inner_text()
    for kind in ("dummy (majority)", "logistic regression", "histogram gradient boosting"):
        assert f"Baseline · {kind}" in text
    assert pg.locator(".js-plotly-plot").first.is_visible()
    still = pg.get_by_text("still training")
    wait_until(lambda: still.count() == 0, timeout=30, interval=0.5, what="Compare to redraw the ended runs")
