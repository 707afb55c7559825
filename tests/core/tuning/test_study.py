"""Real studies: Optuna on the store's database, trials as training runs on two worker processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from optuna.trial import TrialState

from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Objective
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import enqueue_trial
from core.tuning import load_optuna_study
from core.tuning import new_phase
from core.tuning import start_study
from core.tuning import study_runs
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"
LR = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)
UNITS = Param("model.layers.0.units", "int", 4, 32)


@pytest.fixture(scope="module")
def setup(two_process_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    config = AppConfig.for_data_dir(
        tmp_path_factory.mktemp("study") / "data", heartbeat_seconds=0.5, heartbeat_timeout=10.0
    )
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=4,
        batch_size=16,
    ).to_dict()
    return two_process_cluster, store, base


def _trials(store, study_id):  # type: ignore[no-untyped-def]
    return load_optuna_study(store.config, study_id).get_trials(deepcopy=False)


def test_trials_run_in_parallel_on_both_workers_with_distinct_parameters(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    spec = StudySpec(
        base, SearchSpace((LR, UNITS)).to_dict(), sampler="tpe", n_trials=6, parallelism=2, seed=3
    )
    study_id, driver = start_study(client, store, spec, "parallel", viewer=SYSTEM)
    run = wait_until_ended(store, driver, 600)
    assert run.status == "succeeded", run.status_reason
    trials = _trials(store, study_id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
    runs = [r for r in study_runs(store, study_id, viewer=SYSTEM) if r.kind == "train"]
    assert len(runs) == 6 and all(r.status == "succeeded" for r in runs)
    assert len({r.worker for r in runs}) == 2, "trials should use both workers"
    starts = sorted((r.started_at, r.ended_at) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(starts, starts[1:], strict=False)), "no two trials overlapped"
    # The objective is the best validation loss each run streamed.
    for t in trials:
        assert t.values[0] > 0 and t.user_attrs["loom_run"] in {r.id for r in runs}
    assert run.result_json["best_value"] == min(t.values[0] for t in trials)


def test_median_pruner_stops_poor_trials(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    wide = Param("optimizer.learning_rate", "float", 1e-6, 1.0, log=True)
    spec = StudySpec(
        {**base, "epochs": 6},
        SearchSpace((wide,)).to_dict(),
        sampler="random",
        pruner="median",
        n_trials=10,
        parallelism=2,
        seed=0,
    )
    study_id, driver = start_study(client, store, spec, "pruning", viewer=SYSTEM)
    assert wait_until_ended(store, driver, 600).status == "succeeded"
    trials = _trials(store, study_id)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, [(t.params, t.state) for t in trials]
    for t in pruned:
        assert t.user_attrs["outcome"].startswith("pruned by the median pruner at epoch")
        assert max(t.intermediate_values) < 6
        run = get_run(store, t.user_attrs["loom_run"], viewer=SYSTEM)
        assert run.status == "stopped" and run.status_reason.startswith("pruned")


def test_enqueued_trial_and_narrowed_space_are_honoured(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    spec = StudySpec(
        base, SearchSpace((LR, UNITS)).to_dict(), sampler="random", n_trials=5, parallelism=1, seed=1
    )
    study_id, driver = start_study(client, store, spec, "steered", viewer=SYSTEM)
    enqueue_trial(
        store, study_id, {"optimizer.learning_rate": 0.0123, "model.layers.0.units": 31}, viewer=SYSTEM
    )
    narrow = SearchSpace((LR, Param("model.layers.0.units", "int", 5, 6)))
    assert new_phase(store, study_id, narrow, "units 5-6 looked best", viewer=SYSTEM) == 2
    assert wait_until_ended(store, driver, 600).status == "succeeded"
    trials = _trials(store, study_id)
    mine = [t for t in trials if t.params.get("optimizer.learning_rate") == 0.0123]
    assert len(mine) == 1 and mine[0].params["model.layers.0.units"] == 31
    later = [t for t in trials if t.user_attrs.get("phase") == 2 and t is not mine[0]]
    assert later, "no trial was drawn after the space was narrowed"
    assert all(5 <= t.params["model.layers.0.units"] <= 6 for t in later)
    with pytest.raises(SpecError, match="must stay so within a study"):
        new_phase(
            store,
            study_id,
            SearchSpace((Param("optimizer.learning_rate", "float", 0.1, 0.2),)),
            viewer=SYSTEM,
        )
    # Enqueued on an ended study, a trial would wait forever: refused with a message.
    with pytest.raises(SpecError, match="would never run"):
        enqueue_trial(store, study_id, {"optimizer.learning_rate": 0.002}, viewer=SYSTEM)


def test_a_killed_worker_fails_and_retries_the_trial_and_the_study_goes_on(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    spec = StudySpec(
        {**base, "epochs": 200, "batch_size": 8},
        SearchSpace((LR,)).to_dict(),
        sampler="random",
        n_trials=2,
        parallelism=2,
        seed=2,
        retries=1,
    )
    study_id, driver = start_study(client, store, spec, "kill", viewer=SYSTEM)

    def runaway():  # type: ignore[no-untyped-def]
        runs = study_runs(store, study_id, viewer=SYSTEM)
        driver_worker = next(r.worker for r in runs if r.kind == "study")
        return next(
            (r for r in runs if r.kind == "train" and r.status == "running" and r.worker != driver_worker),
            None,
        )

    victim = wait_until(runaway, timeout=180, interval=0.3, what="a trial away from the driver's worker")
    wait_until(  # the scenario: kill it mid-run, once it has trained (and stored) an epoch
        lambda: "epoch/loss" in get_metrics(store, victim.id, viewer=SYSTEM),
        timeout=120,
        what="the trial's first epoch",
    )
    pid = client.run(os.getpid, workers=[victim.worker])[victim.worker]
    os.kill(pid, signal.SIGKILL)
    killed = wait_until_ended(store, victim.id, 120)
    assert killed.status == "interrupted"
    # The study goes on: the other trial and the retry are told to stop early to keep it short.
    from core.compute import stop_run

    def retried():  # type: ignore[no-untyped-def]
        retry = [t for t in _trials(store, study_id) if t.user_attrs.get("retry_of") is not None]
        return retry if retry and retry[0].user_attrs.get("loom_run") else None

    retry = wait_until(retried, timeout=180, interval=0.3, what="the killed trial's retry to start")
    for r in study_runs(store, study_id, viewer=SYSTEM):
        if r.kind == "train" and r.status in ("queued", "running"):
            stop_run(store, r.id, client, viewer=SYSTEM)
    assert wait_until_ended(store, driver, 180).status == "succeeded"
    trials = _trials(store, study_id)
    failed = [t for t in trials if t.user_attrs.get("loom_run") == killed.id]
    assert failed[0].state == TrialState.FAIL and "retried (1 of 1)" in failed[0].user_attrs["outcome"]
    assert retry[0].params == failed[0].params


def test_study_spec_validation(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, base = setup
    space = SearchSpace((LR,)).to_dict()
    with pytest.raises(SpecError, match="empty"):
        StudySpec(base, {"type": "search_space", "params": []})
    with pytest.raises(SpecError, match="cannot prune a study with two objectives"):
        StudySpec(base, space, objectives=(Objective("val_loss"), Objective("params")), pruner="median")
    with pytest.raises(SpecError, match="grid sampler needs a finite grid"):
        StudySpec(base, space, sampler="grid")
    with pytest.raises(SpecError, match="`parallelism >= 1`"):
        StudySpec(base, space, parallelism=0)
    with pytest.raises(SpecError, match="NSGA-II is for two objectives"):
        StudySpec(base, space, sampler="nsga2")
    bad_path = SearchSpace((Param("model.layers.7.units", "int", 4, 8),)).to_dict()
    with pytest.raises(SpecError, match="model.layers.7"):
        StudySpec(base, bad_path)
    spec = StudySpec(base, space, objectives=(Objective("val_loss"), Objective("params")), sampler="nsga2")
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert spec.directions == ["minimize", "minimize"]  # what Optuna is told: one per objective


def test_every_sampler_and_pruner_builds(setup) -> None:  # type: ignore[no-untyped-def]
    """The samplers and pruners the page offers exist (GP needs PyTorch, which Loom leaves out)."""
    from core.tuning._storage import build_pruner
    from core.tuning._storage import build_sampler

    _, _, base = setup
    grid = SearchSpace((Param("batch_size", "int", 8, 16, step=8),))
    for sampler in ("tpe", "random", "cmaes", "grid"):
        spec = StudySpec(base, grid.to_dict(), sampler=sampler, seed=1)
        assert build_sampler(spec, grid) is not None
    two = StudySpec(
        base, grid.to_dict(), objectives=(Objective("val_loss"), Objective("params")), sampler="nsga2"
    )
    assert build_sampler(two, grid) is not None
    for pruner in ("none", "median", "successive_halving", "hyperband"):
        assert build_pruner(StudySpec(base, grid.to_dict(), pruner=pruner)) is not None
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(SpecError, match="GP sampler needs PyTorch"):
            StudySpec(base, grid.to_dict(), sampler="gp")
