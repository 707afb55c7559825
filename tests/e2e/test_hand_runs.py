"""Studies that learn from people in Chromium, with accounts off and on (issue 30): on the Tune
page, add a hand-launched run to a study (it shows as a hand run, linked), then open the study's
next suggestion in Train, prefilled from the URL, and launch it as a seed group of two: the
first run is the trial, the other seed joins as a hand run when it ends.

The dataset, the study and the hand runs are written into the store; the browser does the rest."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.experiments import group_members
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Run
from core.store import RunEvent
from core.store import create_run
from core.store import open_store
from core.store import summarize_run
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import create_study
from core.tuning import load_optuna_study
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module", params=ACCOUNTS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisApp]:
    yield from iris_app(request, tmp_path_factory, "e2e-hand-runs")


@pytest.fixture
def pg(browser, seeded: IrisApp, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _study(seeded: IrisApp) -> tuple[str, str]:
    """A study on iris owned by the app's user, and a finished hand run inside its space."""
    from core.data import get_dataset
    from core.sharing import local_viewer
    from core.sharing import viewer_for

    store = open_store(seeded.config)
    owner = viewer_for(store, seeded.user) if seeded.user else local_viewer()
    ds = get_dataset(store, seeded.iris, viewer=SYSTEM)
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=2,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-4, 1e-1, log=True),))
    study_id = create_study(store, StudySpec(base, space.to_dict(), sampler="random"), "people", viewer=owner)
    spec = copy.deepcopy(base)
    spec["optimizer"]["learning_rate"] = 0.02
    run = create_run(store, "train", spec, name="hand inside", dataset_id=ds.id, author=owner.name)
    write_metrics(store, run.id, [("epoch/val_loss", 1, 0.7, 0.0), ("epoch/val_loss", 2, 0.4, 0.0)])
    summarize_run(store, run.id)
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    store.engine.dispose()
    return study_id, run.id


def test_add_a_hand_run_then_open_the_next_suggestion_in_train(seeded: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    study_id, run_id = _study(seeded)
    url = seeded.server.url
    pg.goto(f"{url}/tune?study={study_id}")
    expander = pg.get_by_text("Add hand runs (0 joined)")
    box = pg.get_by_role("combobox", name="Runs to add", exact=True)
    # The page's first run may still be drawing when the expander is clicked; a redraw can fold it.
    for _ in range(4):
        expander.click()
        try:
            box.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    pick(pg, "Runs to add", "hand inside", multi=True)
    pg.keyboard.press("Escape")
    pg.get_by_role("button", name="Add to the study").click()
    pg.get_by_text("Add hand runs (1 joined)").wait_for(timeout=60_000)
    store = open_store(seeded.config)
    (trial,) = load_optuna_study(store.config, study_id).get_trials()
    assert trial.user_attrs["hand_run"] == run_id and trial.value == 0.4
    expander = pg.get_by_text("Add hand runs (1 joined)")
    if not pg.get_by_role("link", name=f"Trial 0: hand run {run_id[:8]}").is_visible():
        expander.click()
    link = pg.get_by_role("link", name=f"Trial 0: hand run {run_id[:8]}")
    link.wait_for()
    assert f"run={run_id}" in (link.get_attribute("href") or "")

    pg.get_by_role("button", name="Open next suggestion in Train").click()
    pg.wait_for_url(re.compile(rf"/train\?suggestion={study_id}&trial=1"), timeout=60_000)
    pg.get_by_text("The study's suggestion").wait_for(timeout=60_000)
    suggested = load_optuna_study(store.config, study_id).get_trials()[1]
    assert suggested.state.name == "RUNNING" and suggested.user_attrs["suggested"]
    lr = suggested.params["optimizer.learning_rate"]
    box = pg.get_by_label("Learning rate")
    wait_until(
        lambda: abs(float(box.input_value()) - lr) <= 5e-6,
        timeout=30,
        interval=0.2,
        what="the suggested learning rate in the form",
    )

    # Launched as a seed group of 2: the first run (the suggested seed) is the trial, and the
    # other seed is to join the study as a hand run when it ends.
    box = pg.get_by_role("spinbutton", name="Repeat with N seeds", exact=True)
    box.fill("2")
    box.press("Enter")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"/experiments\?group=[0-9a-f]{32}"), timeout=60_000)
    group_id = pg.url.split("group=")[1][:32]
    first, second = group_members(store, group_id, viewer=SYSTEM)
    told = load_optuna_study(store.config, study_id).get_trials()[1]
    assert told.user_attrs["loom_run"] == first
    with store.session(SYSTEM) as s:
        pending = s.scalars(select(RunEvent.message).where(RunEvent.run_id == second)).all()
    assert f"joins study {study_id} as a hand run when it ends" in pending
