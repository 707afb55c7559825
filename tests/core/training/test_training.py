"""Real TensorFlow training on a real LocalCluster, streaming into a real store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.compute import stop_run
from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import cnn_template
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


@pytest.fixture(scope="module")
def cluster(thread_cluster):  # type: ignore[no-untyped-def]
    return thread_cluster


def _wait(store, run_id: str, timeout: float = 300):  # type: ignore[no-untyped-def]
    return wait_until_ended(store, run_id, timeout)


def test_cnn_on_digits_reaches_sane_accuracy(cluster, config: AppConfig) -> None:
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "digits_8x8.npz", "npz", "digits")
    pipeline = default_pipeline(ds.id, "label", ds.profile_json, "multiclass")
    spec = TrainSpec(
        pipeline=pipeline.to_dict(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("adam", 2e-3).to_dict(),
        epochs=6,
        batch_size=32,
    )
    run_id = submit_run(cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = _wait(store, run_id)
    assert run.status == "succeeded", run.status_reason
    result = run.result_json
    assert result["evaluation"]["validation_accuracy"] > 0.9
    # The classic CNN on 8x8x1: Conv 32, Conv 64 (to 4x4), pool (to 2x2), Dense 128, output.
    assert result["params"] == (9 * 32 + 32) + (9 * 32 * 64 + 64) + (2 * 2 * 64 * 128 + 128) + (128 * 10 + 10)
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    steps_per_epoch = -(-result["rows"]["train"] // 32)
    steps = metrics["batch/loss"].steps  # sampled in time; each epoch's first and last batch kept
    assert steps == sorted(set(steps)) and set(steps) <= set(range(1, 6 * steps_per_epoch + 1))
    assert {e * steps_per_epoch + b for e in range(6) for b in (1, steps_per_epoch)} <= set(steps)
    assert metrics["epoch/val_loss"].steps == [1, 2, 3, 4, 5, 6]
    assert metrics["epoch/loss"].values[-1] < metrics["epoch/loss"].values[0]
    assert (store.data_dir / "models" / f"{run_id}.keras").exists()
    confusion = result["confusion"]
    assert confusion["classes"] == [str(i) for i in range(10)]
    assert sum(map(sum, confusion["matrix"])) == result["rows"]["validation"]
    assert [c["class"] for c in result["per_class"]] == confusion["classes"]


def test_mlp_regression_and_stop(cluster, config: AppConfig) -> None:
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    pipeline = default_pipeline(ds.id, "price", ds.profile_json, "regression")
    spec = TrainSpec(pipeline.to_dict(), mlp_template("regression").to_dict(), epochs=500, batch_size=8)
    run_id = submit_run(cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    wait_until(lambda: "batch/loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="a loss")
    stop_run(store, run_id, cluster, viewer=SYSTEM)
    run = _wait(store, run_id, timeout=60)
    assert run.status == "stopped"
    assert len(get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].steps) < 500 * 100
    assert "pred_vs_actual" not in run.result_json  # stopped runs are not evaluated


def test_nan_loss_fails_with_a_reason(cluster, config: AppConfig) -> None:
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    pipeline = default_pipeline(ds.id, "price", ds.profile_json, "regression")
    spec = TrainSpec(
        pipeline.to_dict(),
        mlp_template("regression").to_dict(),
        OptimizerSpec("sgd", 1e6).to_dict(),
        epochs=3,
    )
    run = _wait(store, submit_run(cluster, store, "train", spec.to_dict(), viewer=SYSTEM))
    assert run.status == "failed"
    assert "the loss became" in run.status_reason and "Lower the learning rate" in run.status_reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "`epochs >= 1` must hold"),
        ({"optimizer": {"name": "adam", "learning_rate": 0}}, "`learning_rate > 0` must hold"),
        (
            {"model": {"type": "model", "layers": [{"type": "dense", "units": -3}]}},
            "`units` must be an integer >= 1",
        ),
    ],
)
def test_bad_specs_are_refused(change: dict, message: str) -> None:
    base = {
        "pipeline": default_pipeline("0" * 32, "y", {"columns": []}, "regression").to_dict(),
        "model": mlp_template("regression").to_dict(),
    }
    with pytest.raises(SpecError, match=message):
        TrainSpec.from_dict({**base, **change})


def test_pause_resume_and_learning_rate_change_take_effect(cluster, config: AppConfig) -> None:
    import json

    from core.compute import control_log
    from core.compute import request_control
    from core.errors import InvalidTransition
    from core.store import get_events

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(
        pipeline.to_dict(),
        mlp_template().to_dict(),
        OptimizerSpec("sgd", 0.01).to_dict(),
        epochs=2000,
        batch_size=8,
    )
    run_id = submit_run(cluster, store, "train", spec.to_dict(), viewer=SYSTEM)

    def points() -> int:
        series = get_metrics(store, run_id, viewer=SYSTEM).get("batch/loss")
        return len(series.steps) if series else 0

    wait_until(lambda: points() >= 20, timeout=120, what="20 batch points")
    request_control(store, run_id, "set_lr", 0.05, viewer=SYSTEM)
    request_control(store, run_id, "pause", viewer=SYSTEM)
    wait_until(
        lambda: any(
            e.kind == "marker" and "pause" in e.message for e in get_events(store, run_id, viewer=SYSTEM)
        ),
        timeout=30,
        what="the pause marker",
    )
    time.sleep(1.5)  # no signal says "the last buffered points landed": they flush four times a second
    paused_at = points()
    time.sleep(2.0)  # the scenario itself: two seconds of pause
    assert points() == paused_at  # nothing trains while paused
    request_control(store, run_id, "resume", viewer=SYSTEM)
    wait_until(lambda: points() > paused_at, timeout=30, what="training to go on after resume")
    stop_run(store, run_id, cluster, viewer=SYSTEM)
    run = _wait(store, run_id, timeout=60)
    assert run.status == "stopped"
    markers = [json.loads(e.message) for e in get_events(store, run_id, viewer=SYSTEM) if e.kind == "marker"]
    assert [m["action"] for m in markers] == ["set_lr", "pause", "resume", "stop"]
    assert markers[0]["value"] == 0.05 and markers[0]["step"] >= 20
    # Every request is answered by the marker that names it, and the stop by its own marker.
    log = control_log(store, run_id, viewer=SYSTEM)
    assert [(r.action, r.state) for r in log] == [
        ("set_lr", "taken"),
        ("pause", "taken"),
        ("resume", "taken"),
        ("stop", "taken"),
    ]
    assert [r.step for r in log] == [m["step"] for m in markers]
    assert all(r.seconds_to_take is not None and r.seconds_to_take < 30 for r in log)
    assert get_metrics(store, run_id, viewer=SYSTEM)["batch/learning_rate"].values == [0.05]
    with pytest.raises(InvalidTransition, match="not running"):
        request_control(store, run_id, "pause", viewer=SYSTEM)


def test_resume_from_checkpoint_continues_the_step_count(
    cluster, config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store import get_events
    from core.training import last_checkpoint

    # A checkpoint every epoch (the cluster runs in this process): by default they are spaced
    # so that saving takes ~0.5 % of the time, the first after ~10 s of training.
    monkeypatch.setattr("core.training._callback.CHECKPOINT_EVERY", 0)

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), epochs=500, batch_size=16)
    first = submit_run(cluster, store, "train", spec.to_dict(), viewer=SYSTEM)
    wait_until(lambda: (last_checkpoint(store, first) or 0) >= 2, timeout=120, what="two checkpoints")
    stop_run(store, first, cluster, viewer=SYSTEM)
    assert _wait(store, first).status == "stopped"
    epoch = last_checkpoint(store, first)
    assert epoch is not None and epoch >= 2

    resumed = TrainSpec.from_dict({**spec.to_dict(), "epochs": epoch + 2, "resume_from": first})
    second = submit_run(cluster, store, "train", resumed.to_dict(), viewer=SYSTEM)
    run = _wait(store, second)
    assert run.status == "succeeded", run.status_reason
    steps_per_epoch = -(-run.result_json["rows"]["train"] // 16)
    metrics = get_metrics(store, second, viewer=SYSTEM)
    assert metrics["epoch/loss"].steps == [epoch + 1, epoch + 2]
    assert metrics["batch/loss"].steps[0] == epoch * steps_per_epoch + 1
    assert any(e.kind == "resumed" and first in e.message for e in get_events(store, second, viewer=SYSTEM))
    # Trained to its last epoch: its saved model is its checkpoint (the same file, saved once).
    assert last_checkpoint(store, second) == epoch + 2
    model_file = store.path_for("models", second, ".keras").read_bytes()
    assert store.path_for("checkpoints", second, ".keras").read_bytes() == model_file

    too_far = TrainSpec.from_dict({**spec.to_dict(), "epochs": 1, "resume_from": first})
    bad = _wait(store, submit_run(cluster, store, "train", too_far.to_dict(), viewer=SYSTEM))
    assert bad.status == "failed" and f"already finished epoch {epoch} of 1" in bad.status_reason


def test_out_of_memory_fails_the_run_with_advice(cluster, config: AppConfig) -> None:
    """A real allocation failure: a 4 x 10^12 kernel is more memory than any worker has."""
    from core.models import Dense
    from core.models import ModelSpec

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    model = ModelSpec([Dense(10**12)], "multiclass")
    spec = TrainSpec(pipeline.to_dict(), model.to_dict(), epochs=1, batch_size=8)
    run = _wait(
        store,
        submit_run(cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM),
        timeout=120,
    )
    assert run.status == "failed"
    assert run.status_reason.startswith("out of memory on the worker"), run.status_reason
    assert "OOM when allocating tensor with shape[4,1000000000000]" in run.status_reason
    assert "Lower the batch size" in run.status_reason
