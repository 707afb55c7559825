"""The run page's Evaluations section: score a trained run on another dataset from the page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.data import list_datasets
from core.store import SYSTEM
from core.store import list_runs
from core.store import open_store
from core.training import list_evaluations
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_predict import _trained_iris
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _dataset_box(app: AppTest):  # type: ignore[no-untyped-def]
    """The form's dataset choice (its key changes with each submitted form)."""
    return next(b for b in app.selectbox if b.label == "Evaluate on a dataset")


def _evaluate_on(app: AppTest, run_id: str, name: str) -> None:
    box = _dataset_box(app)
    box.select_index(next(i for i, o in enumerate(box.options) if o.startswith(name)))  # sent with the form
    next(b for b in app.button if b.label == "Evaluate").click().run()
    assert not app.exception, [e.value for e in app.exception]


def test_evaluate_a_run_on_another_dataset_from_its_page(app: AppTest, tmp_path: Path) -> None:
    model_run = _trained_iris(app)
    store = open_store(get_config())
    iris = pd.read_csv(ASSETS / "iris.csv")
    iris[::-1].to_csv(tmp_path / "later.csv", index=False)  # other bytes: a dataset of its own
    ingest_file(store, tmp_path / "later.csv", "csv", "later iris")
    iris.drop(columns=["petal_length_cm"]).to_csv(tmp_path / "s.csv", index=False)
    ingest_file(store, tmp_path / "s.csv", "csv", "short iris")
    open_page(app, "pages/jobs.py", run=model_run)
    assert any(h.value == "Evaluations" for h in app.subheader)
    before = len(list_evaluations(store, model_run, viewer=SYSTEM))

    _evaluate_on(app, model_run, "later iris")
    stored = lambda: len(list_evaluations(store, model_run, viewer=SYSTEM)) > before  # noqa: E731
    wait_until(stored, timeout=120, what="the evaluation stored")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    table = next(d.value for d in app.dataframe if "dataset" in d.value.columns)
    assert "later iris" in list(table["dataset"]) and {"accuracy", "loss"} <= set(table.columns)
    # The same 150 rows in another order: the 120 the split trained on are counted and labelled.
    assert list(table["rows trained on"]) == ["⚠ 80 % (120 of 150)"]
    assert any(
        "80 % of these rows were used in training (120 of 150): this score is not a held-out score" in w.value
        for w in app.warning
    )

    # A dataset without a column the pipeline reads: named at once, before any job; nothing is
    # stored and the choice stays as it was.
    jobs = len(list_runs(store, kind="evaluate", viewer=SYSTEM))
    _evaluate_on(app, model_run, "short iris")
    (error,) = [plain(e.value) for e in app.error]
    assert "Dataset 'short iris' lacks column(s) ['petal_length_cm']" in error
    assert "Choose a dataset with the training data's columns" in error
    assert _dataset_box(app).options[_dataset_box(app).index].startswith("short iris")
    assert len(list_runs(store, kind="evaluate", viewer=SYSTEM)) == jobs
    assert len(list_evaluations(store, model_run, viewer=SYSTEM)) == before + 1


def test_compare_lists_the_runs_evaluations(app: AppTest) -> None:
    model_run = _trained_iris(app)
    store = open_store(get_config())
    (evaluation, *_) = list_evaluations(store, model_run, viewer=SYSTEM)  # the test above made one
    open_page(app, "pages/compare.py", runs=f"{model_run},{evaluation.id}")
    table = next(d.value for d in app.dataframe if "dataset" in d.value.columns)
    assert list(table["dataset"]) == [evaluation.dataset_name]
    assert table["accuracy"][0] == round(evaluation.metrics["accuracy"], 4)
    assert list(table["rows trained on"]) == [evaluation.overlap_summary]
    assert any(evaluation.overlap_warning in w.value for w in app.warning)


def _forest_on(app: AppTest, dataset_id: str) -> str:
    """A 20-tree random forest launched from the Train page on that dataset; its run ID."""
    store = open_store(get_config())
    open_page(app, "pages/train.py", dataset=dataset_id)
    app.radio(key="train_family_").set_value("scikit-learn").run()
    app.number_input(key="est_random_forest_n_estimators").set_value(20).run()
    app.button(key="est_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == dataset_id)
    assert wait_until_ended(store, run.id, 120).status == "succeeded"
    return run.id


def test_the_training_dataset_is_never_preselected_and_is_labelled(app: AppTest, tmp_path: Path) -> None:
    """The run trained on the newest dataset (as the seed's MNIST run did on its own file): the form
    preselects the newest other dataset with the run's columns, and names the training one; scored
    on it anyway, the evaluation carries the overlap label."""
    store = open_store(get_config())
    iris = pd.read_csv(ASSETS / "iris.csv")
    iris.sample(frac=1, random_state=3).to_csv(tmp_path / "shuffled.csv", index=False)
    shuffled = ingest_file(store, tmp_path / "shuffled.csv", "csv", "shuffled iris")
    iris.drop(columns=["sepal_width_cm"]).to_csv(tmp_path / "narrow.csv", index=False)
    ingest_file(store, tmp_path / "narrow.csv", "csv", "narrow iris")  # lacks a column the run reads
    iris.assign(sepal_length_cm=iris["sepal_length_cm"] + 0.01).to_csv(tmp_path / "fresh.csv", index=False)
    fresh = ingest_file(store, tmp_path / "fresh.csv", "csv", "fresh iris")  # the newest: trained on
    run_id = _forest_on(app, fresh.id)

    open_page(app, "pages/jobs.py", run=run_id)
    box = _dataset_box(app)
    assert box.value == shuffled.id
    assert [o for o in box.options if o.startswith("fresh iris")] == [
        "fresh iris (150 rows) · the run's training data"
    ]
    assert not any(o.endswith("the run's training data") for o in box.options if o.startswith("shuffled"))

    _evaluate_on(app, run_id, "fresh iris")
    wait_until(lambda: list_evaluations(store, run_id, viewer=SYSTEM), timeout=120, what="the evaluation")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert (evaluation.overlap_rows, evaluation.overlap_of) == (120, 150)
    assert any("of these rows were used in training (120 of 150)" in w.value for w in app.warning)
    assert any(e.label.endswith("⚠ not held out") for e in app.expander)
    # Scored on "fresh iris" already and trained on it: the next newest with the columns.
    assert _dataset_box(app).value == shuffled.id
    # The evaluate job's own page labels its metrics too.
    open_page(app, "pages/jobs.py", run=evaluation.id)
    assert not app.exception, [e.value for e in app.exception]
    shown = [w.value for w in app.warning if "used in training" in w.value]
    assert shown == [evaluation.overlap_warning.removeprefix("⚠ ")]  # a leading emoji becomes the icon


def test_a_submitted_upload_is_let_go(app: AppTest, tmp_path: Path) -> None:
    """The uploader is emptied once its file is submitted: pressing Evaluate again does not upload
    and score the file a second time."""
    store = open_store(get_config())
    pd.read_csv(ASSETS / "iris.csv")[::2].to_csv(tmp_path / "half.csv", index=False)
    run_id = _forest_on(app, ingest_file(store, tmp_path / "half.csv", "csv", "half iris").id)
    open_page(app, "pages/jobs.py", run=run_id)
    (uploader,) = app.get("file_uploader")
    holdout = pd.read_csv(ASSETS / "iris.csv").sample(40, random_state=7).to_csv(index=False).encode()
    uploader.set_value(("holdout.csv", holdout, "text/csv"))
    _dataset_box(app).set_value(None)
    next(b for b in app.button if b.label == "Evaluate").click().run()
    assert not app.exception, [e.value for e in app.exception]
    (uploader,) = app.get("file_uploader")
    assert uploader.value is None, "the uploader still holds the submitted file"

    def stored():  # type: ignore[no-untyped-def]
        app.run()  # the page's pending check moves the upload on to its evaluation, then ends
        busy = any(i.value.startswith(("Reading the file", "Evaluating")) for i in app.info)
        return not busy and list_evaluations(store, run_id, viewer=SYSTEM)

    (evaluation,) = wait_until(stored, timeout=120, interval=0.5, what="the upload's evaluation")
    assert evaluation.dataset_name == "holdout.csv" and evaluation.overlap_of == 40
    app.run()
    # A second press with no new file: the file is not uploaded or scored again (the choice moved
    # off the dataset just scored, to a dataset not yet scored, if any).
    uploads = [d for d in list_datasets(store, viewer=SYSTEM) if d.name == "holdout.csv"]
    assert [d.id for d in uploads] == [evaluation.dataset_id]
    assert _dataset_box(app).value != evaluation.dataset_id
    next(b for b in app.button if b.label == "Evaluate").click().run()
    assert not app.exception, [e.value for e in app.exception]
    wait_until(stored, timeout=120, interval=0.5, what="any evaluation the press started to end")
    assert [d for d in list_datasets(store, viewer=SYSTEM) if d.name == "holdout.csv"] == uploads
    scored = [e.dataset_id for e in list_evaluations(store, run_id, viewer=SYSTEM)]
    assert scored.count(evaluation.dataset_id) == 1
