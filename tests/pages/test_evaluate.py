"""The run page's Evaluations section: score a trained run on another dataset from the page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import SYSTEM
from core.store import open_store
from core.training import list_evaluations
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_predict import _trained_iris
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _evaluate_on(app: AppTest, run_id: str, name: str) -> None:
    box = app.selectbox(key=f"evaluate_dataset_{run_id}")
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

    # A dataset without a column the pipeline reads: the page names it; nothing is stored.
    _evaluate_on(app, model_run, "short iris")
    wait_until(
        lambda: app.run() and any("petal_length_cm" in plain(e.value) for e in app.error),
        timeout=60,
        interval=0.5,
        what="the failure on the page",
    )
    assert len(list_evaluations(store, model_run, viewer=SYSTEM)) == before + 1


def test_compare_lists_the_runs_evaluations(app: AppTest) -> None:
    model_run = _trained_iris(app)
    store = open_store(get_config())
    (evaluation, *_) = list_evaluations(store, model_run, viewer=SYSTEM)  # the test above made one
    open_page(app, "pages/compare.py", runs=f"{model_run},{evaluation.id}")
    table = next(d.value for d in app.dataframe if "dataset" in d.value.columns)
    assert list(table["dataset"]) == [evaluation.dataset_name]
    assert table["accuracy"][0] == round(evaluation.metrics["accuracy"], 4)
