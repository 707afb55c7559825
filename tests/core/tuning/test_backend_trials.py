"""Tuning trials on another Keras backend than the worker's: each trial trains on JAX in a
process of its own and reports its epochs to the study from there (the pruner's intermediate
values), on a real cluster and store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from core.config import AppConfig
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import load_optuna_study
from core.tuning import start_study
from tests.conftest import wait_until_ended

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


def test_jax_trials_report_their_epochs_and_complete(thread_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.5))
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=3,
        batch_size=16,
        backend="jax",
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),)).to_dict()
    spec = StudySpec(base, space, sampler="random", pruner="median", n_trials=2, parallelism=1, seed=1)
    study_id, driver = start_study(thread_cluster, store, spec, "jax trials", viewer=SYSTEM)
    run = wait_until_ended(store, driver, 300)
    assert run.status == "succeeded", run.status_reason
    trials = load_optuna_study(store.config, study_id).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    # Each trial's epochs reached Optuna from its JAX process (the per-epoch hook ran there).
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in trials), [
        t.intermediate_values for t in trials
    ]
    for t in trials:
        trained = get_run(store, t.user_attrs["loom_run"], viewer=SYSTEM)
        assert trained.spec["backend"] == "jax"
        assert trained.result_json["environment"]["backend"] == "jax"


def test_a_study_on_a_backend_no_worker_has_is_refused_before_anything_is_stored(  # type: ignore[no-untyped-def]
    thread_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import SpecError
    from core.experiments import list_studies
    from core.training import available_backends

    store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        backend="torch",
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),)).to_dict()
    monkeypatch.setitem(sys.modules, "torch", None)  # Python's own switch: torch cannot be imported
    try:
        available_backends(thread_cluster, refresh=True)
        with pytest.raises(SpecError, match=r"PyTorch backend is not installed on any worker"):
            start_study(thread_cluster, store, StudySpec(base, space, n_trials=1), "torch", viewer=SYSTEM)
        assert list_studies(store, viewer=SYSTEM) == []
    finally:
        monkeypatch.undo()
        available_backends(thread_cluster, refresh=True)
