"""Model bundles: a finished training run packed as one zip, and predictions from it.

A bundle holds the ``.keras`` model, the pipeline spec, the pipeline's fitted state, the run's
metrics as CSV and a manifest (``loom.json``) with the model spec, target, classes and input
columns. Reading a bundle never runs code from it: the manifest is JSON validated into Loom's
own specs, the architecture is rebuilt from the model spec by Loom, and only the weights are read
from the ``.keras`` file — its ``config.json`` (where a Lambda layer or a custom class would
live) is never deserialized.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.models import ModelSpec
from core.pipeline import PipelineSpec

if TYPE_CHECKING:
    from core.compute._jobs import JobContext
    from core.store import Store
    from core.store import Viewer

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "PredictSpec",
    "export_bundle",
    "read_bundle",
    "save_bundle",
    "run_predict",
    "validate_predict_spec",
]

BUNDLE_FORMAT = "loom-bundle/1"
_MEMBERS = ("loom.json", "model.keras", "pipeline.json", "pipeline_state.json", "metrics.csv")
_MAX_MEMBER_BYTES = {"model.keras": 2 << 30, "metrics.csv": 1 << 30}
_MAX_JSON_BYTES = 64 << 20


@dataclass(frozen=True)
class Bundle:
    """What a prediction needs from a trained run (the model weights travel beside it)."""

    run_id: str
    model: ModelSpec
    pipeline: PipelineSpec
    pipeline_state: dict[str, dict[str, Any]]
    features: list[str]
    input_shape: tuple[int, ...]
    classes: list[Any] | None
    target_scaling: dict[str, float] | None

    @property
    def task(self) -> str:
        return self.model.task

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "multiclass" and self.classes else 1

    def manifest(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "run_id": self.run_id,
            "model": self.model.to_dict(),
            "target": self.pipeline.target,
            "features": self.features,
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "target_scaling": self.target_scaling,
        }

    @classmethod
    def from_parts(cls, manifest: dict[str, Any], pipeline: dict[str, Any], state: dict[str, Any]) -> Bundle:
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise DataError(f"This is not a Loom model bundle (loom.json lacks format {BUNDLE_FORMAT!r}).")
        try:
            features = [str(f) for f in manifest["features"]]
            shape = tuple(int(n) for n in manifest["input_shape"])
            classes = manifest.get("classes")
            scaling = manifest.get("target_scaling")
            if classes is not None and not isinstance(classes, list):
                raise TypeError("classes must be a list")
            if scaling is not None:
                scaling = {"mean": float(scaling["mean"]), "std": float(scaling["std"])}
            if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
                raise TypeError("pipeline_state.json must map node IDs to objects")
            return cls(
                run_id=str(manifest.get("run_id", "")),
                model=ModelSpec.from_dict(manifest["model"]),
                pipeline=PipelineSpec.from_dict(pipeline),
                pipeline_state=state,
                features=features,
                input_shape=shape,
                classes=classes,
                target_scaling=scaling,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"The bundle's manifest is damaged ({exc}). Download it from Loom again."
            ) from None


def bundle_for_run(store: Store, run_id: str, viewer: Viewer | None = None) -> Bundle:
    """The bundle description of a finished training run (from the store); ``viewer`` defaults
    to Loom's own (a predict job on a worker, whose launch was checked)."""
    from core.store import SYSTEM
    from core.store import get_run

    run = get_run(store, run_id, viewer=viewer or SYSTEM)
    result = run.result_json or {}
    if run.kind != "train" or run.status != "succeeded" or "features" not in result:
        raise DataError(
            f"Run {run_id} has no trained model to use: only succeeded training runs (trained by "
            "this version of Loom) can predict. Pick another run."
        )
    spec = run.spec_json
    return Bundle(
        run_id=run.id,
        model=ModelSpec.from_dict(spec["model"]),
        pipeline=PipelineSpec.from_dict(spec["pipeline"]),
        pipeline_state=result.get("pipeline_state") or {},
        features=list(result["features"]),
        input_shape=tuple(result["input_shape"]),
        classes=result.get("classes"),
        target_scaling=result.get("target_scaling"),
    )


def export_bundle(store: Store, run_id: str, *, viewer: Viewer) -> bytes:
    """Pack a succeeded training run ``viewer`` may see as a zip (no TensorFlow needed: files
    are copied).

    Raises:
        NotFoundError: Missing or not visible.
        DataError: Not a succeeded training run, or its model file is missing.
    """
    from core.store import get_metrics

    bundle = bundle_for_run(store, run_id, viewer)
    model_path = store.path_for("models", run_id, ".keras")
    if not model_path.exists():
        raise DataError(f"Run {run_id}'s model file is missing from the data directory.")
    metrics = io.StringIO()
    writer = csv.writer(metrics)
    writer.writerow(["key", "step", "value"])
    for key, series in get_metrics(store, run_id, viewer=viewer).items():
        writer.writerows((key, step, value) for step, value in zip(series.steps, series.values, strict=True))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("loom.json", json.dumps(bundle.manifest(), indent=2))
        zf.writestr("pipeline.json", json.dumps(bundle.pipeline.to_dict(), indent=2))
        zf.writestr("pipeline_state.json", json.dumps(bundle.pipeline_state, indent=2))
        zf.writestr("metrics.csv", metrics.getvalue())
        zf.write(model_path, "model.keras")
    return buffer.getvalue()


def save_bundle(store: Store, data: bytes, *, viewer: Viewer) -> str:
    """Check an uploaded bundle and keep it under ``bundles/``; returns its ID for a PredictSpec.

    Raises:
        PermissionDeniedError: Not signed in.
        DataError: Not a bundle Loom wrote.
    """
    from core.store import new_id

    viewer.require_create()
    read_bundle(data)
    bundle_id = new_id()
    try:
        store.path_for("bundles", bundle_id, ".zip").write_bytes(data)
    except OSError as exc:
        raise DataError(
            f"Could not save the bundle: {exc.strerror}. Free disk space in the data directory."
        ) from exc
    return bundle_id


def read_bundle(data: bytes) -> tuple[Bundle, bytes]:
    """Validate a bundle zip and return its description and the ``.keras`` file's bytes.

    Raises:
        DataError: Not a zip, unexpected or oversized members, or a manifest that does not
            describe a model Loom builds.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError("This file is not a Loom model bundle (not a zip archive).") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        unexpected = sorted(set(infos) - set(_MEMBERS))
        missing = [
            m for m in ("loom.json", "model.keras", "pipeline.json", "pipeline_state.json") if m not in infos
        ]
        if unexpected or missing:
            raise DataError(
                f"This is not a Loom model bundle: unexpected files {unexpected}, missing {missing}. "
                "Use a bundle downloaded from a Loom run."
            )
        for name, info in infos.items():
            if info.file_size > _MAX_MEMBER_BYTES.get(name, _MAX_JSON_BYTES):
                raise DataError(f"The bundle's {name} is {info.file_size:,} bytes when unpacked: too large.")
        try:
            parts = [json.loads(zf.read(n)) for n in ("loom.json", "pipeline.json", "pipeline_state.json")]
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"The bundle's JSON files are damaged ({exc}).") from None
        try:
            bundle = Bundle.from_parts(*parts)
        except SpecError as exc:
            raise DataError(f"The bundle describes a model Loom cannot build: {exc}") from None
        return bundle, zf.read("model.keras")


# --- prediction (worker side) ------------------------------------------------------------------


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

    from core.data._ingest import _read
    from core.data._ingest import _upload_path

    store = ctx.store
    if spec.rows_dataset:
        path = store.path_for("datasets", spec.rows_dataset, ".parquet")
        if not path.exists():
            raise DataError(f"Dataset {spec.rows_dataset} no longer exists. Choose another.")
        return pq.read_table(path).to_pandas()
    from core.data import CsvOptions

    source = _upload_path(store, spec.rows_upload, spec.rows_format)  # type: ignore[arg-type]
    out = store.path_for("tmp", ctx.run_id, ".parquet")
    try:
        _read(spec.rows_format, source, out, CsvOptions(), None)
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

    from core.models import build_keras_model
    from core.pipeline import ROW_COLUMN
    from core.pipeline import apply_fitted
    from core.training import features_array

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
    model = build_keras_model(bundle.model, bundle.input_shape, bundle.n_outputs)
    # Weights only: the architecture is Loom's own, rebuilt from the validated spec.
    model.load_weights(weights_path)
    raw = model.predict(x, verbose=0, batch_size=1024) if len(x) else np.zeros((0, bundle.n_outputs))
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
            weights = store.path_for("models", spec.model_run, ".keras")
            if not weights.exists():
                raise DataError(f"Run {spec.model_run}'s model file is missing from the data directory.")
        else:
            path = store.path_for("bundles", spec.bundle, ".zip")  # type: ignore[arg-type]
            if not path.exists():
                raise DataError(f"Bundle upload {spec.bundle} is gone. Upload the bundle again.")
            bundle, keras_bytes = read_bundle(path.read_bytes())
            weights = Path(tmp) / "model.keras"
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
