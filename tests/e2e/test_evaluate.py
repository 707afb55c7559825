"""Evaluate a run on another dataset in a real browser, with accounts off and on: a real short
training run on iris, launched from the Train page, is scored from its run page on a second file
(its evaluation then listed there, with its confusion matrix), and a file without a column the
pipeline reads fails with the column named, the stored evaluation untouched.

Every evaluation of the run on rows it trained on (later iris is iris reversed) is labelled
with that overlap on the page, and the training dataset is never the preselected choice.

The datasets are written into the store before the app starts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.sharing import create_user
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from core.training import list_evaluations
from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import launch_training
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@dataclass
class Seeded:
    server: AppServer
    config: AppConfig
    user: str | None
    iris: str
    trained: list[str]  # the runs the module's tests trained, for the next test to reuse


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-evaluate")
    config = AppConfig.for_data_dir(root / "data")
    store = open_store(config)
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    author = user or ""
    iris = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris.csv", author=author)
    frame = pd.read_csv(ROOT / "assets" / "iris.csv")
    frame[::-1].to_csv(root / "later.csv", index=False)
    ingest_file(store, root / "later.csv", "csv", "later iris", author=author)
    frame.drop(columns=["petal_length_cm"]).to_csv(root / "short.csv", index=False)
    ingest_file(store, root / "short.csv", "csv", "short iris", author=author)
    store.engine.dispose()
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(server, config, user, iris.id, [])
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _evaluate_on(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    box = pg.get_by_role("combobox", name="Evaluate on a dataset")
    box.click()
    pg.keyboard.type(name)
    pg.get_by_role("option", name=re.compile(re.escape(name))).first.click()
    wait_until(lambda: box.input_value().startswith(name), timeout=30, interval=0.2, what=f"{name} chosen")
    pg.get_by_role("button", name="Evaluate", exact=True).click()


def test_evaluate_a_run_on_another_file(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    run_id = launch_training(pg, seeded.server.url, seeded.iris, epochs=2)
    seeded.trained.append(run_id)
    store = open_store(seeded.config)
    wait_until(
        lambda: get_run(store, run_id, viewer=SYSTEM).status == "succeeded",
        timeout=180,
        interval=0.5,
        what="the training run to succeed",
    )
    pg.get_by_role("heading", name="Evaluations").wait_for(timeout=60_000)
    pg.get_by_text("Not yet scored on another dataset.").wait_for()
    # Never the training data preselected: the newest dataset with the run's columns that is not
    # it ("short iris" lacks one); the training data is named as such in the list.
    box = pg.get_by_role("combobox", name="Evaluate on a dataset")
    wait_until(lambda: box.input_value().startswith("later iris"), timeout=30, what="later iris chosen")
    box.click()
    pg.keyboard.type("iris.csv")
    pg.get_by_role(
        "option", name=re.compile(r"^iris\.csv \(150 rows\) · the run's training data$")
    ).wait_for()
    pg.keyboard.press("Escape")

    _evaluate_on(pg, "later iris")
    expander = pg.get_by_text(re.compile(r"^On later iris \("))
    expander.wait_for(timeout=120_000)
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert evaluation.dataset_name == "later iris" and 0 <= evaluation.metrics["accuracy"] <= 1
    # The same 150 rows reversed: the 120 the split trained on are labelled on the page.
    assert (evaluation.overlap_rows, evaluation.overlap_of) == (120, 150)
    pg.get_by_text(
        "On later iris: ⚠ 80 % of these rows were used in training (120 of 150): "
        "this score is not a held-out score."
    ).wait_for()
    assert sum(map(sum, evaluation.confusion["matrix"])) == 150  # type: ignore[index]
    expander.click()
    pg.locator(".js-plotly-plot").last.wait_for()  # the evaluation's confusion matrix

    _evaluate_on(pg, "short iris")
    pg.get_by_text(re.compile(r"Dataset 'short iris' lacks column\(s\) \['petal_length_cm'\]")).wait_for(
        timeout=120_000
    )
    assert [e.id for e in list_evaluations(store, run_id, viewer=SYSTEM)] == [evaluation.id]
    assert get_run(store, run_id, viewer=SYSTEM).status == "succeeded"


def test_evaluate_a_run_on_an_uploaded_file(seeded: Seeded, pg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(seeded.config)
    if seeded.trained:
        run_id = seeded.trained[0]
        pg.goto(f"{seeded.server.url}/jobs?run={run_id}")
    else:  # run alone
        run_id = launch_training(pg, seeded.server.url, seeded.iris, epochs=2)
    wait_until(
        lambda: get_run(store, run_id, viewer=SYSTEM).status == "succeeded",
        timeout=180,
        interval=0.5,
        what="the training run to succeed",
    )
    before = {e.id for e in list_evaluations(store, run_id, viewer=SYSTEM)}
    pd.read_csv(ROOT / "assets" / "iris.csv").sample(60, random_state=1).to_csv(
        tmp_path / "holdout.csv", index=False
    )
    pg.get_by_role("heading", name="Evaluations").wait_for(timeout=60_000)
    pg.locator("input[type=file]").set_input_files(tmp_path / "holdout.csv")
    pg.get_by_text("holdout.csv").first.wait_for()  # uploaded, waiting for the form
    pg.get_by_test_id("stFileChipName").filter(has_text="holdout.csv").wait_for()  # the uploader's file
    pg.get_by_role("button", name="Evaluate", exact=True).click()
    pg.get_by_text(re.compile(r"^On holdout.csv \(")).wait_for(timeout=180_000)
    (evaluation,) = [e for e in list_evaluations(store, run_id, viewer=SYSTEM) if e.id not in before]
    assert evaluation.dataset_name == "holdout.csv"
    assert sum(map(sum, evaluation.confusion["matrix"])) == 60  # type: ignore[index]
    # Rows sampled from the training file: those the run trained on are counted and labelled.
    assert evaluation.overlap_of == 60 and evaluation.overlap_rows
    pg.get_by_text(f"On holdout.csv: {evaluation.overlap_warning}").wait_for()
    # The uploader let go of the file: pressing Evaluate again uploads and scores nothing more.
    assert not pg.get_by_test_id("stFileChipName").count(), "the uploader still holds the file"
    # The file became one of the uploader's datasets, reusable like any other.
    from core.data import list_datasets

    (added,) = [d for d in list_datasets(store, viewer=SYSTEM) if d.name == "holdout.csv"]
    assert added.id == evaluation.dataset_id and added.n_rows == 60
