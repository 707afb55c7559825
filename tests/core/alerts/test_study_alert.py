"""A study's "best value improved" alert on a real study (trials as training runs on a real
LocalCluster): it fires once, on the best trial's run; a rule added after the study ended does
not fire, as nothing improved since. A study's best trial repeated with 3 seeds as one group."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.alerts import AlertSpec
from core.alerts import add_alert
from core.alerts import evaluate_alerts
from core.alerts import list_alerts
from core.alerts import study_best
from core.config import AppConfig
from core.data import ingest_file
from core.experiments import group_members
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_events
from core.store import open_store
from core.store import thaw
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import repeat_run_with_seeds
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import load_optuna_study
from core.tuning import start_study
from tests.conftest import wait_until_ended

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


def test_best_value_alert_and_repeating_the_best_trial(thread_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=3,
        batch_size=16,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),)).to_dict()
    study_id, driver = start_study(
        thread_cluster, store, StudySpec(base, space, n_trials=2, parallelism=1, seed=1), "s", viewer=SYSTEM
    )
    rule = add_alert(store, "study", study_id, AlertSpec("best"), viewer=SYSTEM)
    assert wait_until_ended(store, driver, 600).status == "succeeded"

    value, number, run_id = study_best(store, study_id)  # type: ignore[misc]
    best = load_optuna_study(store.config, study_id).best_trial
    assert (value, number, run_id) == (best.value, best.number, best.user_attrs["loom_run"])
    assert evaluate_alerts(store) == [rule.id] and evaluate_alerts(store) == []
    [event] = [e for e in get_events(store, run_id, viewer=SYSTEM) if e.kind == "alert"]
    assert f"best value improved to {value:.6g} (trial {number}; was none)" in event.message

    later = add_alert(store, "study", study_id, AlertSpec("best"), viewer=SYSTEM)
    assert evaluate_alerts(store) == []  # nothing improved on the best it started from
    assert [r.fired_at is None for r in list_alerts(store, "study", study_id, viewer=SYSTEM)] == [False, True]
    assert later.id

    group = repeat_run_with_seeds(thread_cluster, store, run_id, 3, viewer=SYSTEM)
    runs = [wait_until_ended(store, r, 300) for r in group.run_ids]
    assert group_members(store, group.id, viewer=SYSTEM) == group.run_ids
    assert all(
        r.status == "succeeded" and r.parent_id == run_id and r.parent_kind == "promoted" for r in runs
    )
    trial_spec = thaw(runs[0].spec)
    assert trial_spec["trial"] is None and [thaw(r.spec)["seed"] for r in runs] == [0, 1, 2]
    assert all(r.study_id is None for r in runs)
