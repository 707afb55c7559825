"""scikit-learn runs: the ``train`` job for an :class:`core.models.EstimatorSpec`.

The same pipeline, split and checks as a Keras run (:func:`core.training._data.prepare_data`);
the estimator is fitted on the Dask worker, grown in chunks where it can be (trees of a random
forest, iterations of gradient boosting, with ``warm_start``), and after each chunk the same
``epoch/...`` metrics a Keras run writes (``loss``/``val_loss`` as log-loss or MSE, ``accuracy``,
``auc``, ``rmse``, ``mae``) go to the store, so Compare overlays both kinds. A stop request is
honoured between chunks. The fitted model is saved as ``models/<run>.skops`` with skops, and
loaded only through :func:`load_estimator`: an explicit allowlist of the types Loom writes, and a
check that the model is the class its spec names — never a pickle.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import JobStopped
from core.errors import SpecError
from core.models import EstimatorSpec
from core.models import build_estimator
from core.models import estimator_class
from core.training._data import feature_columns
from core.training._data import prepare_data
from core.training._spec import TrainSpec

if TYPE_CHECKING:
    from core.compute import JobContext

_log = logging.getLogger(__name__)

# As core.training._loop.EpochHook: (chunk, values) -> why to stop (pruned), or None.
EpochHook = Callable[[int, dict[str, float]], str | None]

__all__ = [
    "GROWS",
    "TRUSTED_TYPES",
    "estimator_branch_refusal",
    "estimator_outputs",
    "load_estimator",
    "outputs_metrics",
    "run_classic",
    "score_estimator",
    "torch_settled",
]

# The non-default types inside the estimators Loom trains (skops trusts plain scikit-learn
# estimators, NumPy arrays and builtins by itself). A file holding any other type is refused.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    }
)


# The estimators that continue from a checkpoint (scikit-learn's ``warm_start``), by the setting
# that grows them: a forest adds trees, boosting adds iterations. Their per-chunk checkpoints are
# ``checkpoints/<run>.e<chunk>.npz`` as a Keras run's, holding the fitted model as skops bytes
# (``allow_pickle=False``; loaded only through :func:`load_estimator`'s allowlist), never a pickle.
GROWS = {"random_forest": "n_estimators", "hist_gradient_boosting": "max_iter"}
_NO_WARM_START = {
    "dummy": "a dummy model is fitted in one step and has nothing to grow",
    "linear": "a linear model is fitted in one solve, with no chunks to continue from",
    "knn": "k-nearest neighbours keeps the training rows and learns nothing step by step",
    "svm": "an SVM is fitted in one solve and scikit-learn's SVC/SVR have no warm_start",
}


def estimator_branch_refusal(kind: str) -> str | None:
    """Why a scikit-learn model of ``kind`` cannot branch from a checkpoint, or None when it can
    (it grows with ``warm_start``)."""
    if kind in GROWS:
        return None
    return _NO_WARM_START.get(kind, f"a {kind} model has no warm_start to continue from")


def _checkpoint(ctx: JobContext, spec: TrainSpec, est: Any, chunk: int, size: int, metric: Any) -> None:
    """Save the chunk's fitted model (skops bytes in an ``.npz``), then apply the retention rule."""
    import json
    import math
    import os

    import numpy as np
    import skops.io as sio  # type: ignore[import-untyped]

    from core.training._checkpoints import CheckpointRule
    from core.training._checkpoints import _epoch_path
    from core.training._checkpoints import epoch_checkpoints

    good = isinstance(metric, int | float) and math.isfinite(metric)
    meta: dict[str, Any] = {
        "epoch": chunk,
        "step": chunk,
        "metric": float(metric) if good else None,
        "size": size,
    }
    meta |= {"estimator": EstimatorSpec.from_dict(spec.model).kind, "model_vars": 0, "optimizer_vars": 0}
    path = _epoch_path(ctx.store, ctx.run_id, chunk)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            model = np.frombuffer(sio.dumps(est), dtype=np.uint8)
            np.savez(handle, meta=np.array(json.dumps(meta)), estimator=model)
        os.replace(tmp, path)
        kept_now = {c.epoch: c.metric for c in epoch_checkpoints(ctx.store, ctx.run_id)}
        for old in set(kept_now) - CheckpointRule.from_dict(spec.checkpoints).keep(kept_now):
            _epoch_path(ctx.store, ctx.run_id, old).unlink(missing_ok=True)
    except OSError as exc:  # a full disk: the run goes on without this checkpoint
        ctx.note("log", {"message": f"could not write a checkpoint: {exc}"})


def _branched_estimator(
    ctx: JobContext, spec: TrainSpec, model_spec: EstimatorSpec, n_features: int
) -> tuple[Any, int]:
    """The parent's model at the branch's chunk, with the branch's hyperparameters set, to grow on."""
    import json
    import zipfile

    import numpy as np

    from core.training._checkpoints import _epoch_path
    from core.training._checkpoints import nearest_kept

    parent, chunk = str(spec.branch["run"]), int(spec.branch["epoch"])  # type: ignore[index]
    try:
        with np.load(_epoch_path(ctx.store, parent, chunk), allow_pickle=False) as data:
            meta = dict(json.loads(str(data["meta"])))
            raw = data["estimator"].tobytes()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        near = nearest_kept(ctx.store, parent, chunk)
        hint = f"the nearest kept one is chunk {near.epoch}" if near else "it keeps no checkpoints"
        raise DataError(f"Run {parent} has no checkpoint at chunk {chunk}: {hint}.") from None
    est = load_estimator(raw, model_spec, n_features)
    size = GROWS[model_spec.kind]
    est.set_params(warm_start=True, **{k: v for k, v in model_spec.params.items() if k != size})
    ctx.note("branched", {"from_run": parent, "epoch": chunk, "step": chunk, "size": meta.get("size")})
    return est, int(meta.get("size") or est.get_params()[size])


def _flat(x: Any) -> Any:
    """Images (n, h, w, c) as rows of pixels: what scikit-learn takes."""
    return x.reshape(len(x), -1) if x.ndim > 2 else x


def estimator_outputs(est: Any, x: Any, task: str, n_classes: int) -> Any:
    """What a Keras model of the same task would output for ``x``: class probabilities
    (n, classes), the positive class's probability (n, 1), or the (standardized) value (n, 1)."""
    import numpy as np

    x = _flat(x)
    if task == "regression":
        return np.asarray(est.predict(x), dtype="float64").reshape(-1, 1)
    proba = np.zeros((len(x), max(n_classes, 2)))
    if len(x):
        proba[:, np.asarray(est.classes_, dtype=int)] = est.predict_proba(x)
    return proba[:, 1:2] if task == "binary" else proba[:, :n_classes]


def outputs_metrics(outputs: Any, y: Any, task: str) -> dict[str, float]:
    """Keras's metrics for these outputs against ``y`` (class indices, or values in the same
    units as the outputs): ``loss`` (log-loss or MSE), ``accuracy`` and ``auc``, or ``rmse`` and
    ``mae``."""
    import numpy as np

    if not len(y):
        return {}
    if task == "regression":
        err = outputs.ravel() - y
        mse = float(np.mean(err**2))
        return {"loss": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(err)))}
    eps = 1e-7  # Keras's epsilon: a probability of 0 costs -log(1e-7), not infinity
    if task == "binary":
        p = np.clip(outputs.ravel(), eps, 1 - eps)
        out = {
            "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
        }
        if len(set(y.tolist())) == 2:
            from sklearn.metrics import roc_auc_score

            out["auc"] = float(roc_auc_score(y, p))
        return out
    p = np.clip(outputs[np.arange(len(y)), y], eps, 1.0)
    return {"loss": float(-np.mean(np.log(p))), "accuracy": float(np.mean(outputs.argmax(axis=1) == y))}


def score_estimator(  # type: ignore[no-untyped-def]
    est, x, y, task: str, classes, scaling: dict[str, float] | None, prefix: str = ""
) -> dict[str, Any]:
    """The estimator counterpart of :func:`core.training._loop.score`: ``{"evaluation", ...}``
    with the confusion matrix and per-class table, or predicted-vs-actual (``y`` in the target's
    units)."""
    from core.training._report import details

    predicted = estimator_outputs(est, x, task, len(classes or []))
    if scaling:
        predicted = predicted * scaling["std"] + scaling["mean"]
    name = (lambda k: f"{prefix}_{k}") if prefix else (lambda k: k)
    evaluation = {name(k): v for k, v in outputs_metrics(predicted, y, task).items()}
    return {"evaluation": evaluation, **details(task, y, predicted, classes)}


def _environment() -> dict[str, Any]:
    import os
    import platform

    import numpy
    import pandas
    import sklearn

    return {
        "backend": "scikit-learn",
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        "threads": _threads(),
        "device": "CPU",
    }


def _threads() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None


def _wait_while_paused(ctx: JobContext, step: int) -> None:
    """Apply pause/resume between chunks; a learning-rate change does not apply (marked so)."""
    paused = False
    requests = ctx.pending_controls()
    while True:
        for request in requests:
            action, rid = request.get("action"), request.get("request")
            if action == "set_lr":
                refused = "set_lr refused (a scikit-learn model has no learning rate to change)"
                ctx.mark(refused, step, request=rid)
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
        time.sleep(0.1)
        requests = ctx.pending_controls()


def run_classic(ctx: JobContext, spec: TrainSpec, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """The ``train`` job body for an estimator run (on a worker).

    Raises:
        JobStopped: Stopped on request, or pruned by ``on_epoch`` (between chunks).
        DataError/SpecError: As for a Keras run (the pipeline's output is not model input).
    """
    # joblib's default (process) backend cannot start processes in a daemonic Dask worker and
    # falls back to one job ("Inside a Dask worker with daemon=True, setting n_jobs=1"): threads
    # it is, as many as the worker has (scikit-learn's trees and its predictions release the GIL).
    from joblib import parallel_config  # type: ignore[import-untyped]

    torch_settled()
    with parallel_config(backend="threading", n_jobs=_threads()):
        return _fit_classic(ctx, spec, on_epoch)


def torch_settled() -> None:
    """Import PyTorch, where installed, before scikit-learn runs in this process.

    scikit-learn's array API support reads ``sys.modules["torch"].Tensor`` for the arrays it is
    handed. While another thread imports torch (skops pulls it in: the worker's warm-up, or another
    estimator run's checkpoint), that module is half made, without ``Tensor``, and the fit fails
    with "partially initialized module 'torch' has no attribute 'Tensor'" (CI, stop 35: a
    gradient-boosting run beside eleven other estimator runs on one worker). Imported whole here
    first, torch is never half made in this process again; an import under way in another thread
    is waited for (Python's module lock). About 1 s once per worker, usually paid already by the
    warm-up.
    """
    from importlib.util import find_spec

    if "torch" in sys.modules or find_spec("torch") is not None:
        try:
            import torch  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - a broken install must not stop a forest
            _log.warning("PyTorch is installed but does not import (%r); scikit-learn runs without it", exc)


def _fit_classic(ctx: JobContext, spec: TrainSpec, on_epoch: EpochHook | None) -> dict[str, Any]:
    model_spec = EstimatorSpec.from_dict(spec.model)
    prep = prepare_data(ctx.store, spec)
    n_classes = len(prep.classes or [])
    x_train, x_val = _flat(prep.x_train), _flat(prep.x_val) if prep.x_val is not None else None
    scaling = prep.scaling

    def unscale(y: Any) -> Any:  # regression fits standardized targets; metrics are in units
        return y * scaling["std"] + scaling["mean"] if scaling else y

    est = build_estimator(model_spec, spec.seed, n_jobs=_threads())
    if getattr(est, "n_jobs", None) is not None:
        from joblib import effective_n_jobs

        jobs = effective_n_jobs(est.n_jobs)
        ctx.note("log", {"message": f"scikit-learn fits on {jobs} thread{'s' * (jobs != 1)}"})
    size = {"random_forest": "n_estimators", "hist_gradient_boosting": "max_iter"}.get(model_spec.kind)
    started = time.perf_counter()
    chunks = model_spec.chunks
    schedule = list(enumerate(chunks, 1))  # (step, size): one live point per chunk
    if spec.branch:  # the parent's model at its chunk, grown on; its steps continue the parent's
        est, grown = _branched_estimator(ctx, spec, model_spec, int(x_train.shape[1]))
        schedule = list(enumerate([n for n in chunks if n > grown], int(spec.branch["epoch"]) + 1))
        if not schedule:
            raise SpecError(
                f"The branch would add nothing: its {size} must be above the checkpoint's {grown}."
            )
    for i, n in schedule:
        _wait_while_paused(ctx, i - 1)
        if ctx.should_stop():
            ctx.mark("stop", i - 1)  # where it took effect: before this chunk
            raise JobStopped("stopped on request")
        if size:
            est.set_params(**{size: n})
        est.fit(x_train, prep.y_train)
        values = outputs_metrics(
            unscale(estimator_outputs(est, x_train, model_spec.task, n_classes)),
            unscale(prep.y_train),
            model_spec.task,
        )
        if x_val is not None and len(x_val):
            val = outputs_metrics(
                unscale(estimator_outputs(est, x_val, model_spec.task, n_classes)),
                unscale(prep.y_val),
                model_spec.task,
            )
            values |= {f"val_{k}": v for k, v in val.items()}
        for key, value in values.items():
            ctx.log_metric(f"epoch/{key}", i, value)
        if size:
            ctx.log_metric(f"epoch/{size}", i, n)
        ctx.log_metric("epoch/samples_per_s", i, len(x_train) * i / max(time.perf_counter() - started, 1e-9))
        if size:
            _checkpoint(ctx, spec, est, i, n, values.get("val_loss", values.get("loss")))
        ctx.set_progress(i / schedule[-1][0])
        if on_epoch is not None and (pruned := on_epoch(i, values)):
            ctx.mark("pruned", i)
            raise JobStopped(pruned)
    if ctx.should_stop():
        raise JobStopped("stopped on request")
    # Imported here, not before training: skops lists every scikit-learn estimator as it loads
    # (all of scikit-learn, and PyTorch through its array API support when installed), up to
    # 14 s on a cold worker, which a first run paid before its first point (workers now import
    # it as they start, core.training._warm).
    import skops.io as sio

    sio.dump(est, ctx.store.path_for("models", ctx.run_id, ".skops"))
    return _results(est, prep, model_spec)


def _results(est: Any, prep: Any, model_spec: EstimatorSpec) -> dict[str, Any]:
    """The run's result, shaped as :func:`core.training._loop.run_results` shapes a Keras run's."""
    import numpy as np

    from core.training._data import arrays

    pipeline, classes = prep.pipeline, prep.classes
    evaluation: dict[str, float] = {}
    details: dict[str, Any] = {}
    held_out = prep.test if len(prep.test) else prep.val
    if len(held_out):
        x_eval, y_eval, _ = arrays(held_out, pipeline.target, model_spec.task, classes)
        keep = y_eval >= 0 if classes else np.ones(len(y_eval), bool)
        prefix = "test" if len(prep.test) else "validation"
        task = model_spec.task
        scored = score_estimator(est, x_eval[keep], y_eval[keep], task, classes, prep.scaling, prefix)
        evaluation, details = scored["evaluation"], {k: v for k, v in scored.items() if k != "evaluation"}
    return {
        "evaluation": evaluation,
        **details,
        "classes": classes,
        "features": feature_columns(prep.train, pipeline.target),
        "input_shape": list(prep.x_train.shape[1:]),
        "target_scaling": prep.scaling,
        "params": 0,
        "rows": {"train": len(prep.train), "validation": len(prep.val), "test": len(prep.test)},
        "pipeline_hash": pipeline.hash,
        "model_hash": model_spec.hash,
        "pipeline_state": prep.fitted.states,
        "environment": _environment(),
    }


def load_estimator(data: bytes, spec: EstimatorSpec, n_features: int | None = None) -> Any:
    """A fitted estimator from ``.skops`` bytes Loom wrote for ``spec``.

    Nothing outside :data:`TRUSTED_TYPES` (and skops's own defaults) is loaded, and the model
    must be the class ``spec`` trains, taking ``n_features`` inputs.

    Raises:
        DataError: Not a skops file, types Loom never writes (named), or a model that does not
            match the spec (the bundle's manifest was changed, or the file is another's).
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - skops raises many kinds for a damaged file
        raise DataError(
            f"The model file is not a skops file Loom wrote ({exc.__class__.__name__}). "
            "Use a bundle downloaded from a Loom run."
        ) from None
    foreign = sorted(set(untrusted) - TRUSTED_TYPES)
    if foreign:
        raise DataError(
            f"Refused to load the model: it holds type(s) Loom never writes: {foreign[:5]}. "
            "Only .skops files of Loom's own runs are loaded; download the bundle from Loom again."
        )
    try:
        est = sio.loads(data, trusted=sorted(TRUSTED_TYPES))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"The model file could not be read ({exc.__class__.__name__}: {exc}).") from None
    expected = estimator_class(spec)
    cls = type(est)
    if cls.__name__ != expected.rsplit(".", 1)[1] or not cls.__module__.startswith("sklearn."):
        raise DataError(
            f"Refused to load the model: the file holds a {cls.__module__}.{cls.__name__}, but the "
            f"bundle's manifest says {spec.label} ({expected}). Use a bundle Loom wrote, unchanged."
        )
    if n_features is not None and getattr(est, "n_features_in_", n_features) != n_features:
        raise DataError(
            f"Refused to load the model: it takes {est.n_features_in_} inputs, but the manifest "
            f"names {n_features} features. Use a bundle Loom wrote, unchanged."
        )
    return est
