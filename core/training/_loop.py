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
from core.optimizers import OptimizerSpec

if TYPE_CHECKING:
    from core.compute import JobContext
from core.training._callback import configure_backend
from core.training._callback import live_callback
from core.training._checkpoints import load_checkpoint
from core.training._data import arrays
from core.training._data import feature_columns
from core.training._data import prepare_data
from core.training._spec import TrainSpec

__all__ = ["EpochHook", "run_training"]


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
    import numpy as np

    from core.models import build_keras_model
    from core.models import count_params
    from core.optimizers import build_keras_optimizer

    spec = TrainSpec.from_dict(data)
    if spec.multi_worker:
        from core.training._distributed import run_data_parallel

        return run_data_parallel(ctx, spec)
    model_spec = ModelSpec.from_dict(spec.model)
    # The same preparation, checks and messages as a data-parallel participant (prepare_data).
    prep = prepare_data(ctx.store, spec)
    pipeline, result, classes = prep.pipeline, prep.fitted, prep.classes
    scaling, units = prep.scaling, prep.units
    train, val, test, x_train = prep.train, prep.val, prep.test, prep.x_train
    scale = prep.scale
    n_classes = len(classes) if classes else 1
    validation = (prep.x_val, prep.y_val) if prep.x_val is not None else None

    env = configure_backend(spec.seed)
    import keras

    initial_epoch = 0
    if spec.resume_from:
        model, initial_epoch = load_checkpoint(ctx, spec.resume_from)
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
    live = live_callback(ctx, steps, spec.epochs, spec.batch_size, units, on_epoch)
    callbacks = [live]
    if spec.early_stopping and validation is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=spec.early_stopping, restore_best_weights=True
            )
        )
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
    if live.failure:
        raise DataError(live.failure)
    if live.pruned:
        raise JobStopped(live.pruned)
    if ctx.should_stop():
        raise JobStopped("stopped on request")
    evaluation: dict[str, float] = {}
    held_out = test if len(test) else val
    if len(held_out):
        x_eval, y_eval, _ = arrays(held_out, pipeline.target, model_spec.task, classes)
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
