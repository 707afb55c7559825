from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.store import SYSTEM
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from core.tuning import driver_run
from core.tuning import load_optuna_study
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_train import test_launch_training_from_the_page as _launch_training
from tests.waiting import wait_until


def _base_run(app: AppTest) -> str:
    store = open_store(get_config())
    runs = [
        r
        for r in list_runs(store, kind="train", statuses=["succeeded"], viewer=SYSTEM)
        if not r.spec_json.get("trial")
    ]
    if not runs:
        _launch_training(app)
        return _base_run(app)
    return runs[0].id


def test_start_a_study_watch_it_and_promote_a_trial(app: AppTest) -> None:
    base = _base_run(app)
    store = open_store(get_config())
    open_page(app, "pages/tune.py", base=base)
    app.number_input(key="tune_trials").set_value(3)
    app.number_input(key="tune_parallel").set_value(2)
    app.text_input(key="tune_name").set_value("page study <b>")
    app.button(key="tune_start").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [plain(e.value) for e in app.error]
    study_id = app.query_params["study"]
    study_id = study_id[0] if isinstance(study_id, list) else study_id
    driver = wait_until_ended(
        store,
        wait_until(lambda: driver_run(store, study_id, viewer=SYSTEM), timeout=60, what="the driver").id,
        300,
    )
    assert driver.status == "succeeded", driver.status_reason
    trials = load_optuna_study(store.config, study_id).get_trials()
    assert len(trials) == 3 and len({t.params["optimizer.learning_rate"] for t in trials}) == 3

    fresh = AppTest.from_file(app._script_path, default_timeout=60)  # a reload, or a teammate's link
    open_page(fresh, "pages/tune.py", study=study_id)
    assert any(m.label == "complete" and m.value == "3" for m in fresh.metric)
    assert len(fresh.get("plotly_chart")) == 1  # the chart on screen (History)
    for title in ("Learning curves", "Parallel coordinates", "Importances", "Timeline"):
        fresh.radio(key="study_chart").set_value(title).run()
        assert not fresh.exception and fresh.get("plotly_chart"), title
        assert fresh.query_params["chart"] in (title, [title])
    assert any("page study <b>" in plain(s.value) for s in fresh.subheader)  # text, not HTML
    fresh.selectbox(key="trial_pick").set_value(trials[0].number).run()
    fresh.button(key="promote_trial").click().run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    run_id = trials[0].user_attrs["loom_run"]
    assert get_run(store, run_id, viewer=SYSTEM).spec_json["trial"]["study"] == study_id


def test_a_link_to_a_missing_study_says_so(app: AppTest) -> None:
    open_page(app, "pages/tune.py", study="0" * 32)
    assert any("no study" in plain(w.value) for w in app.warning)
