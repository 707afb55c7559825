"""The ``train`` job: the pipeline → arrays → Keras ``fit`` with the live callback → evaluation,
results and the saved model. TensorFlow is imported inside the job, on the worker."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import JobStopped
from core.errors import SpecError
from core.models import ModelSpec
from core.models import is_estimator
from core.optimizers import OptimizerSpec

if TYPE_CHECKING:
    from core.compute import JobContext
from core.training._backends import process_backend
from core.training._backends import run_in_backend_process
from core.training._callback import checkpoint_from_model
from core.training._callback import configure_backend
from core.training._callback import live_callback
from core.training._checkpoints import CheckpointRule
from core.training._checkpoints import load_checkpoint
from core.training._data import PreparedData
from core.training._data import arrays
from core.training._data import feature_columns
from core.training._data import prepare_data
from core.training._report import details as _details
from core.training._spec import TrainSpec

__all__ = ["EpochHook", "loss_and_metrics", "run_results", "run_training", "score"]


# Called after each epoch with (epoch, logs); returns why to stop (pruned), or None to go on.
EpochHook = Callable[[int, dict[str, float]], str | None]


def run_training(ctx: JobContext, data: dict[str, Any], on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """The ``train`` job body (on a worker).

    Args:
        ctx: The running job.
        data: A training spec (:class:`TrainSpec` as a dict).
        on_epoch: Observes each epoch's logs; what it returns stops the run as pruned. The
            generic hook through which a tuning trial watches its run. Defaults to None.
    """

    from core.models import build_keras_model
    from core.optimizers import build_keras_optimizer

    spec = TrainSpec.from_dict(data)
    if is_estimator(spec.model):  # scikit-learn: no Keras, whatever the worker's backend
        from core.training._classic import run_classic

        return run_classic(ctx, spec, on_epoch)
    if spec.multi_worker:  # TensorFlow only (the spec says so); its participants set the backend
        from core.training._distributed import run_data_parallel

        return run_data_parallel(ctx, spec)
    if spec.backend != process_backend():  # Keras cannot switch: train in a process of its own
        return run_in_backend_process(ctx, data, "core.training._loop:run_training", spec.backend)
    model_spec = ModelSpec.from_dict(spec.model)
    # The same preparation, checks and messages as a data-parallel participant (prepare_data).
    prep = prepare_data(ctx.store, spec)
    classes, units, x_train = prep.classes, prep.units, prep.x_train
    n_classes = len(classes) if classes else 1
    validation = (prep.x_val, prep.y_val) if prep.x_val is not None else None

    env = configure_backend(spec.seed)
    import keras

    initial_epoch, step_offset = 0, 0
    steps = math.ceil(len(x_train) / spec.batch_size)
    if spec.branch:  # a branch: the parent's checkpoint at that epoch, with this spec's optimizer
        from core.training._checkpoints import read_epoch_checkpoint
        from core.training._checkpoints import restore_epoch_checkpoint

        parent, initial_epoch = spec.branch["run"], int(spec.branch["epoch"])
        meta, weights, slots = read_epoch_checkpoint(ctx.store, parent, initial_epoch)
        model = build_keras_model(model_spec, x_train.shape[1:], n_classes)
        model.compile(
            optimizer=build_keras_optimizer(OptimizerSpec.from_dict(spec.optimizer)),
            **loss_and_metrics(model_spec.task),
        )
        carried = restore_epoch_checkpoint(model, meta, weights, slots)
        step_offset = int(meta["step"]) - initial_epoch * steps  # curves continue at the parent's step
        ctx.note(
            "branched", {"from_run": parent, "epoch": initial_epoch, "step": meta["step"], "note": carried}
        )
    elif spec.resume_from:
        model, initial_epoch = load_checkpoint(ctx, spec.resume_from)
        if initial_epoch >= spec.epochs:
            raise SpecError(
                f"Run {spec.resume_from} already finished epoch {initial_epoch} of {spec.epochs}: "
                "raise the number of epochs to continue it."
            )
        ctx.note("resumed", {"from_run": spec.resume_from, "epoch": initial_epoch})
    else:
        model = build_keras_model(model_spec, x_train.shape[1:], n_classes)
    if not spec.resume_from and not spec.branch:  # a checkpoint brings its compiled optimizer state
        model.compile(
            optimizer=build_keras_optimizer(OptimizerSpec.from_dict(spec.optimizer)),
            **loss_and_metrics(model_spec.task),
        )
    early_stopping = bool(spec.early_stopping and validation is not None)
    # The saved model is the last epoch's checkpoint, unless early stopping may restore other
    # weights than the last epoch's.
    live = live_callback(
        ctx,
        steps,
        spec.epochs,
        spec.batch_size,
        units,
        on_epoch,
        final_checkpoint=early_stopping,
        samples=len(x_train),  # batch points are means weighted by samples (a short last batch)
        keep=CheckpointRule.from_dict(spec.checkpoints),
        step_offset=step_offset,
    )
    callbacks = [live]
    if early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=spec.early_stopping, restore_best_weights=True
            )
        )
    try:
        model.fit(
            x_train,
            prep.y_train,
            batch_size=spec.batch_size,
            epochs=spec.epochs,
            initial_epoch=initial_epoch,
            validation_data=validation,
            callbacks=callbacks,
            verbose=0,
            shuffle=True,
        )
    finally:  # a fit that raised (out of memory) ends no training: the checkpoint writer's thread too
        live.close()
    if live.failure:
        raise DataError(live.failure)
    if live.pruned:
        raise JobStopped(live.pruned)
    if ctx.should_stop():
        raise JobStopped("stopped on request")
    model.save(ctx.store.path_for("models", ctx.run_id, ".keras"))
    checkpoint_from_model(ctx, live, steps)
    return run_results(model, prep, model_spec, env)


def loss_and_metrics(task: str) -> dict[str, Any]:
    """What a model of ``task`` is compiled with, so every run reports the same metrics."""
    import keras

    loss = {
        "multiclass": "sparse_categorical_crossentropy",
        "binary": "binary_crossentropy",
        "regression": "mse",
    }
    metrics: list[Any] = (
        ["accuracy"]
        if task == "multiclass"
        else ["accuracy", keras.metrics.AUC(name="auc")]
        if task == "binary"
        else [keras.metrics.RootMeanSquaredError(name="rmse"), "mae"]
    )
    return {"loss": loss[task], "metrics": metrics}


def run_results(model: Any, prep: PreparedData, model_spec: ModelSpec, env: dict[str, Any]) -> dict[str, Any]:
    """A trained run's result: the held-out evaluation (test split, else validation) in the
    target's units, confusion matrix and per-class table or predicted-vs-actual, and what a
    bundle needs. One-worker runs and the data-parallel chief both end here; ``model`` must be
    compiled with :func:`loss_and_metrics`."""
    import numpy as np

    from core.models import count_params

    pipeline, classes, scaling, units = prep.pipeline, prep.classes, prep.scaling, prep.units
    evaluation: dict[str, float] = {}
    details: dict[str, Any] = {}
    held_out = prep.test if len(prep.test) else prep.val
    if len(held_out):
        x_eval, y_eval, _ = arrays(held_out, pipeline.target, model_spec.task, classes)
        keep = y_eval >= 0 if classes else np.ones(len(y_eval), bool)
        prefix = "test" if len(prep.test) else "validation"
        scored = score(model, x_eval[keep], y_eval[keep], model_spec.task, classes, scaling, units, prefix)
        evaluation, details = scored["evaluation"], {k: v for k, v in scored.items() if k != "evaluation"}
    n_classes = len(classes) if classes else 1
    return {
        "evaluation": evaluation,
        **details,
        "classes": classes,
        "features": feature_columns(prep.train, pipeline.target),
        "input_shape": list(prep.x_train.shape[1:]),
        "target_scaling": scaling,
        "params": count_params(model_spec, tuple(prep.x_train.shape[1:]), n_classes),
        "rows": {"train": len(prep.train), "validation": len(prep.val), "test": len(prep.test)},
        "pipeline_hash": pipeline.hash,
        "model_hash": model_spec.hash,
        "pipeline_state": prep.fitted.states,
        "environment": env,
    }


def score(  # type: ignore[no-untyped-def]
    model,
    x,
    y,
    task: str,
    classes,
    scaling: dict[str, float] | None,
    units: dict[str, float],
    prefix: str = "",
) -> dict[str, Any]:
    """``model`` (compiled with :func:`loss_and_metrics`) scored on ``x`` against ``y`` (class
    indices, or the target in its units): ``{"evaluation": {metric: value}, ...details}`` with the
    confusion matrix and per-class table, or predicted-vs-actual. A run's held-out results and an
    evaluation on another dataset both come from here.

    One inference pass: the loss and metrics are computed from the predictions with the losses
    and metrics ``model.evaluate`` would use (so the values agree with it), not by a second pass
    over ``x``.
    """
    scaled = (y - scaling["mean"]) / scaling["std"] if scaling else y
    predicted = model.predict(x, verbose=0, batch_size=_SCORE_BATCH)
    scores = _scores(model, task, scaled, predicted)
    name = (lambda k: f"{prefix}_{k}") if prefix else (lambda k: k)
    evaluation = {name(k): float(v) * units.get(k, 1.0) for k, v in scores.items()}
    if scaling:
        predicted = predicted * scaling["std"] + scaling["mean"]
    return {"evaluation": evaluation, **_details(task, y, predicted, classes)}


# Inference holds no optimizer state: a larger batch than fit's default costs no accuracy.
_SCORE_BATCH = 256


def _scores(model: Any, task: str, y: Any, predicted: Any) -> dict[str, float]:
    """What ``model.evaluate(x, y)`` returns for a model compiled with :func:`loss_and_metrics`,
    from its predictions: the loss (plus the weights' regularization losses) and each metric."""
    import keras
    import numpy as np

    y = np.asarray(y)
    predicted = np.asarray(predicted, dtype="float32")
    if task == "multiclass":
        per_sample = keras.losses.sparse_categorical_crossentropy(y, predicted)
    elif task == "binary":
        per_sample = keras.losses.binary_crossentropy(y.reshape(-1, 1).astype("float32"), predicted)
    else:
        per_sample = keras.losses.mean_squared_error(y.reshape(-1, 1).astype("float32"), predicted)
    loss = float(np.mean(keras.ops.convert_to_numpy(per_sample)))
    loss += sum(float(keras.ops.convert_to_numpy(extra)) for extra in model.losses)
    out = {"loss": loss}
    if task == "multiclass":
        out["accuracy"] = float(np.mean(np.argmax(predicted, axis=-1) == y))
    elif task == "binary":
        p = predicted.reshape(-1)
        out["accuracy"] = float(np.mean((p > 0.5) == (y.reshape(-1) > 0.5)))
        auc = keras.metrics.AUC(name="auc")
        auc.update_state(y.reshape(-1, 1).astype("float32"), predicted.reshape(-1, 1))
        out["auc"] = float(keras.ops.convert_to_numpy(auc.result()))
    else:
        error = predicted.reshape(-1).astype("float64") - y.reshape(-1).astype("float64")
        out["rmse"] = float(np.sqrt(np.mean(error**2)))
        out["mae"] = float(np.mean(np.abs(error)))
    return out
