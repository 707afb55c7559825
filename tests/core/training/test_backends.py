"""Keras backends per run: JAX and PyTorch runs train for real in a process of their own, beside
the TensorFlow worker of a real LocalCluster, streaming into a real store; stop, learning-rate
changes, resume from the checkpoint, Predict; the spec's rules and the unavailable backend."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.compute import control_log
from core.compute import request_control
from core.compute import stop_run
from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.data import save_upload
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import BACKENDS
from core.training import EvaluateSpec
from core.training import PredictSpec
from core.training import TrainSpec
from core.training import available_backends
from core.training import check_backend
from core.training import default_pipeline
from core.training import export_bundle
from core.training import last_checkpoint
from core.training import list_evaluations
from core.training import process_backend
from core.training import read_training_run
from core.training import resume_spec
from core.training import save_bundle
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[3] / "assets"


def _iris_spec(store, epochs: int, backend: str, lr: float = 1e-2) -> tuple[TrainSpec, str]:  # type: ignore[no-untyped-def]
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    spec = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (16,), 0.0).to_dict(),
        OptimizerSpec("adam", lr).to_dict(),
        epochs=epochs,
        batch_size=8,
        backend=backend,
    )
    return spec, ds.id


# --- the spec -------------------------------------------------------------------------------


def test_backend_is_validated_and_defaults_to_tensorflow(config: AppConfig) -> None:
    store = open_store(config)
    spec, _ = _iris_spec(store, 1, "tensorflow")
    assert spec.to_dict()["backend"] == "tensorflow"
    for backend in BACKENDS:
        data = {**spec.to_dict(), "backend": backend}
        assert TrainSpec.from_dict(data).to_dict() == data
    # A spec stored before backends existed reads as TensorFlow.
    old = {k: v for k, v in spec.to_dict().items() if k != "backend"}
    assert TrainSpec.from_dict(old).backend == "tensorflow"
    with pytest.raises(
        SpecError, match=r"Unknown Keras backend 'mxnet'\. Valid backends are: tensorflow, jax, torch"
    ):
        TrainSpec.from_dict({**spec.to_dict(), "backend": "mxnet"})
    with pytest.raises(
        SpecError, match=r"Data-parallel \(multi-worker\) training runs on TensorFlow only.*'jax'"
    ):
        TrainSpec.from_dict({**spec.to_dict(), "backend": "jax", "multi_worker": True, "workers": 2})
    # Resuming keeps the backend (a checkpoint's optimizer state is reloaded on the same one).
    assert (
        resume_spec(read_training_run(_record(store, {**spec.to_dict(), "backend": "torch"})), 3).backend
        == "torch"
    )


def _record(store, spec: dict):  # type: ignore[no-untyped-def]
    from core.store import create_run

    return create_run(store, "train", spec)


def test_this_process_runs_keras_on_tensorflow() -> None:
    assert process_backend() == "tensorflow"


# --- availability ---------------------------------------------------------------------------


def test_a_backend_no_worker_has_is_refused_with_the_install_command(thread_cluster, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert available_backends(thread_cluster, refresh=True)["torch"]  # installed here (CI too)
    check_backend(thread_cluster, "torch")
    # Python's own way to make a module unimportable: the worker (in this process) then lacks it.
    monkeypatch.setitem(sys.modules, "torch", None)
    try:
        kept = available_backends(thread_cluster)
        assert kept["torch"], "a recent answer is kept for a minute"
        assert available_backends(thread_cluster, refresh=True) == {
            "tensorflow": kept["tensorflow"],
            "jax": kept["jax"],
            "torch": [],
        }
        with pytest.raises(
            SpecError,
            match=r"PyTorch backend is not installed on any worker.*pip install -r requirements-torch\.txt",
        ):
            check_backend(thread_cluster, "torch")
        check_backend(thread_cluster, "jax")
        with pytest.raises(SpecError, match="Unknown Keras backend 'theano'"):
            check_backend(thread_cluster, "theano")
    finally:
        monkeypatch.undo()
        available_backends(thread_cluster, refresh=True)


# --- real runs ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pytorch_run_branches_from_an_epoch_and_a_pytorch_population_exploits(
    thread_cluster, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    """Issue 30 on a second backend (TensorFlow's are in test_branch.py and test_pbt.py): a
    PyTorch run branched from a kept epoch with another learning rate continues its steps with
    the optimizer state carried over, on PyTorch; a population of two PyTorch members trains in
    two rounds, its loser's second round a branch of the winner's first."""
    from core.store import get_events
    from core.training import branch_run
    from core.training import epoch_checkpoints
    from core.tuning import Param
    from core.tuning import PBTSpec
    from core.tuning import SearchSpace
    from core.tuning import get_population
    from core.tuning import start_pbt

    store = open_store(config)
    spec, ds_id = _iris_spec(store, 3, "torch")
    parent = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds_id, viewer=SYSTEM)
    run = wait_until_ended(store, parent, 240)
    assert run.status == "succeeded", run.status_reason
    assert [c.epoch for c in epoch_checkpoints(store, parent)][-2:] == [2, 3]  # the last 2 kept
    child = branch_run(store, thread_cluster, parent, 2, {"learning_rate": 1e-3, "epochs": 4}, viewer=SYSTEM)
    branched = wait_until_ended(store, child, 240)
    assert branched.status == "succeeded", branched.status_reason
    assert branched.result_json["environment"]["backend"] == "torch"
    assert branched.spec["backend"] == "torch" and branched.spec["branch"]["epoch"] == 2
    mine, theirs = get_metrics(store, child, viewer=SYSTEM), get_metrics(store, parent, viewer=SYSTEM)
    assert mine["epoch/loss"].steps == [3, 4]
    per_epoch = -(-run.result_json["rows"]["train"] // 8)
    assert mine["batch/loss"].steps[0] == 2 * per_epoch + 1
    # From the parent's weights, not from scratch: below the parent's first epoch.
    assert mine["epoch/loss"].values[0] < theirs["epoch/loss"].values[0]
    events = get_events(store, child, viewer=SYSTEM)
    assert any(e.kind == "branched" and "optimizer state carried over" in e.message for e in events)

    base = {**spec.to_dict(), "epochs": 1}
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),))
    pbt = PBTSpec(base, space.to_dict(), members=2, interval=1, epochs=2, quantile=0.5, seed=5)
    study_id, driver = start_pbt(thread_cluster, store, pbt, "torch population", viewer=SYSTEM)
    ended = wait_until_ended(store, driver, 420)
    assert ended.status == "succeeded", ended.status_reason
    population = get_population(store, study_id, viewer=SYSTEM)
    assert [(s.start, s.end) for s in population.segments] == [(0, 1)] * 2 + [(1, 2)] * 2
    assert all(s.status == "succeeded" for s in population.segments)
    (exploit,) = [e for e in population.events if e.event == "exploit"]
    loser, winner = exploit.member, exploit.data["from_member"]
    first = {s.member: s for s in population.segments if s.end == 1}
    second = next(s for s in population.segments if s.member == loser and s.end == 2)
    branch = get_run(store, second.run_id, viewer=SYSTEM)
    assert branch.parent_id == first[winner].run_id and branch.spec["branch"]["epoch"] == 1
    assert all(
        get_run(store, s.run_id, viewer=SYSTEM).result_json["environment"]["backend"] == "torch"
        for s in population.segments
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_run_streams_steers_stops_resumes_and_predicts(
    backend: str, thread_cluster, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    """One run per backend: live points while it trains, a learning-rate change taking effect, a
    stop, a resume from its checkpoint to the end, and Predict (from the run and from its bundle)
    and an evaluation on the finished run."""
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 2000, backend)
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds_id, viewer=SYSTEM)

    def points() -> int:
        series = get_metrics(store, run_id, viewer=SYSTEM).get("batch/loss")
        return len(series.steps) if series is not None else 0

    wait_until(lambda: points() >= 3, timeout=120, what="live points")
    assert get_run(store, run_id, viewer=SYSTEM).status == "running"
    request_control(store, run_id, "set_lr", 1e-3, viewer=SYSTEM)
    wait_until(
        lambda: "batch/learning_rate" in get_metrics(store, run_id, viewer=SYSTEM), timeout=30, what="set_lr"
    )
    stop_run(store, run_id, thread_cluster, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 60)
    assert run.status == "stopped", run.status_reason
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    assert metrics["batch/learning_rate"].values == [pytest.approx(1e-3)]
    stopped_at = max(metrics["batch/loss"].steps)
    epoch = last_checkpoint(store, run_id)
    assert epoch is not None and 1 <= epoch < 2000
    events = [(e.kind, e.message) for e in _events(store, run_id)]
    assert any(k == "marker" and json.loads(m)["action"] == "set_lr" for k, m in events)
    # Each request answered by the process that trained: the rate at a step, the stop at a step.
    log = control_log(store, run_id, viewer=SYSTEM)
    assert [(r.action, r.state) for r in log] == [("set_lr", "taken"), ("stop", "taken")]
    assert log[1].step is not None and log[1].step <= stopped_at + 1
    assert any(k == "log" and f"training on {BACKENDS[backend]} in process" in m for k, m in events)

    resumed = resume_spec(read_training_run(run), epoch + 2)
    assert resumed.backend == backend
    run2_id = submit_run(
        thread_cluster,
        store,
        "train",
        resumed.to_dict(),
        dataset_id=ds_id,
        parent_id=run_id,
        parent_kind="resumed",
        viewer=SYSTEM,
    )
    run2 = wait_until_ended(store, run2_id, 180)
    assert run2.status == "succeeded", run2.status_reason
    result = run2.result_json
    assert result["environment"]["backend"] == backend
    assert result["environment"][backend]  # the framework's version
    assert result["evaluation"]["validation_accuracy"] > 0.8
    epochs = get_metrics(store, run2_id, viewer=SYSTEM)["epoch/loss"].steps
    assert epochs == [epoch + 1, epoch + 2]  # the epoch count goes on from the checkpoint
    per_epoch = -(-result["rows"]["train"] // 8)
    assert (epoch - 1) * per_epoch < stopped_at <= epoch * per_epoch  # saved as the stop ended it
    assert min(get_metrics(store, run2_id, viewer=SYSTEM)["batch/loss"].steps) > epoch * per_epoch
    assert store.path_for("models", run2_id, ".keras").exists()

    # Predict (on the TensorFlow worker: Loom rebuilds the architecture and reads the weights).
    rows = pd.read_csv(ASSETS / "iris.csv").iloc[::3].reset_index(drop=True)
    upload = save_upload(
        store,
        io.BytesIO(rows.drop(columns=["species"]).to_csv(index=False).encode()),
        "new.csv",
        viewer=SYSTEM,
    )
    pred_id = submit_run(
        thread_cluster,
        store,
        "predict",
        PredictSpec(model_run=run2_id, rows_upload=upload, rows_format="csv").to_dict(),
        viewer=SYSTEM,
    )
    pred = wait_until_ended(store, pred_id, 120)
    assert pred.status == "succeeded", pred.status_reason
    out = pd.read_parquet(store.path_for("predictions", pred_id, ".parquet"))
    assert (out["prediction"].to_numpy() == rows["species"].to_numpy()).mean() > 0.8
    probs = out[["p(setosa)", "p(versicolor)", "p(virginica)"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    # Its bundle predicts the same, and an evaluation on a dataset scores it.
    bundle_id = save_bundle(store, export_bundle(store, run2_id, viewer=SYSTEM), viewer=SYSTEM)
    spec_b = PredictSpec(bundle=bundle_id, rows_upload=upload, rows_format="csv").to_dict()
    pred_b = wait_until_ended(store, submit_run(thread_cluster, store, "predict", spec_b, viewer=SYSTEM), 120)
    assert pred_b.status == "succeeded", pred_b.status_reason
    out_b = pd.read_parquet(store.path_for("predictions", pred_b.id, ".parquet"))
    np.testing.assert_allclose(out_b[["p(setosa)"]].to_numpy(), out[["p(setosa)"]].to_numpy(), rtol=1e-5)
    spec_e = EvaluateSpec(model_run=run2_id, dataset_id=ds_id).to_dict()
    ev = wait_until_ended(store, submit_run(thread_cluster, store, "evaluate", spec_e, viewer=SYSTEM), 120)
    assert ev.status == "succeeded", ev.status_reason
    (evaluation,) = list_evaluations(store, run2_id, viewer=SYSTEM)
    assert evaluation.metrics["accuracy"] > 0.8


def _events(store, run_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from core.store import RunEvent

    with store.session(SYSTEM) as s:
        return list(s.scalars(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)))


@pytest.mark.slow
def test_a_failure_in_the_backend_process_fails_the_run_with_its_reason(
    thread_cluster, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 1, "jax")
    # Resuming a run that never checkpointed fails in the child with Loom's own error and message.
    never = _record(store, spec.to_dict())
    bad = TrainSpec.from_dict({**spec.to_dict(), "resume_from": never.id})
    run_id = submit_run(thread_cluster, store, "train", bad.to_dict(), dataset_id=ds_id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 120)
    assert run.status == "failed"
    assert (
        run.status_reason
        == f"DataError: Run {never.id} has no checkpoint to resume from (it never finished an epoch)."
    )


def _alive(pid: int) -> bool:
    # A child whose parent died is reparented; where nothing reaps it, it lingers as a zombie:
    # that counts as gone (it runs no code).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_the_training_process_dies_with_its_worker(process_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    import os
    import re
    import signal

    store = open_store(config)
    spec, ds_id = _iris_spec(store, 2000, "jax")
    run_id = submit_run(process_cluster, store, "train", spec.to_dict(), dataset_id=ds_id, viewer=SYSTEM)
    wait_until(lambda: "batch/loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="points")
    (message,) = [m for k, m in ((e.kind, e.message) for e in _events(store, run_id)) if "in process" in m]
    child = int(re.search(r"in process (\d+)", message).group(1))  # type: ignore[union-attr]
    assert _alive(child)
    for pid in process_cluster.run(os.getpid).values():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _alive(child), timeout=15, interval=0.1, what="the training process to exit")
    run = wait_until_ended(store, run_id, 90)
    assert run.status == "interrupted", run.status_reason
