"""The ``predict`` job: a trained model (a run of this store, or an uploaded bundle) applied
to new rows through its pipeline's fitted state; nothing is refitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.models import EstimatorSpec
from core.training._bundle import Bundle
from core.training._bundle import bundle_for_run
from core.training._bundle import read_bundle

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = ["PredictSpec", "predict_frame", "run_predict", "validate_predict_spec"]


@dataclass(frozen=True)
class PredictSpec:
    """Predict with a trained model on new rows.

    Args:
        model_run: A succeeded training run of this store; or None with ``bundle`` set.
        bundle: An uploaded bundle (upload ID) instead of a run. Defaults to None.
        rows_upload: An uploaded file of new rows (upload ID); or None with ``rows_dataset``.
        rows_format: The upload's format (a key of :data:`core.data.FORMATS`).
        rows_dataset: A dataset of this store instead of an upload. Defaults to None.
    """

    model_run: str | None = None
    bundle: str | None = None
    rows_upload: str | None = None
    rows_format: str = "csv"
    rows_dataset: str | None = None

    def __post_init__(self) -> None:
        if (self.model_run is None) == (self.bundle is None):
            raise SpecError("Give exactly one of `model_run` and `bundle`.")
        if (self.rows_upload is None) == (self.rows_dataset is None):
            raise SpecError("Give exactly one of `rows_upload` and `rows_dataset`.")

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"type": "predict", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictSpec:
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid prediction spec: {exc}.") from None


def validate_predict_spec(data: dict[str, Any]) -> dict[str, Any]:
    return PredictSpec.from_dict(data).to_dict()


def _rows(ctx: JobContext, spec: PredictSpec):  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    from core.data import read_upload

    store = ctx.store
    if spec.rows_dataset:
        path = store.path_for("datasets", spec.rows_dataset, ".parquet")
        if not path.exists():
            raise DataError(f"Dataset {spec.rows_dataset} no longer exists. Choose another.")
        return pq.read_table(path).to_pandas()
    out = store.path_for("tmp", ctx.run_id, ".parquet")
    try:
        read_upload(store, spec.rows_upload, spec.rows_format, out)  # type: ignore[arg-type]
        return pq.read_table(out).to_pandas()
    finally:
        out.unlink(missing_ok=True)


def predict_frame(bundle: Bundle, weights_path: Any, frame: Any):  # type: ignore[no-untyped-def]
    """Predictions for every row of ``frame``: one output row per input row, in order.

    Columns: ``row`` (position in the input), ``prediction`` (class or value), per-class
    probabilities for classification, and ``note`` for rows the pipeline removed.
    """
    import numpy as np
    import pandas as pd

    from core.pipeline import ROW_COLUMN
    from core.pipeline import apply_fitted
    from core.training._data import features_array

    missing = [c for c in _source_columns(bundle) if c not in frame.columns]
    if missing:
        raise DataError(
            f"The new rows lack column(s) {missing} that the model's pipeline reads. "
            f"Upload rows with the training data's columns."
        )
    out, removed = apply_fitted(bundle.pipeline, frame, bundle.pipeline_state)
    absent = [c for c in bundle.features if c not in out.columns]
    if absent:
        raise DataError(f"After the pipeline the rows lack the model's input column(s) {absent}.")
    x = features_array(out, bundle.features) if len(out) else np.zeros((0, *bundle.input_shape), "float32")
    if tuple(x.shape[1:]) != bundle.input_shape:
        raise DataError(
            f"The rows give inputs of shape {tuple(x.shape[1:])}, but the model takes {bundle.input_shape}."
        )
    raw = model_outputs(bundle, weights_path, x)
    result = pd.DataFrame({"row": np.arange(len(frame), dtype=np.int64)})
    positions = out[ROW_COLUMN].to_numpy()
    if bundle.task == "regression":
        values = raw.ravel().astype("float64")
        if bundle.target_scaling:
            values = values * bundle.target_scaling["std"] + bundle.target_scaling["mean"]
        result["prediction"] = np.nan
        result.loc[positions, "prediction"] = values
    else:
        classes = bundle.classes or []
        probs = raw if bundle.task == "multiclass" else np.column_stack([1 - raw.ravel(), raw.ravel()])
        labels = np.asarray([str(c) for c in classes], dtype=object)
        result["prediction"] = None
        result.loc[positions, "prediction"] = labels[probs.argmax(axis=1)] if len(probs) else []
        for i, name in enumerate(labels):
            column = f"p({name})"
            result[column] = np.nan
            result.loc[positions, column] = probs[:, i]
    result["note"] = [removed.get(i, "") for i in range(len(frame))]
    return result


def load_model(bundle: Bundle, model_path: Any) -> Any:
    """The trained model of ``bundle`` from its file: a Keras model rebuilt from the spec with
    only the weights read from the file, or a scikit-learn estimator read through skops's
    allowlist (:func:`core.training._classic.load_estimator`).

    Raises:
        DataError: A ``.skops`` file Loom did not write, or one that does not match the manifest.
    """
    from math import prod
    from pathlib import Path

    if isinstance(bundle.model, EstimatorSpec):
        from core.training._classic import load_estimator

        return load_estimator(Path(model_path).read_bytes(), bundle.model, prod(bundle.input_shape))
    from core.models import build_keras_model

    model = build_keras_model(bundle.model, bundle.input_shape, bundle.n_outputs)
    # Weights only: the architecture is Loom's own, rebuilt from the validated spec.
    model.load_weights(model_path)
    return model


def model_outputs(bundle: Bundle, model_path: Any, x: Any) -> Any:
    """The model's raw outputs for ``x``, as a Keras model of the task gives them."""
    import numpy as np

    model = load_model(bundle, model_path)
    if not len(x):
        return np.zeros((0, bundle.n_outputs))
    if isinstance(bundle.model, EstimatorSpec):
        from core.training._classic import estimator_outputs

        return estimator_outputs(model, x, bundle.task, len(bundle.classes or []))
    return model.predict(x, verbose=0, batch_size=1024)


def _source_columns(bundle: Bundle) -> list[str]:
    """Columns of the raw data the pipeline's steps name (the target excepted)."""
    names: list[str] = []
    for node in bundle.pipeline.ordered():
        for c in node.step.columns_needed():
            if c != bundle.pipeline.target and c not in names:
                names.append(c)
    return names


def run_predict(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``predict`` job body (on a worker): writes ``predictions/<run>.parquet``."""
    import tempfile
    from pathlib import Path

    spec = PredictSpec.from_dict(data)
    store = ctx.store
    frame = _rows(ctx, spec)
    ctx.set_progress(0.2)
    with tempfile.TemporaryDirectory() as tmp:
        if spec.model_run:
            bundle = bundle_for_run(store, spec.model_run)
            weights = store.path_for("models", spec.model_run, bundle.suffix)
            if not weights.exists():
                raise DataError(f"Run {spec.model_run}'s model file is missing from the data directory.")
        else:
            path = store.path_for("bundles", spec.bundle, ".zip")  # type: ignore[arg-type]
            if not path.exists():
                raise DataError(f"Bundle upload {spec.bundle} is gone. Upload the bundle again.")
            bundle, keras_bytes = read_bundle(path.read_bytes())
            weights = Path(tmp) / bundle.model_file
            weights.write_bytes(keras_bytes)
        try:
            predictions = predict_frame(bundle, weights, frame)
        except (ValueError, OSError, KeyError) as exc:
            raise DataError(
                f"The model's weights do not fit the architecture its spec describes ({exc}). "
                "Use a bundle Loom wrote for this model."
            ) from None
    predictions.to_parquet(store.path_for("predictions", ctx.run_id, ".parquet"), index=False)
    notes = predictions["note"][predictions["note"] != ""]
    return {
        "rows": len(predictions),
        "predicted": int(len(predictions) - len(notes)),
        "removed": notes.value_counts().to_dict(),
        "model_run": bundle.run_id,
        "task": bundle.task,
        "target": bundle.pipeline.target,
    }
