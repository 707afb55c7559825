"""The live callback: per-batch and per-epoch metrics into the store, NaN/inf checks, and the
controls (stop, pause, learning rate) that act within a batch; and the backend set-up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = ["configure_backend", "live_callback", "nonfinite_loss"]


def configure_backend(seed: int) -> dict[str, Any]:
    """Seed Keras, cap TensorFlow's thread pools at the worker's threads, and describe the device.

    Loom runs Keras on TensorFlow; the JAX and PyTorch backends are only used by the GPU check
    (``bench/gpu_check.py``) on machines that have no TensorFlow.
    """
    import os

    import keras

    threads = None
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        pass
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


def live_callback(  # type: ignore[no-untyped-def]
    ctx: JobContext,
    steps_per_epoch: int,
    epochs: int,
    batch_size: int,
    units: dict[str, float] | None = None,
    on_epoch: Callable[[int, dict[str, float]], str | None] | None = None,
):
    import keras

    units = units or {}

    def unscaled(key: str, value: Any) -> float:
        # Regression trains on standardized targets; curves are drawn in the target's own units.
        return float(value) * units.get(key.removeprefix("val_"), 1.0)

    class LiveMetrics(keras.callbacks.Callback):
        """Streams per-batch and per-epoch metrics into the store, and applies steering.

        ``async_safe``: Keras hands batch-end calls to a thread pool instead of waiting for each
        step's values, so logging costs the training loop nothing. Hence steps are derived from
        (epoch, batch), never counted, and steering — which must hold the loop — happens in
        ``on_train_batch_begin``, which Keras calls in line.
        """

        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.step = 0  # the last step steering saw (batch begin, in line)
            self.started = time.perf_counter()
            self.failure: str | None = None
            self.pruned: str | None = None
            self.saved_at = time.perf_counter()
            self.save_cost = 0.0  # seconds the last checkpoint took

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self.step = self.epoch * steps_per_epoch + batch
            self._steer()
            if ctx.should_stop():
                self.model.stop_training = True

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            step = self.epoch * steps_per_epoch + batch + 1
            for key, value in (logs or {}).items():
                ctx.log_metric(f"batch/{key}", step, unscaled(key, value))
            loss = (logs or {}).get("loss")
            if loss is not None and (failure := nonfinite_loss(float(loss), step, self.epoch + 1)):
                self.failure = failure
                self.model.stop_training = True
            ctx.set_progress(step / (steps_per_epoch * epochs))

        def _steer(self) -> None:
            # Controls arrive through the store; each is applied here, before a batch, and
            # recorded as a marker at the step where it took effect.
            paused = False
            while True:
                for request in ctx.pending_controls():
                    action, value = request.get("action"), request.get("value")
                    if action == "set_lr":
                        lr = self.model.optimizer.learning_rate
                        if not hasattr(lr, "assign"):
                            refused = "set_lr refused (the run uses a learning-rate schedule)"
                            ctx.mark(refused, self.step, value)
                            continue
                        rate = float(value or 0.0)  # request_control refused anything not > 0
                        lr.assign(rate)
                        ctx.log_metric("batch/learning_rate", self.step, rate)
                        ctx.mark("set_lr", self.step, rate)
                    elif action == "pause" and not paused:
                        paused = True
                        ctx.mark("pause", self.step)
                    elif action == "resume" and paused:
                        paused = False
                        ctx.mark("resume", self.step)
                if not paused or ctx.should_stop():
                    return
                time.sleep(0.1)  # paused: heartbeats go on in the context's thread

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            values = {key: unscaled(key, value) for key, value in (logs or {}).items()}
            for key, value in values.items():
                ctx.log_metric(f"epoch/{key}", epoch + 1, value)
            if on_epoch is not None and (pruned := on_epoch(epoch + 1, values)):
                self.pruned = pruned
                ctx.mark("pruned", (epoch + 1) * steps_per_epoch)
                self.model.stop_training = True
            # The last finished epoch, model and optimizer state: what a resumed run starts from.
            # Every epoch, unless epochs are so short that saving would cost over ~2 % of the
            # time (then every few epochs); always the last epoch and when the run stops early.
            now = time.perf_counter()
            last = epoch + 1 == epochs or self.model.stop_training
            if last or now - self.saved_at >= 50 * self.save_cost:
                self.model.save(ctx.store.path_for("checkpoints", ctx.run_id, ".keras"))
                self.saved_at, self.save_cost = time.perf_counter(), time.perf_counter() - now
                ctx.note("checkpoint", {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch})
            elapsed = time.perf_counter() - self.started
            done = (epoch + 1) * steps_per_epoch
            ctx.log_metric("epoch/samples_per_s", epoch + 1, done * batch_size / max(elapsed, 1e-9))

    return LiveMetrics()
