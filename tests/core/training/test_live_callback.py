"""The live callback in this process, on a real Keras fit and a real SQLite store: what it writes
(and that every written point is stored), steering within one batch, and NaN detection when the
sampling skips the batch where the loss broke."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from core.compute import JobContext
from core.compute import request_control
from core.compute._context import inline_job
from core.config import AppConfig
from core.store import SYSTEM
from core.store import Store
from core.store import get_events
from core.store import get_metrics
from core.store import open_store
from core.training._callback import batch_value
from core.training._callback import live_callback
from core.training._callback import metric_kinds
from core.training._callback import nonfinite_loss
from tests.waiting import wait_until

keras = pytest.importorskip("keras")

ROWS, BATCH = 256, 8
STEPS = ROWS // BATCH  # 32 batches an epoch


@pytest.fixture
def store(config: AppConfig) -> Store:
    return open_store(config)


@pytest.fixture
def job(store: Store) -> Iterator[JobContext]:
    with inline_job(store, "train", {}) as ctx:
        yield ctx


def _data(nan_row: int | None = None) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, 4)).astype("float32")
    if nan_row is not None:
        x[nan_row] = np.nan
    return x, (x[:, 0] > 0).astype("int64")


def _model(lr: float = 0.01) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class _AtBatch(keras.callbacks.Callback):
    """Runs ``action(step)`` at the start of one batch, before the live callback sees it."""

    def __init__(self, batch: int, action: Callable[[int], None], epoch: int = 0) -> None:
        super().__init__()
        self.batch, self.action, self.at_epoch, self.epoch = batch, action, epoch, 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if (self.epoch, batch) == (self.at_epoch, self.batch):
            self.action(self.epoch * STEPS + batch)


class _Recorder(keras.callbacks.Callback):
    """What each batch trained with (after the live callback has steered)."""

    def __init__(self) -> None:
        super().__init__()
        self.lr: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.lr.append(float(self.model.optimizer.learning_rate.numpy()))


def _fit(
    ctx: JobContext, epochs: int, *before: Any, after: Any = (), x_y: Any = None, **kw: Any
) -> tuple[Any, Any, Any]:
    """Fit the small model with ``before``, the live callback, a :class:`_Recorder` and ``after``."""
    model, recorder = _model(), _Recorder()
    live = live_callback(ctx, STEPS, epochs, BATCH, **kw)
    x, y = x_y or _data()
    callbacks = [*before, live, recorder, *after]
    model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=callbacks, shuffle=False, verbose=0)
    return model, live, recorder


def _control(ctx: JobContext, action: str, value: float | None = None) -> None:
    """Request ``action`` through the store, and have the context read it now (its thread does
    every ``CONTROL_POLL_SECONDS``): what is measured from here is the callback's part."""
    request_control(ctx.store, ctx.run_id, action, value, viewer=SYSTEM)
    ctx._poll()


def _markers(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The markers, less the ID of the request each answers (checked to be the request's own)."""
    events = get_events(store, run_id, viewer=SYSTEM)
    requests = {e.id for e in events if e.kind == "control"}
    out = []
    for event in events:
        if event.kind == "marker":
            data = json.loads(event.message)
            assert data.pop("request", None) in requests | {None}
            out.append(data)
    return out


def test_every_point_written_is_stored_and_each_epoch_starts_and_ends(store: Store, job: JobContext) -> None:
    written: list[tuple[str, int, float]] = []
    log_metric = job.log_metric

    def spy(key: str, step: int, value: float) -> None:
        written.append((key, step, value))
        log_metric(key, step, value)

    job.log_metric = spy  # type: ignore[method-assign]
    # One sample an hour: only the first and the last batch of each epoch are due.
    _fit(job, 3, sample_seconds=3600)
    job.close()
    metrics = get_metrics(store, job.run_id, viewer=SYSTEM)
    for key in {k for k, _, _ in written}:
        mine = sorted((step, value) for k, step, value in written if k == key)
        assert list(zip(metrics[key].steps, metrics[key].values, strict=True)) == mine, key
    ends = [e * STEPS + b for e in range(3) for b in (1, STEPS)]
    assert metrics["batch/loss"].steps == ends
    assert metrics["batch/accuracy"].steps == ends
    assert metrics["epoch/loss"].steps == [1, 2, 3]
    # A batch point is the mean of the batches since the last point (Keras logs running means
    # over the epoch): the first batch's point and the other 31's together make the epoch's value.
    first, rest = metrics["batch/loss"].values[0::2], metrics["batch/loss"].values[1::2]
    together = [(a + (STEPS - 1) * b) / STEPS for a, b in zip(first, rest, strict=True)]
    assert together == pytest.approx(metrics["epoch/loss"].values, rel=1e-4)
    # Seconds of training: one checkpoint, the last epoch's (a resumed run starts there).
    checkpoints = [
        json.loads(e.message) for e in get_events(store, job.run_id, viewer=SYSTEM) if e.kind == "checkpoint"
    ]
    assert checkpoints == [{"epoch": 3, "step": 3 * STEPS}]


def test_the_saved_model_becomes_the_last_checkpoint(store: Store, job: JobContext) -> None:
    """``final_checkpoint=False`` (a training run): the last epoch is not saved twice; the run's
    saved model is copied in as its checkpoint, which resumes like one the callback wrote."""
    from core.training._callback import checkpoint_from_model
    from core.training._checkpoints import load_checkpoint

    def checkpoints() -> list[dict[str, Any]]:
        events = get_events(store, job.run_id, viewer=SYSTEM)
        return [json.loads(e.message) for e in events if e.kind == "checkpoint"]

    model, live, _ = _fit(job, 2, final_checkpoint=False)
    assert live.unsaved_epoch == 2
    assert checkpoints() == []  # two short epochs: no earlier checkpoint was due either
    assert not store.path_for("checkpoints", job.run_id, ".keras").exists()
    model.save(store.path_for("models", job.run_id, ".keras"))
    checkpoint_from_model(job, live, STEPS)
    assert checkpoints() == [{"epoch": 2, "step": 2 * STEPS}]
    resumed, epoch = load_checkpoint(job, job.run_id)
    assert epoch == 2
    for mine, theirs in zip(model.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # The optimizer's state came along: Adam's step count, the moments.
    assert int(resumed.optimizer.iterations) == int(model.optimizer.iterations) == 2 * STEPS


def test_a_run_stopped_on_its_last_epoch_still_checkpoints_itself(store: Store, job: JobContext) -> None:
    stopper = _AtBatch(3, lambda _: setattr(stopper.model, "stop_training", True), epoch=1)
    _, live, _ = _fit(job, 2, stopper, final_checkpoint=False)
    assert live.unsaved_epoch is None
    events = get_events(store, job.run_id, viewer=SYSTEM)
    assert [json.loads(e.message)["epoch"] for e in events if e.kind == "checkpoint"] == [2]


def test_slow_batches_are_all_written(store: Store, job: JobContext) -> None:
    _fit(job, 2, sample_seconds=0.0)  # every batch is "slower than the interval"
    job.close()
    assert get_metrics(store, job.run_id, viewer=SYSTEM)["batch/loss"].steps == list(range(1, 2 * STEPS + 1))


def test_live_points_arrive_while_the_run_trains(store: Store, job: JobContext) -> None:
    seen: list[int] = []

    def wait_for_points(step: int) -> None:  # holds the training loop until the store has points
        series = wait_until(
            lambda: get_metrics(store, job.run_id, viewer=SYSTEM).get("batch/loss"),
            timeout=20,
            what="batch points in the store while training",
        )
        seen.extend(series.steps)

    model, _, _ = _fit(job, 2, _AtBatch(10, wait_for_points, epoch=1), sample_seconds=0.0)
    assert seen and max(seen) <= STEPS + 10  # written before the batch that waited
    assert int(model.optimizer.iterations.numpy()) == 2 * STEPS  # and the run went on


def test_stop_takes_effect_within_one_batch(job: JobContext) -> None:
    def stop(step: int) -> None:
        job._stop_flag.set()  # what the context's thread does when it reads a stop request

    model, _, _ = _fit(job, 3, _AtBatch(5, stop, epoch=1))
    # Keras finishes the batch it had begun, and no other.
    assert int(model.optimizer.iterations.numpy()) == STEPS + 5 + 1


def test_learning_rate_change_takes_effect_on_the_next_batch(store: Store, job: JobContext) -> None:
    _, _, recorder = _fit(job, 2, _AtBatch(7, lambda step: _control(job, "set_lr", 0.5), epoch=1))
    at = STEPS + 7
    assert recorder.lr[at - 1] == pytest.approx(0.01) and recorder.lr[at] == pytest.approx(0.5)
    job.close()
    assert _markers(store, job.run_id) == [{"action": "set_lr", "step": at, "value": 0.5}]
    assert get_metrics(store, job.run_id, viewer=SYSTEM)["batch/learning_rate"].steps == [at]


def test_pause_holds_the_next_batch_until_resume(store: Store, job: JobContext) -> None:
    resumed = threading.Event()
    trained_while_paused: list[int] = []

    def pause(step: int) -> None:
        _control(job, "pause")

        def resume_later() -> None:
            wait_until(lambda: _markers(store, job.run_id), timeout=20, what="the pause marker")
            resumed.set()
            request_control(store, job.run_id, "resume", viewer=SYSTEM)  # the context's thread reads it

        threading.Thread(target=resume_later, daemon=True).start()

    class Watch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if not resumed.is_set() and batch >= 3:
                trained_while_paused.append(batch)

    _fit(job, 1, _AtBatch(3, pause), after=[Watch()])
    assert trained_while_paused == []
    assert [(m["action"], m["step"]) for m in _markers(store, job.run_id)] == [("pause", 3), ("resume", 3)]


def test_nan_loss_fails_even_when_its_batch_is_not_sampled(store: Store, job: JobContext) -> None:
    # Row 45 is in batch 5 (step 6) of the first epoch; samples are an hour apart, so only batch 0
    # is written before it.
    model, live, _ = _fit(job, 3, x_y=_data(nan_row=45), sample_seconds=3600)
    assert live.failure == nonfinite_loss(math.nan, 6, 1)
    assert live.failure.startswith("the loss became nan at step 6 (epoch 1). Lower the learning rate")
    assert int(model.optimizer.iterations.numpy()) < 3 * STEPS  # the run stopped early
    job.close()
    assert all(math.isfinite(v) for v in get_metrics(store, job.run_id, viewer=SYSTEM)["batch/loss"].values)


def test_batch_value_takes_a_running_mean_apart() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]
    means = [sum(values[: k + 1]) / (k + 1) for k in range(len(values))]  # what Keras logs
    # Every batch stored: each point is its batch's own value.
    own = [batch_value(means[0], 1, 0.0, 0)] + [
        batch_value(means[k], k + 1, means[k - 1], k) for k in range(1, len(values))
    ]
    assert own == pytest.approx(values)
    # Batches 3..5 (1-based) sampled as one point after batch 2: their mean.
    assert batch_value(means[4], 5, means[1], 2) == pytest.approx((4.0 + 1.0 + 5.0) / 3)
    # Weighted by samples: two batches of 8 then a short one of 4 with loss 10.
    m2, m3 = 2.0, (16 * 2.0 + 4 * 10.0) / 20
    assert batch_value(m3, 20, m2, 16) == pytest.approx(10.0)
    # RMSE is the root of a running mean of squares: batch errors 3 then 4.
    r1, r2 = 3.0, math.sqrt((9.0 + 16.0) / 2)
    assert batch_value(r2, 2, r1, 1, "rms") == pytest.approx(4.0)
    assert batch_value(0.8, 2, 0.7, 1, "running") == 0.8  # an AUC stays as Keras reports it


def test_stored_batch_losses_are_each_batchs_own_loss(store: Store, job: JobContext) -> None:
    """Every batch stored (sample_seconds=0): each point equals the loss of that batch computed
    independently, on the weights the batch started from."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x, y = _data()
    own: list[float] = []

    class Independent(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            rows = slice(batch * BATCH, (batch + 1) * BATCH)
            own.append(float(loss_fn(y[rows], self.model(x[rows]))))

    model, live, _ = _fit(job, 2, Independent(), sample_seconds=0.0, samples=ROWS)
    job.close()
    assert metric_kinds(["loss", "accuracy", "rmse", "auc"]) == {
        "loss": "mean",
        "accuracy": "mean",
        "rmse": "rms",
        "auc": "running",
    }
    stored = get_metrics(store, job.run_id, viewer=SYSTEM)["batch/loss"]
    assert stored.steps == list(range(1, 2 * STEPS + 1))
    assert stored.values == pytest.approx(own, rel=1e-3, abs=1e-5)
