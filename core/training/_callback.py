"""The live callback: per-batch and per-epoch metrics into the store, NaN/inf checks, and the
controls (stop, pause, learning rate) that act within a batch; and the backend set-up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = [
    "CHECKPOINT_EVERY",
    "FIRST_SAVE_GUESS",
    "SAMPLE_SECONDS",
    "checkpoint_from_model",
    "configure_backend",
    "live_callback",
    "batch_value",
    "metric_kinds",
    "nonfinite_loss",
]


def configure_backend(seed: int) -> dict[str, Any]:
    """Seed Keras, cap TensorFlow's thread pools at the worker's threads, and describe the device.

    The backend is this process's (a run on another backend than its worker's trains in a
    process of its own, ``_backends``); outside a Dask worker the threads come from
    ``LOOM_TRAIN_THREADS``, which that process is started with.
    """
    import os

    import keras

    threads = None
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        threads = int(os.environ.get("LOOM_TRAIN_THREADS") or 0) or None
    import platform

    import numpy
    import pandas

    backend = keras.backend.backend()
    env = {
        "backend": backend,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "threads": threads,
    }
    if backend == "tensorflow":
        import tensorflow as tf

        if threads:
            try:  # only possible before TensorFlow's runtime starts in this process
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass
        gpus = tf.config.list_physical_devices("GPU")
        env["tensorflow"] = tf.__version__
        env["device"] = _gpu_name(gpus[0]) if gpus else "CPU"
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        env["jax"] = jax.__version__
        env["device"] = device.device_kind if device.platform == "gpu" else "CPU"
    elif backend == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        env["torch"] = torch.__version__
        env["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    else:
        env["device"] = "unknown"
    keras.utils.set_random_seed(seed)
    return env


def _gpu_name(device: Any) -> str:
    import tensorflow as tf

    try:
        return str(tf.config.experimental.get_device_details(device).get("device_name") or device.name)
    except (ValueError, RuntimeError):
        return str(device.name)


def nonfinite_loss(loss: float, step: int, epoch: int) -> str | None:
    """Why a run must stop when its loss is NaN or infinite (one message for every kind of run),
    or None while it is finite."""
    if math.isfinite(loss):
        return None
    return (
        f"the loss became {loss} at step {step} (epoch {epoch}). Lower the learning rate, add "
        "gradient clipping, or scale the inputs."
    )


def batch_value(mean_k: float, seen_k: float, mean_j: float, seen_j: float, kind: str = "mean") -> float:
    """The mean of the batches between two of Keras's running means: the batches after the
    ``seen_j``-th sample (or batch) up to the ``seen_k``-th, whose running means over the epoch
    were ``mean_j`` and ``mean_k``: ``(seen_k * mean_k - seen_j * mean_j) / (seen_k - seen_j)``.

    With ``seen_j`` the previous batch's count it is that one batch's own value; ``seen_j = 0``
    (the epoch's start) gives ``mean_k``. ``kind="rms"`` undoes a root mean square (Keras's RMSE is
    the root of a running mean of squares); anything else is returned as it is (a running AUC).
    """
    if seen_k <= seen_j:
        return mean_k
    if kind == "mean":
        return (seen_k * mean_k - seen_j * mean_j) / (seen_k - seen_j)
    if kind == "rms":
        square = (seen_k * mean_k * mean_k - seen_j * mean_j * mean_j) / (seen_k - seen_j)
        return math.sqrt(max(square, 0.0))
    return mean_k


# Keras's names for metrics that are plain running means over an epoch (the loss, accuracy,
# MAE, MSE, cross-entropies) and for RMSE (the root of a running mean of squares). Anything else
# (AUC, a script's own metric) is stored as Keras reports it.
_MEAN_METRICS = frozenset(
    {
        "loss",
        "accuracy",
        "acc",
        "binary_accuracy",
        "categorical_accuracy",
        "sparse_categorical_accuracy",
        "mae",
        "mean_absolute_error",
        "mse",
        "mean_squared_error",
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
    }
)
_RMS_METRICS = frozenset({"rmse", "root_mean_squared_error"})


def metric_kinds(names: Iterable[str]) -> dict[str, str]:
    """How each logged metric accumulates over an epoch, by its name: ``"mean"`` (the loss,
    accuracy, MAE: a plain running mean), ``"rms"`` (RMSE) or ``"running"`` (AUC and any other
    metric that cannot be taken apart per batch).

    By name, never by asking the model: reading ``model.metrics`` during a JAX fit (from Keras's
    batch-end thread pool) left the metric variables holding donated, deleted buffers, and every
    JAX run whose epoch ended on a short batch failed at the epoch's end with "Array has been
    deleted" (tests/core/tuning/test_backend_trials.py).
    """
    return {
        name: "mean" if name in _MEAN_METRICS else "rms" if name in _RMS_METRICS else "running"
        for name in names
    }


# A batch point is written at most this often while batches are fast: 25 a second, and never
# fewer than 12 a second while batches take under this long; the first and the last batch of every
# epoch always.
SAMPLE_SECONDS = 0.04


# A checkpoint is written once the training since the last one took this many times what that
# save took, so saves take at most ~0.5 % of the time (the first save is assumed to take
# FIRST_SAVE_GUESS seconds, a small model's: a first checkpoint after ~10 s of training).
CHECKPOINT_EVERY = 200
FIRST_SAVE_GUESS = 0.05


def checkpoint_from_model(ctx: JobContext, live: Any, steps_per_epoch: int) -> None:
    """Make the run's saved model its checkpoint for the last epoch that ``live`` (a
    :func:`live_callback` with ``final_checkpoint=False``) left unsaved: a file copy of the same
    state (weights and optimizer) instead of a second save."""
    import shutil

    epoch = getattr(live, "unsaved_epoch", None)
    if epoch is None:
        return
    shutil.copyfile(
        ctx.store.path_for("models", ctx.run_id, ".keras"),
        ctx.store.path_for("checkpoints", ctx.run_id, ".keras"),
    )
    ctx.note("checkpoint", {"epoch": epoch, "step": epoch * steps_per_epoch})


def live_callback(  # type: ignore[no-untyped-def]
    ctx: JobContext,
    steps_per_epoch: int,
    epochs: int,
    batch_size: int,
    units: dict[str, float] | None = None,
    on_epoch: Callable[[int, dict[str, float]], str | None] | None = None,
    sample_seconds: float = SAMPLE_SECONDS,
    checkpoints: bool = True,
    final_checkpoint: bool = True,
    samples: int = 0,
    keep: Any = None,
    step_offset: int = 0,
):
    """The Keras callback that streams a run's curves into the store and applies its controls.

    What the store keeps: every epoch's metrics and, per batch, every key of

    * the first and the last batch of each epoch (and the batch a run stopped at);
    * in between, the first batch to begin at least ``sample_seconds`` after the last sampled one
      (training time, measured on the training thread): every batch while batches take longer
      than that, about one a ``sample_seconds`` while they are faster.

    Keras's batch ``loss`` and metrics are running means over the epoch so far (a curve of them
    is a saw-tooth that restarts every epoch). A stored batch point is instead the mean of the
    batches since the previous stored point of the epoch (:func:`batch_value`): the batch's own
    value where every batch is stored (batches slower than ``sample_seconds``), else the mean of
    the few batches it stands for. Means are weighted by samples when ``samples`` (the training
    rows) and ``batch_size`` are known, so a short last batch counts as much as it weighs; by
    batches otherwise. RMSE is taken apart through its squares; a metric that is no mean (AUC)
    is stored as Keras reports it, over the epoch so far. Epoch points are Keras's epoch values.
    Writing every
    batch of a fast run costs a store row per key per batch (tens of microseconds of a shared
    CPU, against a millisecond-long batch); samples cost nothing measurable. Every batch's loss
    is still checked: a NaN or infinite loss fails the run at the batch where it appeared.

    ``checkpoints=False`` (a script's own ``fit``, ``core.track``) saves no checkpoints; a
    ``batch_size`` of 0 (unknown there) records no ``epoch/samples_per_s``.
    ``final_checkpoint=False``: a run that trains to its last epoch is not checkpointed then (it
    is when it stops early); the caller saves the model and makes that file the checkpoint with
    :func:`checkpoint_from_model`, instead of saving the same state twice.
    ``keep`` (a :class:`~core.training._checkpoints.CheckpointRule`): every epoch is also
    snapshotted in memory and written by a thread of its own, the rule deciding which epochs
    stay (``_checkpoints.EpochWriter``); None writes none. ``step_offset`` is added to every
    step: a branch whose batch size differs from its parent's continues at the parent's step.
    """
    import threading

    import keras

    from core.training._checkpoints import EpochWriter

    scale: dict[str, float] = units or {}
    isfinite = math.isfinite
    monotonic = time.monotonic

    class LiveMetrics(keras.callbacks.Callback):
        """Streams per-batch and per-epoch metrics into the store, and applies steering.

        ``async_safe``: Keras then runs batch-end calls in a thread pool, where it also turns the
        step's metric tensors into floats (as it does for a bare ``fit``), so the training thread
        never waits on them. Hence steps are derived from (epoch, batch), never counted, and the
        batch-end hook does little: a finiteness check, and a point for the store when the
        batch was sampled (the context buffers it; its own thread writes to the store).

        ``on_train_batch_begin``, which Keras calls in line, picks the samples (by the training
        thread's clock, so a busy pool does not thin the curve) and steers: it reads the stop
        flag and the control requests from memory (the context's thread refreshes them from the
        store), so a request takes effect before the next batch once the context has read it,
        and an ordinary batch costs a clock read and two attribute reads.
        """

        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.started = time.perf_counter()
            self.failure: str | None = None
            self.pruned: str | None = None
            self.saved_at = time.perf_counter()
            self.save_cost = FIRST_SAVE_GUESS  # seconds the last checkpoint took
            self._lock = threading.Lock()  # batch-end calls run on several pool threads
            self._next_sample = -math.inf  # when the next batch to begin is sampled
            self._sampled: set[int] = set()  # this epoch's sampled batches
            self._last_batch = -1  # the last batch that began
            self._latest: tuple[int, dict[str, Any]] | None = None  # the last unsampled step's logs
            # Sampled batches of this epoch in order, their logs as they arrive (calls finish out
            # of order), and the last written point's (samples seen, running means): each point
            # is written once its predecessor is, as the mean of the batches in between.
            self._order: list[int] = []
            self._arrived: dict[int, dict[str, Any]] = {}
            self._anchor: tuple[float, dict[str, Any]] = (0.0, {})
            self._failed_step = math.inf
            self._stop_marked = False
            # The last epoch, when final_checkpoint=False left its checkpoint to the caller.
            self.unsaved_epoch: int | None = None
            self.writer = (
                EpochWriter(ctx.store, ctx.run_id, keep) if checkpoints and keep is not None else None
            )

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.started = self.saved_at = time.perf_counter()

        def on_train_end(self, logs: dict | None = None) -> None:
            self.close()

        def close(self) -> None:
            """Wait for the per-epoch checkpoints still being written (idempotent)."""
            writer, self.writer = self.writer, None
            if writer is not None:
                writer.close()
                if writer.error:
                    ctx.note("checkpoint_failed", {"reason": writer.error})

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch
            self._sampled, self._next_sample, self._latest = set(), -math.inf, None
            with self._lock:
                self._order, self._arrived, self._anchor = [], {}, (0.0, {})

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            requests = ctx.pending_controls()
            if requests:
                self._steer(self.epoch * steps_per_epoch + batch + step_offset, requests)
            if ctx.should_stop() and not self._stop_marked:
                # Keras ends the fit after this batch: the step where the stop took effect.
                self._stop_marked = True
                self.model.stop_training = True
                ctx.mark("stop", self.epoch * steps_per_epoch + batch + step_offset)
            self._last_batch = batch
            now = monotonic()
            if now >= self._next_sample:
                self._next_sample = now + sample_seconds
                self._sampled.add(batch)
                with self._lock:
                    self._order.append(batch)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            # On a pool thread, after this batch began; ``logs`` holds floats. Calls may finish
            # out of order.
            if not logs:
                return
            step = self.epoch * steps_per_epoch + batch + 1 + step_offset
            loss = logs.get("loss")
            if loss is not None and not isfinite(loss):
                self._fail(loss, step)
            with self._lock:
                if batch in self._sampled:
                    self._arrived[batch] = logs
                    self._flush()
                elif self._latest is None or step > self._latest[0]:
                    self._latest = (step, logs)

        def _seen(self, batch: int) -> float:
            # Samples (else batches) the epoch's running means cover once ``batch`` has ended.
            if samples > 0 and batch_size > 0:
                return float(min((batch + 1) * batch_size, samples))
            return float(batch + 1)

        def _flush(self, final: bool = False) -> None:
            # Under the lock: write the sampled batches whose logs have arrived, in order; at the
            # epoch's end every call has finished, so one that brought no logs is skipped.
            while self._order and (final or self._order[0] in self._arrived):
                batch = self._order.pop(0)
                if batch in self._arrived:
                    self._write_batch(batch, self._arrived.pop(batch))

        def _write_batch(self, batch: int, logs: dict[str, Any]) -> None:
            kinds = metric_kinds(logs)
            seen_j, before = self._anchor
            seen_k = self._seen(batch)
            step = self.epoch * steps_per_epoch + batch + 1 + step_offset
            for key, value in logs.items():
                if isinstance(value, float | int):
                    kind = kinds[key]
                    value = batch_value(float(value), seen_k, float(before.get(key, 0.0)), seen_j, kind)
                    ctx.log_metric(f"batch/{key}", step, value * scale.get(key, 1.0))
            self._anchor = (seen_k, logs)
            ctx.set_progress((step - step_offset) / (steps_per_epoch * epochs))

        def _fail(self, loss: float, step: int) -> None:
            with self._lock:
                if step < self._failed_step:  # the first step that failed, whatever the order
                    self._failed_step = step
                    self.failure = nonfinite_loss(float(loss), step, self.epoch + 1)
            self.model.stop_training = True

        def _steer(self, step: int, requests: list[dict[str, Any]]) -> None:
            # Controls arrive through the store; each is applied here, before a batch, and
            # recorded as a marker at the step where it took effect.
            paused = False
            while True:
                for request in requests:
                    action, value, rid = request.get("action"), request.get("value"), request.get("request")
                    if action == "set_lr":
                        lr = self.model.optimizer.learning_rate
                        if not hasattr(lr, "assign"):
                            refused = "set_lr refused (the run uses a learning-rate schedule)"
                            ctx.mark(refused, step, value, request=rid)
                            continue
                        rate = float(value or 0.0)  # request_control refused anything not > 0
                        # JAX trains on a copy of the variables that Keras writes back only at
                        # an epoch's end: write it back now, so the next batch reads the new rate.
                        sync = getattr(self.model, "jax_state_sync", None)
                        if sync is not None:
                            sync()
                        lr.assign(rate)
                        ctx.log_metric("batch/learning_rate", step, rate)
                        ctx.mark("set_lr", step, rate, request=rid)
                    elif action == "pause" and not paused:
                        paused = True
                        ctx.mark("pause", step, request=rid)
                    elif action == "resume" and paused:
                        paused = False
                        ctx.mark("resume", step, request=rid)
                    else:  # a pause while paused, a resume while running: answered, not lost
                        ctx.acknowledge(rid, f"already {'paused' if paused else 'running'}", step)
                if not paused or ctx.should_stop():
                    return
                time.sleep(0.1)  # paused: heartbeats go on in the context's thread
                requests = ctx.pending_controls()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # Keras has waited for every batch-end call of the epoch: write the epoch's last
            # batch point if the sampling skipped it, so each epoch's curve ends where it ended.
            latest, self._latest = self._latest, None
            with self._lock:
                self._flush(final=True)
                if latest is not None and self._last_batch not in self._sampled:
                    self._write_batch(latest[0] - self.epoch * steps_per_epoch - 1 - step_offset, latest[1])
            values = {
                key: float(value) * scale.get(key.removeprefix("val_"), 1.0)
                for key, value in (logs or {}).items()
            }
            loss = values.get("loss")
            if loss is not None and not isfinite(loss):  # caught per batch already; a safety net
                self._fail(loss, (epoch + 1) * steps_per_epoch + step_offset)
            for key, value in values.items():
                ctx.log_metric(f"epoch/{key}", epoch + 1, value)
            if on_epoch is not None and (pruned := on_epoch(epoch + 1, values)):
                self.pruned = pruned
                ctx.mark("pruned", (epoch + 1) * steps_per_epoch + step_offset)
                self.model.stop_training = True
            if self.writer is not None and not self.failure:  # every epoch, kept by the rule
                key = values.get("val_loss", values.get("loss"))
                self.writer.snapshot(self.model, epoch + 1, (epoch + 1) * steps_per_epoch + step_offset, key)
            # The last finished epoch, model and optimizer state: what a resumed run starts from.
            # Once the training since the last checkpoint is CHECKPOINT_EVERY times what a save
            # takes (at most ~0.5 % of the time: every epoch unless epochs are short); always the
            # last epoch and when the run stops early.
            now = time.perf_counter()
            last = epoch + 1 == epochs or self.model.stop_training
            if last and not final_checkpoint and not self.model.stop_training:
                self.unsaved_epoch = epoch + 1  # the caller's model save is this checkpoint
            elif checkpoints and (last or now - self.saved_at >= CHECKPOINT_EVERY * self.save_cost):
                self.model.save(ctx.store.path_for("checkpoints", ctx.run_id, ".keras"))
                self.saved_at, self.save_cost = time.perf_counter(), time.perf_counter() - now
                ctx.note(
                    "checkpoint", {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch + step_offset}
                )
            elapsed = time.perf_counter() - self.started
            done = (epoch + 1) * steps_per_epoch
            if batch_size > 0:
                ctx.log_metric("epoch/samples_per_s", epoch + 1, done * batch_size / max(elapsed, 1e-9))

    return LiveMetrics()
