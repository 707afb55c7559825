from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import SYSTEM
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.test_train import test_launch_training_from_the_page as _launch_training

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _trained_iris(app: AppTest) -> str:
    store = open_store(get_config())
    for run in list_runs(store, kind="train", statuses=["succeeded"], viewer=SYSTEM):
        if "features" in run.result_json and run.spec_json["pipeline"]["target"] == "species":
            return run.id
    _launch_training(app)
    return _trained_iris(app)


def test_predict_on_a_dataset_and_reopen_by_link(app: AppTest) -> None:
    model_run = _trained_iris(app)
    store = open_store(get_config())
    rows = ingest_file(store, ASSETS / "iris.csv", "csv", "new iris rows")
    open_page(app, "pages/predict.py", model=model_run)
    assert app.selectbox(key="model_select").value == model_run
    app.radio(key="predict_rows").set_value("A dataset in Loom").run()
    app.selectbox(key="predict_ds").set_value(rows.id).run()
    app.button(key="predict_go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run_id = (
        app.query_params["run"][0] if isinstance(app.query_params["run"], list) else app.query_params["run"]
    )
    wait_until_ended(store, run_id, 120)
    assert get_run(store, run_id, viewer=SYSTEM).status == "succeeded", get_run(
        store, run_id, viewer=SYSTEM
    ).status_reason

    fresh = AppTest.from_file(app._script_path, default_timeout=60)  # a teammate opening the link
    open_page(fresh, "pages/predict.py", model=model_run, run=run_id)
    table = fresh.dataframe[0].value
    assert len(table) == 150 and {"prediction", "p(setosa)"} <= set(table.columns)
    assert any("150 of 150 rows predicted" in c.value for c in fresh.caption)


def test_jobs_page_offers_the_bundle_and_prediction(app: AppTest) -> None:
    model_run = _trained_iris(app)
    open_page(app, "pages/jobs.py", run=model_run)
    assert app.get("download_button"), "no bundle download on a succeeded training run"


def test_a_link_to_a_missing_prediction_says_so(app: AppTest) -> None:
    _trained_iris(app)
    open_page(app, "pages/predict.py", run="f" * 32)
    assert any("no longer exists" in w.value for w in app.warning)
