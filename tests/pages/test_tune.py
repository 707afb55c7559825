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
    header = next(c.value for c in fresh.caption if " sampler · " in c.value)
    assert "· no pruner ·" in header and "None pruner" not in header, header
    assert len(fresh.get("plotly_chart")) == 1  # the chart on screen (History)
    for title in ("Learning curves", "Parallel coordinates", "Importances", "Timeline"):
        fresh.radio(key="study_chart").set_value(title).run()
        assert not fresh.exception and fresh.get("plotly_chart"), title
        assert fresh.query_params["chart"] in (title, [title])
    odd = AppTest.from_file(app._script_path, default_timeout=60)  # a link with a chart we lack
    open_page(odd, "pages/tune.py", study=study_id, chart="<b>Nope</b>")
    assert not odd.exception and odd.radio(key="study_chart").value == "History"
    assert len(odd.get("plotly_chart")) == 1
    assert any("page study <b>" in plain(s.value) for s in fresh.subheader)  # text, not HTML
    fresh.selectbox(key="trial_pick").set_value(trials[0].number).run()
    fresh.button(key="promote_trial").click().run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    run_id = trials[0].user_attrs["loom_run"]
    assert get_run(store, run_id, viewer=SYSTEM).spec_json["trial"]["study"] == study_id


def test_a_link_to_a_missing_study_says_so(app: AppTest) -> None:
    open_page(app, "pages/tune.py", study="0" * 32)
    # The one not-found answer of every page, nothing of the ID (pages/_ui.py not_found).
    assert [plain(e.value) for e in app.error] == ["This study does not exist or is not shared with you."]
    assert not app.warning


def _finished_study(n: int) -> str:
    """A finished study of ``n`` trials (every third pruned), added to Optuna's storage directly."""
    import optuna

    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import Study
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import Param
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import create_study
    from tests.conftest import ROOT

    store = open_store(get_config())
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=3,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-4, 1e-1, log=True),))
    study_id = create_study(store, StudySpec(base, space.to_dict(), n_trials=n), "made", viewer=SYSTEM)
    study = load_optuna_study(store.config, study_id)
    for i in range(n):
        pruned = i % 3 == 2
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
                value=None if pruned else 1.0 / (i + 1),
                params={"optimizer.learning_rate": 10 ** -(1 + i % 3)},
                distributions=space.distributions(),
                intermediate_values={1: 1.0, 2: 0.5},
            )
        )
    with store.session(SYSTEM) as s:
        s.get(Study, study_id).status = "succeeded"
    return study_id


def _history_points(at: AppTest) -> int:
    import json

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return len(spec["data"][0]["x"])  # the objective of each complete trial


def test_a_drawn_chart_is_reused_until_the_trials_change(app: AppTest) -> None:
    """Charts are drawn once per state of the trials (shared by sessions): a new trial redraws."""
    import optuna

    study_id = _finished_study(9)
    open_page(app, "pages/tune.py", study=study_id, chart="History")
    assert _history_points(app) == 6
    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/tune.py", study=study_id, chart="History")
    assert _history_points(fresh) == 6
    study = load_optuna_study(get_config(), study_id)
    dist = study.trials[0].distributions
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE,
            value=0.01,
            params={"optimizer.learning_rate": 1e-3},
            distributions=dist,
        )
    )
    app.run()
    assert not app.exception
    assert _history_points(app) == 7
    # The trial-state filter offers every state and keeps the table to the picked ones.
    app.multiselect(key="trial_states").set_value(["pruned"]).run()
    table = next(d.value for d in app.dataframe if "state" in d.value.columns)
    assert len(table) == 3 and set(table["state"]) == {"pruned"}
