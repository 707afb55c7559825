"""Per-epoch checkpoints kept by a retention rule, and branches that continue a run from one of
them: the rule alone, refusals with their reasons, and real TensorFlow runs on a real
LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import DataError
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.training import CheckpointRule
from core.training import TrainSpec
from core.training import branch_spec
from core.training import default_pipeline

ASSETS = Path(__file__).resolve().parents[3] / "assets"
PARENT = "a" * 32


def _spec(**kw) -> TrainSpec:  # type: ignore[no-untyped-def]
    pipeline = default_pipeline("0" * 32, "species", {"columns": []}, "multiclass")
    return TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), **kw)


@pytest.mark.parametrize(
    ("rule", "metrics", "kept"),
    [
        (CheckpointRule(), {e: 1.0 / e for e in range(1, 26)}, {10, 20, 24, 25}),
        # the best (lowest) epoch stays however old it is
        (CheckpointRule(), {1: 0.1, 2: 0.5, 3: 0.6, 4: 0.7}, {1, 3, 4}),
        (CheckpointRule(last=1, every=0, best=0), {1: 0.1, 2: 0.2, 3: 0.3}, {3}),
        (CheckpointRule(last=3, every=2, best=2), {e: float(e % 4) for e in range(1, 9)}, {2, 4, 6, 8, 7}),
        # unknown metrics (None, NaN) are never "best"
        (CheckpointRule(last=1, every=0, best=1), {1: None, 2: float("nan"), 3: None}, {3}),
    ],
)
def test_retention_rule_keeps_last_every_nth_and_best(rule, metrics, kept) -> None:  # type: ignore[no-untyped-def]
    assert rule.keep(metrics) == kept


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"last": 0}, r"`checkpoints.last >= 1` must hold, but got last=0"),
        ({"every": -1}, r"`checkpoints.every >= 0` must hold"),
        ({"best": 1.5}, r"`checkpoints.best >= 0` must hold"),
        ({"oldest": 1}, "Invalid checkpoint rule"),
    ],
)
def test_bad_retention_rules_are_refused(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(checkpoints=data)


def test_retention_rule_round_trips_and_older_specs_keep_their_form() -> None:
    spec = _spec(checkpoints=CheckpointRule(3, 5, 2).to_dict())
    assert TrainSpec.from_dict(spec.to_dict()) == spec
    assert CheckpointRule.from_dict(spec.checkpoints) == CheckpointRule(3, 5, 2)
    plain = _spec().to_dict()
    assert "checkpoints" not in plain and "branch" not in plain  # hashes of older runs unchanged


def test_branch_spec_applies_the_changes() -> None:
    parent = _spec(epochs=5, optimizer=OptimizerSpec("adam", 1e-3).to_dict())
    branch = branch_spec(parent, PARENT, 3, 24, {"learning_rate": 0.01, "batch_size": 8, "epochs": 8})
    assert branch.optimizer["learning_rate"] == 0.01 and branch.optimizer["name"] == "adam"
    assert (branch.batch_size, branch.epochs) == (8, 8)
    assert branch.branch == {"run": PARENT, "epoch": 3, "step": 24}
    assert branch.model == parent.model and branch.pipeline == parent.pipeline
    other = branch_spec(parent, PARENT, 3, 24, {"optimizer": {"name": "sgd"}, "schedule": "cosine"})
    assert (other.optimizer["name"], other.optimizer["schedule"], other.epochs) == ("sgd", "cosine", 5)
    assert TrainSpec.from_dict(branch.to_dict()) == branch


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": mlp_template(hidden=(8,)).to_dict()}, "cannot change `model`: the model's layers"),
        ({"backend": "jax"}, "cannot change `backend`"),
        ({"dataset_id": "b" * 32}, "another schema"),
        ({"validation_dataset": "b" * 32}, "cannot change `validation_dataset`"),
        ({"colour": "red"}, "Unknown branch change.*Valid changes are: learning_rate"),
        ({"epochs": 3}, r"`epochs > 3` must hold for a branch from epoch 3"),
        ({"learning_rate": -1.0}, r"`learning_rate > 0` must hold"),
    ],
)
def test_changes_that_cannot_continue_are_refused_with_the_reason(changes: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        branch_spec(_spec(epochs=5), PARENT, 3, 24, changes)


def test_a_pipeline_on_another_dataset_is_refused() -> None:
    parent = _spec(epochs=5)
    other = default_pipeline("b" * 32, "species", {"columns": []}, "multiclass").to_dict()
    with pytest.raises(SpecError, match="cannot change the pipeline's `dataset_id`.*another dataset"):
        branch_spec(parent, PARENT, 3, 24, {"pipeline": other})


def test_a_branch_chart_draws_the_shared_history_under_its_own_curve() -> None:
    from core.charts._runs import _get_metric_curves_info
    from core.store import MetricSeries

    own = {"epoch/loss": MetricSeries("epoch/loss", [4, 5], [0.4, 0.3])}
    past = {
        "epoch/loss": MetricSeries("epoch/loss", [1, 2, 3], [1.0, 0.7, 0.5]),
        "epoch/accuracy": MetricSeries(
            "epoch/accuracy", [1, 2, 3], [0.5, 0.6, 0.7]
        ),  # not drawn: no own curve
    }
    info = _get_metric_curves_info(own, history=past)
    assert list(info.history) == ["epoch/loss"]
    assert info.history["epoch/loss"].x == [1, 2, 3]
    assert _get_metric_curves_info(own).history == {}


# --- real runs -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_branch_continues_its_parent_from_a_kept_epoch(thread_cluster, config) -> None:  # type: ignore[no-untyped-def]
    from core.data import ingest_file
    from core.store import SYSTEM
    from core.store import get_events
    from core.store import get_metrics
    from core.store import get_run
    from core.store import open_store
    from core.training import branch_history
    from core.training import branch_lineage
    from core.training import branch_run
    from core.training import checkpoint_bytes
    from core.training import epoch_checkpoints
    from tests.conftest import wait_until_ended

    pytest.importorskip("distributed")
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    from core.compute import submit_run

    spec = TrainSpec(
        pipeline.to_dict(),
        mlp_template().to_dict(),
        OptimizerSpec("adam", 5e-3).to_dict(),
        epochs=6,
        batch_size=16,
        checkpoints=CheckpointRule(last=2, every=3, best=0).to_dict(),
    )
    parent = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, parent, 180)
    assert run.status == "succeeded", run.status_reason
    kept = epoch_checkpoints(store, parent)
    assert [c.epoch for c in kept] == [3, 5, 6]  # every 3rd, and the last 2
    steps_per_epoch = -(-run.result_json["rows"]["train"] // 16)
    assert [c.step for c in kept] == [3 * steps_per_epoch, 5 * steps_per_epoch, 6 * steps_per_epoch]
    assert checkpoint_bytes(store, parent) >= sum(c.bytes for c in kept) > 0

    # An epoch without a checkpoint names the nearest kept one; a model change says why not.
    with pytest.raises(DataError, match="no checkpoint at epoch 2: the nearest kept one is epoch 3"):
        branch_run(store, thread_cluster, parent, 2, {"learning_rate": 1e-3}, viewer=SYSTEM)
    with pytest.raises(SpecError, match="cannot change `model`"):
        branch_run(
            store, thread_cluster, parent, 3, {"model": mlp_template(hidden=(4,)).to_dict()}, viewer=SYSTEM
        )

    # Another learning rate and batch size: its steps go on from the parent's at epoch 3.
    child = branch_run(
        store, thread_cluster, parent, 3, {"learning_rate": 1e-3, "batch_size": 8, "epochs": 5}, viewer=SYSTEM
    )
    branched = wait_until_ended(store, child, 180)
    assert branched.status == "succeeded", branched.status_reason
    record = get_run(store, child, viewer=SYSTEM)
    assert (record.parent_id, record.parent_kind) == (parent, "branched")
    assert record.spec["branch"] == {"run": parent, "epoch": 3, "step": 3 * steps_per_epoch}
    mine, theirs = get_metrics(store, child, viewer=SYSTEM), get_metrics(store, parent, viewer=SYSTEM)
    assert mine["epoch/loss"].steps == [4, 5]
    assert mine["batch/loss"].steps[0] == 3 * steps_per_epoch + 1
    assert mine["batch/loss"].steps[-1] == 3 * steps_per_epoch + 2 * -(-run.result_json["rows"]["train"] // 8)
    # It starts where the parent was, not from scratch: its first epoch's loss is near the
    # parent's at epoch 3 and far below the parent's first.
    parent_loss = dict(zip(theirs["epoch/loss"].steps, theirs["epoch/loss"].values, strict=True))
    assert mine["epoch/loss"].values[0] < parent_loss[1]
    assert abs(mine["epoch/loss"].values[0] - parent_loss[3]) < 0.5 * parent_loss[1]
    events = get_events(store, child, viewer=SYSTEM)
    assert any(e.kind == "branched" and "optimizer state carried over" in e.message for e in events)
    # Its shared history: the parent's curves up to epoch 3 (its step at epoch 3 for batches).
    shared = branch_history(store, child, viewer=SYSTEM)
    assert shared["epoch/loss"].steps == [1, 2, 3]
    assert max(shared["batch/loss"].steps) == 3 * steps_per_epoch
    assert not any(key.startswith("system/") for key in shared)
    assert branch_history(store, parent, viewer=SYSTEM) == {}
    # The lineage: the parent at the root, the branch under it at epoch 3.
    tree = branch_lineage(store, child, viewer=SYSTEM)
    assert tree.run_id == parent and [(c.run_id, c.epoch) for c in tree.children] == [(child, 3)]


def test_a_snapshot_keeps_its_epoch_while_training_goes_on_and_restores_exactly(config) -> None:  # type: ignore[no-untyped-def]
    """The writer's snapshot is the epoch's state even when the model trains on before it is
    written (TensorFlow's copy on write); a model restored from it has the same variables, the
    optimizer's slots and step count, and the branch's own learning rate."""
    import keras
    import numpy as np

    from core.models import build_keras_model
    from core.store import new_id
    from core.store import open_store
    from core.training._checkpoints import EpochWriter
    from core.training._checkpoints import read_epoch_checkpoint
    from core.training._checkpoints import restore_epoch_checkpoint

    store = open_store(config)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), rng.integers(0, 3, 64)
    model = build_keras_model(mlp_template(), (4,), 3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x, y, verbose=0, epochs=2)
    run_id = new_id()
    writer = EpochWriter(store, run_id, CheckpointRule())
    writer.snapshot(model, 2, 8, 0.5)
    weights = [v.numpy().copy() for v in model.variables]
    model.fit(x, y, verbose=0, epochs=1)  # trains on before (or while) the writer writes
    writer.close()
    meta, saved, slots = read_epoch_checkpoint(store, run_id, 2)
    assert (meta["epoch"], meta["step"], meta["metric"]) == (2, 8, 0.5)
    assert all(np.array_equal(a, b) for a, b in zip(weights, saved, strict=True))
    again = build_keras_model(mlp_template(), (4,), 3)
    again.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    assert restore_epoch_checkpoint(again, meta, saved, slots) == "optimizer state carried over"
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(weights, again.variables, strict=True))
    state = {str(v.path).rsplit("/", 1)[-1]: float(np.ravel(v.numpy())[0]) for v in again.optimizer.variables}
    # Two epochs of two batches; the branch's own rate.
    assert state["iteration"] == 4 and state["learning_rate"] == pytest.approx(1e-3)
    with pytest.raises(DataError, match="no checkpoint at epoch 1: the nearest kept one is epoch 2"):
        read_epoch_checkpoint(store, run_id, 1)
    other = build_keras_model(mlp_template(hidden=(8,)), (4,), 3)
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(DataError, match="does not match the checkpoint's"):
        restore_epoch_checkpoint(other, meta, saved, slots)


def test_per_epoch_checkpoints_count_in_disk_use(config) -> None:  # type: ignore[no-untyped-def]
    from core.ops import disk_use
    from core.store import create_run
    from core.store import open_store
    from core.training import checkpoint_bytes

    store = open_store(config)
    run = create_run(store, "train", {"type": "train"}, author="ann")
    for epoch, size in ((3, 1000), (5, 500)):
        store.path_for("checkpoints", run.id, f".e{epoch}.npz").write_bytes(b"x" * size)
    store.path_for("checkpoints", run.id, ".keras").write_bytes(b"x" * 250)  # the resume checkpoint
    assert checkpoint_bytes(store, run.id) == 1750
    assert disk_use(store).scope("user")["ann"].bytes["checkpoints"] == 1750
