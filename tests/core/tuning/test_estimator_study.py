"""Studies over scikit-learn hyperparameters: the search space addresses ``model.params.<name>``
and a 4-trial study tuning a random forest runs end to end on a real Dask cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import EstimatorSpec
from core.models import mlp_template
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import apply
from core.tuning import load_optuna_study
from core.tuning import start_study
from core.tuning import study_runs
from core.tuning import tunable
from tests.conftest import wait_until_ended

ASSETS = Path(__file__).resolve().parents[3] / "assets"
PIPELINE = default_pipeline("d1", "species", {"columns": []}, "multiclass").to_dict()
FOREST = TrainSpec(
    PIPELINE, EstimatorSpec("random_forest", "multiclass", {"n_estimators": 20}).to_dict()
).to_dict()


def test_tunable_offers_an_estimators_hyperparameters_only() -> None:
    params = {p.path: p for p in tunable(FOREST)}
    assert list(params) == [
        "model.params.n_estimators",
        "model.params.max_depth",
        "model.params.min_samples_leaf",
        "model.params.max_features",
    ]
    assert (params["model.params.n_estimators"].low, params["model.params.n_estimators"].high) == (5, 80)
    assert params["model.params.max_depth"].label == "max depth"
    assert params["model.params.max_features"].choices == ("sqrt", "log2", 1.0)
    svm = TrainSpec(PIPELINE, EstimatorSpec("svm", "multiclass", {"C": 2.0}).to_dict()).to_dict()
    c = next(p for p in tunable(svm) if p.path == "model.params.C")
    assert (c.low, c.high, c.log) == (pytest.approx(0.2), pytest.approx(20.0), True)
    assert tunable(TrainSpec(PIPELINE, EstimatorSpec("dummy").to_dict()).to_dict()) == []


def test_apply_sets_hyperparameters_and_names_what_is_wrong() -> None:
    out = apply(FOREST, {"model.params.n_estimators": 7, "model.params.max_depth": 3})
    assert out["model"]["params"]["n_estimators"] == 7 and out["model"]["params"]["max_depth"] == 3
    assert FOREST["model"]["params"]["n_estimators"] == 20  # the input is left as it is
    with pytest.raises(SpecError, match="A random forest has no `n_neighbors`"):
        apply(FOREST, {"model.params.n_neighbors": 3})
    with pytest.raises(SpecError, match="is not a scikit-learn hyperparameter Loom knows"):
        apply(FOREST, {"model.params.bogus": 3})
    with pytest.raises(SpecError, match=r"`1 <= n_estimators <= 5000` must hold"):
        apply(FOREST, {"model.params.n_estimators": 0})
    mlp = TrainSpec(PIPELINE, mlp_template().to_dict()).to_dict()
    with pytest.raises(SpecError, match="this run's model is a Keras network"):
        apply(mlp, {"model.params.n_estimators": 3})
    space = SearchSpace((Param("model.params.n_estimators", "int", 5, 40),))
    assert SearchSpace.from_dict(space.to_dict()) == space


@pytest.mark.slow
def test_a_four_trial_study_tunes_a_random_forest_on_dask(two_process_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.5, heartbeat_timeout=10.0)
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        EstimatorSpec("random_forest", "multiclass", {"n_estimators": 20}).to_dict(),
    ).to_dict()
    space = SearchSpace(
        (
            Param("model.params.n_estimators", "int", 5, 40),
            Param("model.params.max_depth", "int", 1, 8),
        )
    )
    spec = StudySpec(base, space.to_dict(), sampler="random", n_trials=4, parallelism=2, seed=1)
    study_id, driver = start_study(two_process_cluster, store, spec, "forest", viewer=SYSTEM)
    run = wait_until_ended(store, driver, 600)
    assert run.status == "succeeded", run.status_reason
    trials = load_optuna_study(store.config, study_id).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    runs = {r.id: r for r in study_runs(store, study_id, viewer=SYSTEM) if r.kind == "train"}
    assert len(runs) == 4 and all(r.status == "succeeded" for r in runs.values())
    for t in trials:  # each trial trained the forest its parameters describe
        trained = get_run(store, t.user_attrs["loom_run"], viewer=SYSTEM)
        params = trained.spec["model"]["params"]
        assert params["n_estimators"] == t.params["model.params.n_estimators"]
        assert params["max_depth"] == t.params["model.params.max_depth"]
        assert 0 < t.values[0] < 1.2  # the best validation log-loss the forest streamed
    assert run.result_json["best_value"] == min(t.values[0] for t in trials)
