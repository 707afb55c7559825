"""Training runs: a ``train`` job that applies the pipeline, builds the Keras model and streams
per-batch and per-epoch metrics into the store while it trains. TensorFlow is imported inside
the job, on the worker; this module imports without it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import JobStopped
from core.errors import SpecError
from core.models import ModelSpec
from core.optimizers import OptimizerSpec
from core.pipeline import SPLIT_COLUMN
from core.pipeline import PipelineSpec
from core.training._bundle import Bundle
from core.training._bundle import PredictSpec
from core.training._bundle import export_bundle
from core.training._bundle import read_bundle
from core.training._bundle import save_bundle

if TYPE_CHECKING:
    from core.compute._jobs import JobContext

__all__ = [
    "Bundle",
    "PredictSpec",
    "TrainSpec",
    "default_pipeline",
    "export_bundle",
    "feature_columns",
    "features_array",
    "last_checkpoint",
    "probe_input",
    "read_bundle",
    "run_training",
    "save_bundle",
    "validate_train_spec",
]


@dataclass(frozen=True)
class TrainSpec:
    """Everything a training run uses; stored with the run and hashed.

    Args:
        pipeline: The pipeline spec (as a dict) the run applies, dataset and target included.
        model: The model spec (as a dict).
        optimizer: The optimizer spec (as a dict).
        epochs: Passes over the training rows, >= 1. Defaults to 5.
        batch_size: Rows per step, >= 1. Defaults to 32.
        seed: Seeds Keras, NumPy and Python. Defaults to 0.
        early_stopping: Stop after this many epochs without a better validation loss; 0 is off.
            Defaults to 0.
        pipeline_id: The saved pipeline version, if the run used one. Defaults to None.
        resume_from: A run whose last checkpoint this run continues from (its epoch and step
            count go on). Defaults to None.
        trial: Set when the run is a tuning trial: ``{"study", "trial_id", "number"}``; the run
            reports per-epoch values to the study and may be pruned. Defaults to None.
        multi_worker: Train synchronously data-parallel across ``workers`` Dask workers (a custom
            loop under TensorFlow's multi-worker strategy). Defaults to False.
        workers: Participants of a multi-worker run, >= 1. Defaults to 1.
        gpu: Each participant takes one GPU (workers declaring ``GPU``). Defaults to False.
    """

    pipeline: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any] = field(default_factory=lambda: OptimizerSpec().to_dict())
    epochs: int = 5
    batch_size: int = 32
    seed: int = 0
    early_stopping: int = 0
    pipeline_id: str | None = None
    resume_from: str | None = None
    trial: dict[str, Any] | None = None
    multi_worker: bool = False
    workers: int = 1
    gpu: bool = False

    def __post_init__(self) -> None:
        PipelineSpec.from_dict(self.pipeline).ordered()
        ModelSpec.from_dict(self.model)
        OptimizerSpec.from_dict(self.optimizer)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name} >= 1` must hold, but got {name}={value!r}.")
        if self.early_stopping < 0:
            raise SpecError(f"`early_stopping >= 0` must hold, but got early_stopping={self.early_stopping}.")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise SpecError(f"`workers >= 1` must hold, but got workers={self.workers!r}.")
        if self.multi_worker and self.batch_size % self.workers:
            raise SpecError(
                "`batch_size % workers == 0` must hold for data-parallel training (each worker takes an "
                f"equal share of every batch), but got batch_size={self.batch_size}, workers={self.workers}."
            )
        if self.multi_worker and (self.resume_from or self.trial or self.early_stopping):
            raise SpecError(
                "Multi-worker runs do not resume, tune or stop early yet: use one worker for those."
            )
        if self.trial is not None and not (
            isinstance(self.trial, dict)
            and isinstance(self.trial.get("study"), str)
            and isinstance(self.trial.get("trial_id"), int)
        ):
            raise SpecError("`trial` must be {'study': <ID>, 'trial_id': <int>, 'number': <int>}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "train", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid training spec: {exc}.") from None


def validate_train_spec(data: dict[str, Any]) -> dict[str, Any]:
    return TrainSpec.from_dict(data).to_dict()


def default_pipeline(dataset_id: str, target: str, profile: dict[str, Any], task: str) -> PipelineSpec:
    """A sensible pipeline when the user picks none: split, then fill, encode and scale
    (tabular) or scale images to [0, 1] (image datasets)."""
    columns = {c["name"]: c for c in profile.get("columns", [])}
    split = {
        "type": "split",
        "method": "stratified" if task != "regression" else "random",
        "validation": 0.2,
        "seed": 0,
    }
    if "image" in columns:
        return PipelineSpec.chain(dataset_id, target, [split, {"type": "scale_images"}])
    features = [n for n in columns if n != target]
    numeric = [n for n in features if columns[n]["kind"] in ("numeric", "boolean")]
    categorical = [n for n in features if columns[n]["kind"] == "categorical"]
    dropped = [n for n in features if n not in numeric and n not in categorical]
    steps: list[dict[str, Any]] = [{"type": "drop_missing", "columns": [target]}, split]
    if dropped:
        steps.insert(0, {"type": "drop_columns", "columns": dropped})
    if numeric:
        steps += [
            {"type": "fill_missing", "columns": numeric, "strategy": "median"},
            {"type": "standardize", "columns": numeric},
        ]
    if categorical:
        steps += [
            {"type": "fill_missing", "columns": categorical, "strategy": "most_frequent"},
            {"type": "one_hot", "columns": categorical},
        ]
    return PipelineSpec.chain(dataset_id, target, steps)


def feature_columns(frame: Any, target: str) -> list[str]:
    """The model's input columns, in order: every column the pipeline leaves but the target."""
    return [c for c in frame.columns if c != target and not c.startswith("__")]


def features_array(frame: Any, features: list[str]):  # type: ignore[no-untyped-def]
    """The model input for these rows; raises DataError for non-numeric or missing values."""
    import numpy as np

    if "image" in features:
        return np.stack(frame["image"].to_list()).astype("float32")
    bad = [c for c in features if not np.issubdtype(frame[c].dtype, np.number) and frame[c].dtype != bool]
    if bad:
        raise DataError(
            f"Column(s) {bad} are not numbers after the pipeline. Add one-hot or ordinal encoding "
            "for them, or drop them."
        )
    x = frame[features].astype("float32").to_numpy()
    if np.isnan(x).any():
        cols = [c for c in features if frame[c].isna().any()]
        raise DataError(f"Column(s) {cols} still have missing values after the pipeline. Add a fill step.")
    return x


def _arrays(frame, target: str, task: str, classes: list[Any] | None):  # type: ignore[no-untyped-def]
    import numpy as np

    x = features_array(frame, feature_columns(frame, target))
    y_raw = frame[target]
    if task == "regression":
        if not np.issubdtype(y_raw.dtype, np.number):
            raise DataError(f"Target {target!r} is not numeric ({y_raw.dtype}): regression needs numbers.")
        return x, y_raw.astype("float32").to_numpy(), None
    if classes is None:
        classes = sorted(y_raw.dropna().unique().tolist(), key=str)
    index = {c: i for i, c in enumerate(classes)}
    y = y_raw.map(lambda v: index.get(v, -1)).to_numpy()
    return x, y.astype("int64"), classes


def _configure_backend(seed: int) -> dict[str, Any]:
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


def _callback(  # type: ignore[no-untyped-def]
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
            if loss is not None and not math.isfinite(float(loss)):
                self.failure = (
                    f"the loss became {float(loss)} at step {step} (epoch {self.epoch + 1}). Lower the "
                    "learning rate, add gradient clipping, or scale the inputs."
                )
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
                        lr.assign(float(value))
                        ctx.log_metric("batch/learning_rate", self.step, float(value))
                        ctx.mark("set_lr", self.step, float(value))
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


def run_training(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``train`` job body (on a worker)."""
    import numpy as np
    import pyarrow.parquet as pq

    from core.models import build_keras_model
    from core.models import count_params
    from core.optimizers import build_keras_optimizer
    from core.pipeline import run_pandas

    spec = TrainSpec.from_dict(data)
    if spec.multi_worker:
        from core.training._distributed import run_data_parallel

        return run_data_parallel(ctx, spec)
    pipeline = PipelineSpec.from_dict(spec.pipeline)
    model_spec = ModelSpec.from_dict(spec.model)
    path = ctx.store.path_for("datasets", pipeline.dataset_id, ".parquet")
    if not path.exists():
        raise DataError(f"Dataset {pipeline.dataset_id} no longer exists. Choose another dataset.")
    frame = pq.read_table(path).to_pandas()
    result = run_pandas(pipeline, frame)
    out = result.frame
    splits = out[SPLIT_COLUMN] if SPLIT_COLUMN in out else None
    if splits is None:
        raise SpecError(
            "The pipeline has no split: add a train/validation split so the run can be validated."
        )
    train, val = out[splits == "train"], out[splits == "validation"]
    test = out[splits == "test"]
    x_train, y_train, classes = _arrays(train, pipeline.target, model_spec.task, None)
    if len(x_train) < spec.batch_size:
        raise SpecError(
            f"`batch_size <= training rows` must hold, but got batch_size={spec.batch_size} with "
            f"{len(x_train)} training rows. Lower the batch size."
        )
    n_classes = len(classes) if classes else 1
    if model_spec.task == "binary" and n_classes != 2:
        raise SpecError(
            f"Binary classification needs 2 classes, but the target has {n_classes}: choose multiclass."
        )
    # Regression fits standardized targets (mean 0, std 1 on the training rows): house prices in
    # dollars would otherwise need a learning rate per dataset. Predictions are mapped back.
    scaling = _target_scaling(y_train) if model_spec.task == "regression" else None
    scale = (lambda y: (y - scaling["mean"]) / scaling["std"]) if scaling else (lambda y: y)
    validation = None
    if len(val):
        x_val, y_val, _ = _arrays(val, pipeline.target, model_spec.task, classes)
        keep = y_val >= 0 if classes else slice(None)
        validation = (x_val[keep], scale(y_val[keep]))
    units = {"loss": scaling["std"] ** 2, "rmse": scaling["std"], "mae": scaling["std"]} if scaling else {}

    env = _configure_backend(spec.seed)
    import keras

    initial_epoch = 0
    if spec.resume_from:
        model, initial_epoch = _load_checkpoint(ctx, spec.resume_from)
        if initial_epoch >= spec.epochs:
            raise SpecError(
                f"Run {spec.resume_from} already finished epoch {initial_epoch} of {spec.epochs}: "
                "raise the number of epochs to continue it."
            )
        ctx.note("resumed", {"from_run": spec.resume_from, "epoch": initial_epoch})
    else:
        model = build_keras_model(model_spec, x_train.shape[1:], n_classes)
    loss = {
        "multiclass": "sparse_categorical_crossentropy",
        "binary": "binary_crossentropy",
        "regression": "mse",
    }[model_spec.task]
    metrics: list[Any] = (
        ["accuracy"]
        if model_spec.task == "multiclass"
        else ["accuracy", keras.metrics.AUC(name="auc")]
        if model_spec.task == "binary"
        else [keras.metrics.RootMeanSquaredError(name="rmse"), "mae"]
    )
    if not spec.resume_from:  # a checkpoint brings its compiled optimizer state along
        model.compile(
            optimizer=build_keras_optimizer(OptimizerSpec.from_dict(spec.optimizer)),
            loss=loss,
            metrics=metrics,
        )
    steps = math.ceil(len(x_train) / spec.batch_size)
    reporter = None
    if spec.trial:
        from core.tuning._study import TrialReporter

        reporter = TrialReporter(ctx.store.config, spec.trial["study"], spec.trial["trial_id"]).start(
            ctx.store
        )
    live = _callback(
        ctx, steps, spec.epochs, spec.batch_size, units, reporter.epoch_end if reporter else None
    )
    callbacks = [live]
    if spec.early_stopping and validation is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=spec.early_stopping, restore_best_weights=True
            )
        )
    model.fit(
        x_train,
        scale(y_train),
        batch_size=spec.batch_size,
        epochs=spec.epochs,
        initial_epoch=initial_epoch,
        validation_data=validation,
        callbacks=callbacks,
        verbose=0,
        shuffle=True,
    )
    if live.failure:
        raise DataError(live.failure)
    if live.pruned:
        raise JobStopped(live.pruned)
    if ctx.should_stop():
        raise JobStopped("stopped on request")
    evaluation: dict[str, float] = {}
    held_out = test if len(test) else val
    if len(held_out):
        x_eval, y_eval, _ = _arrays(held_out, pipeline.target, model_spec.task, classes)
        keep = y_eval >= 0 if classes else np.ones(len(y_eval), bool)
        scores = model.evaluate(x_eval[keep], scale(y_eval[keep]), verbose=0, return_dict=True)
        prefix = "test" if len(test) else "validation"
        evaluation = {f"{prefix}_{k}": float(v) * units.get(k, 1.0) for k, v in scores.items()}
        predicted = model.predict(x_eval[keep], verbose=0)
        if scaling:
            predicted = predicted * scaling["std"] + scaling["mean"]
        details = _details(model_spec.task, y_eval[keep], predicted, classes)
    else:
        details = {}
    model.save(ctx.store.path_for("models", ctx.run_id, ".keras"))
    return {
        "evaluation": evaluation,
        **details,
        "classes": classes,
        "features": feature_columns(train, pipeline.target),
        "input_shape": list(x_train.shape[1:]),
        "target_scaling": scaling,
        "params": count_params(model_spec, tuple(x_train.shape[1:]), n_classes),
        "rows": {"train": len(train), "validation": len(val), "test": len(test)},
        "pipeline_hash": pipeline.hash,
        "model_hash": model_spec.hash,
        "pipeline_state": result.states,
        "environment": env,
    }


def _target_scaling(y) -> dict[str, float]:  # type: ignore[no-untyped-def]
    std = float(y.std())
    return {"mean": float(y.mean()), "std": std if std > 0 else 1.0}


def _details(task: str, y_true, predicted, classes) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Confusion matrix and per-class metrics, or predicted-vs-actual for regression."""
    import numpy as np

    if task == "regression":
        pick = np.random.default_rng(0).permutation(len(y_true))[:500]
        return {
            "pred_vs_actual": {"actual": y_true[pick].tolist(), "predicted": predicted.ravel()[pick].tolist()}
        }
    y_pred = predicted.argmax(axis=1) if task == "multiclass" else (predicted.ravel() >= 0.5).astype(int)
    n = len(classes or [])
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    per_class = []
    for i, name in enumerate(classes or []):
        tp = int(matrix[i, i])
        precision = tp / matrix[:, i].sum() if matrix[:, i].sum() else 0.0
        recall = tp / matrix[i].sum() if matrix[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": str(name),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": int(matrix[i].sum()),
            }
        )
    return {
        "confusion": {"classes": [str(c) for c in classes or []], "matrix": matrix.tolist()},
        "per_class": per_class,
    }


def last_checkpoint(store: Any, run_id: str) -> int | None:
    """The last epoch checkpointed by a run, or None."""
    from sqlalchemy import select

    from core.store import RunEvent

    with store.session() as s:
        message = s.scalar(
            select(RunEvent.message)
            .where(RunEvent.run_id == run_id, RunEvent.kind == "checkpoint")
            .order_by(RunEvent.id.desc())
            .limit(1)
        )
    path = store.path_for("checkpoints", run_id, ".keras")
    return int(json.loads(message)["epoch"]) if message and path.exists() else None


def _load_checkpoint(ctx: JobContext, run_id: str):  # type: ignore[no-untyped-def]
    import keras

    epoch = last_checkpoint(ctx.store, run_id)
    if epoch is None:
        raise DataError(f"Run {run_id} has no checkpoint to resume from (it never finished an epoch).")
    # Only files Loom wrote itself, named by run ID; safe_mode refuses serialized Python code.
    model = keras.saving.load_model(ctx.store.path_for("checkpoints", run_id, ".keras"), safe_mode=True)
    return model, epoch


def probe_input(config: Any, pipeline_dict: dict[str, Any]) -> dict[str, Any]:
    """Run the pipeline on the first rows and report the model's input shape (a Dask task).

    Returns:
        ``shape`` (features, or height/width/channels), ``classes`` seen, ``rows`` probed.
    """
    import pyarrow.parquet as pq

    from core.pipeline import run_pandas
    from core.store import open_store

    store = open_store(config)
    pipeline = PipelineSpec.from_dict(pipeline_dict)
    path = store.path_for("datasets", pipeline.dataset_id, ".parquet")
    batch = next(pq.ParquetFile(path).iter_batches(batch_size=500), None)
    if batch is None:
        raise DataError("The dataset is empty.")
    frame = run_pandas(pipeline, batch.to_pandas()).frame
    x, _, classes = _arrays(frame, pipeline.target, "multiclass", None)
    return {"shape": list(x.shape[1:]), "classes": [str(c) for c in (classes or [])][:50], "rows": len(frame)}
