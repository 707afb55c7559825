"""scikit-learn on the Train page, an estimator run's page, and baselines compared beside a run
(AppTest on the real app, a real store and an in-process cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.models import EstimatorSpec
from core.models import estimator_warnings
from core.store import SYSTEM
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from core.store import thaw
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _keys(widgets) -> set[str]:  # type: ignore[no-untyped-def]
    return {w.key for w in widgets}


def _forest(app: AppTest) -> str:
    """Launch a 20-tree random forest on iris from the Train page; returns its run ID."""
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    open_page(app, "pages/train.py", dataset=ds.id)
    app.radio(key="train_family_").set_value("scikit-learn").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="est_kind_").value == "random_forest"
    # Optimizer, epochs and batch size do not apply to a scikit-learn model: not shown.
    assert not {"train_opt", "train_template_False_False"} & _keys(app.selectbox)
    assert not {"train_epochs", "train_batch"} & _keys(app.number_input)
    app.number_input(key="est_random_forest_n_estimators").set_value(20)
    app.number_input(key="est_random_forest_max_depth").set_value(4).run()
    app.button(key="est_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == ds.id)
    assert wait_until_ended(store, run.id, 120).status == "succeeded"
    return run.id


def test_train_page_launches_a_random_forest_and_its_page_shows_it(app: AppTest) -> None:
    run_id = _forest(app)
    store = open_store(get_config())
    run = get_run(store, run_id, viewer=SYSTEM)
    assert (
        thaw(run.spec)["model"]
        == EstimatorSpec("random_forest", "multiclass", {"n_estimators": 20, "max_depth": 4}).to_dict()
    )
    assert run.name.startswith("iris · random forest · ")
    open_page(app, "pages/jobs.py", run=run_id)
    labels = [m.label for m in app.metric]
    assert "validation accuracy" in labels and "validation loss" in labels
    assert any(f"models/{run_id}.skops" in c.value for c in app.caption)
    assert len(app.get("plotly_chart")) >= 2  # the per-chunk curves and the confusion matrix
    assert any("random forest (scikit-learn)" in m.value for m in app.markdown)


def test_a_classifier_on_a_continuous_target_is_warned(app: AppTest, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    # A measured target: 25 distinct fractional values, each often enough to stratify on.
    rng = np.random.default_rng(0)
    x = rng.normal(size=250)
    pd.DataFrame({"x": x, "y": np.round(np.repeat(np.linspace(0.05, 9.95, 25), 10), 2)}).to_csv(
        tmp_path / "measured.csv", index=False
    )
    store = open_store(get_config())
    ds = ingest_file(store, tmp_path / "measured.csv", "csv", "measured")
    open_page(app, "pages/train.py", dataset=ds.id)
    app.selectbox(key="train_target").set_value("y").run()
    assert app.selectbox(key="train_task_y").value == "regression"
    app.selectbox(key="train_task_y").set_value("multiclass").run()
    app.radio(key="train_family_").set_value("scikit-learn").run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("The target looks continuous" in plain(w.value) for w in app.warning)
    big = estimator_warnings(EstimatorSpec("svm", "binary"), 500_000, "binary")
    assert len(big) == 1 and "500,000 rows" in big[0] and "100× to 1,000×" in big[0]
    assert "k-nearest" in estimator_warnings(EstimatorSpec("knn", "binary"), 60_000)[0]
    assert estimator_warnings(EstimatorSpec("knn", "binary"), 50_000) == []


def test_baselines_from_a_run_page_open_compare_beside_it(app: AppTest) -> None:
    store = open_store(get_config())
    run_id = next(
        (r.id for r in list_runs(store, kind="train", viewer=SYSTEM) if r.name.startswith("iris · random")),
        None,
    ) or _forest(app)
    open_page(app, "pages/jobs.py", run=run_id)
    app.button(key=f"run_baselines_{run_id}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    runs = app.query_params["runs"]
    ids = (runs[0] if isinstance(runs, list) else runs).split(",")
    assert ids[0] == run_id and len(ids) == 4
    for baseline in ids[1:]:
        assert wait_until_ended(store, baseline, 120).status == "succeeded"
    open_page(app, "pages/compare.py", runs=",".join(ids), metric="epoch/val_accuracy")
    table = app.dataframe[1].value  # settings first, then metrics
    assert list(table["model"]) == [
        "random forest",
        "dummy (majority)",
        "logistic regression",
        "histogram gradient boosting",
    ]
    assert list(table["baseline"]) == [False, True, True, True]
    assert any("Dashed: baselines" in c.value for c in app.caption)
    # The Train page's button for the same data reuses them.
    open_page(app, "pages/train.py", dataset=get_run(store, run_id, viewer=SYSTEM).dataset_id)
    app.button(key="train_baselines").click().run()
    runs = app.query_params["runs"]
    assert (runs[0] if isinstance(runs, list) else runs).split(",") == ids[1:]


def test_tune_page_offers_a_forests_hyperparameters_and_runs_a_study(app: AppTest) -> None:
    from core.tuning import driver_run
    from core.tuning import load_optuna_study
    from tests.waiting import wait_until

    store = open_store(get_config())
    run_id = next(
        (r.id for r in list_runs(store, kind="train", viewer=SYSTEM) if r.name.startswith("iris · random")),
        None,
    ) or _forest(app)
    open_page(app, "pages/tune.py", base=run_id)
    space = next(d.value for d in [*app.dataframe, *app.data_editor] if "path" in d.value.columns)
    assert list(space["setting"]) == ["n estimators", "max depth", "min samples leaf", "max features"]
    assert list(space["tune"]) == [True, False, False, False]  # the first one ticked to start with
    assert "val_accuracy" in app.selectbox(key="tune_objective").options
    app.number_input(key="tune_trials").set_value(2)
    app.button(key="tune_start").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [plain(e.value) for e in app.error]
    study_id = app.query_params["study"]
    study_id = study_id[0] if isinstance(study_id, list) else study_id
    driver = wait_until(lambda: driver_run(store, study_id, viewer=SYSTEM), timeout=60, what="the driver")
    assert wait_until_ended(store, driver.id, 300).status == "succeeded"
    trials = load_optuna_study(store.config, study_id).get_trials()
    assert len(trials) == 2 and all("model.params.n_estimators" in t.params for t in trials)


def test_tweak_and_rerun_of_a_forest_opens_train_prefilled(app: AppTest) -> None:
    store = open_store(get_config())
    run_id = next(
        (r.id for r in list_runs(store, kind="train", viewer=SYSTEM) if r.name.startswith("iris · random")),
        None,
    ) or _forest(app)
    open_page(app, "pages/train.py", from_run=run_id)
    assert app.radio(key=f"train_family_{run_id}").value == "scikit-learn"
    assert app.selectbox(key="est_kind_random_forest").value == "random_forest"
    assert app.number_input(key="est_random_forest_n_estimators").value == 20
    assert app.number_input(key="est_random_forest_max_depth").value == 4
    app.number_input(key="est_random_forest_n_estimators").set_value(10).run()
    app.button(key="est_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    child = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.parent_id == run_id)
    assert child.parent_kind == "forked"
    assert thaw(child.spec)["model"]["params"] == {
        **EstimatorSpec("random_forest").params,
        "n_estimators": 10,
        "max_depth": 4,
    }


def test_a_hyperparameter_out_of_range_is_named_and_launches_nothing(app: AppTest) -> None:
    # Issue 27: the widget kept the last valid value of one typed out of range; now the value is
    # read as typed and the spec's check names it, with no Launch to press.
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    before = {r.id for r in list_runs(store, kind="train", viewer=SYSTEM)}
    open_page(app, "pages/train.py", dataset=ds.id)
    app.radio(key="train_family_").set_value("scikit-learn").run()
    app.number_input(key="est_random_forest_n_estimators").set_value(9000).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(
        "n_estimators <= 5000" in plain(e.value) and "n_estimators=9000" in plain(e.value) for e in app.error
    )
    assert not [b for b in app.button if b.key == "est_launch"]
    app.number_input(key="est_random_forest_n_estimators").set_value(20).run()
    app.number_input(key="est_seed").set_value(-1).run()
    app.button(key="est_launch").click().run()
    assert "Seed must be between 0 and 2,147,483,647, but got -1" in plain(app.error[-1].value)
    assert {r.id for r in list_runs(store, kind="train", viewer=SYSTEM)} == before
