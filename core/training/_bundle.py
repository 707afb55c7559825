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
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.models import EstimatorSpec
from core.models import ModelSpec
from core.models import model_from_dict
from core.pipeline import PipelineSpec

if TYPE_CHECKING:
    from core.store import Store
    from core.store import Viewer

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "export_bundle",
    "read_bundle",
    "save_bundle",
    "bundle_for_run",
]

BUNDLE_FORMAT = "loom-bundle/1"
_MEMBERS = ("loom.json", "model.keras", "model.skops", "pipeline.json", "pipeline_state.json", "metrics.csv")
_MAX_MEMBER_BYTES = {"model.keras": 2 << 30, "model.skops": 2 << 30, "metrics.csv": 1 << 30}
_MAX_JSON_BYTES = 64 << 20


@dataclass(frozen=True)
class Bundle:
    """What a prediction needs from a trained run (the model weights travel beside it)."""

    run_id: str
    model: ModelSpec | EstimatorSpec
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
    def model_file(self) -> str:
        """The model's member in a bundle: ``model.keras``, or ``model.skops`` for scikit-learn."""
        return "model.skops" if isinstance(self.model, EstimatorSpec) else "model.keras"

    @property
    def suffix(self) -> str:
        """The model file's suffix under ``models/``: ``.keras`` or ``.skops``."""
        return self.model_file.removeprefix("model")

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
                model=model_from_dict(manifest["model"]),
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
    from core.store import thaw
    from core.training._spec import read_training_run

    run = get_run(store, run_id, viewer=viewer or SYSTEM)
    trained = read_training_run(run)
    if run.kind != "train" or run.status != "succeeded" or not run.result.has_model or trained.spec is None:
        raise DataError(
            f"Run {run_id} has no trained model to use: only succeeded training runs (trained by "
            "this version of Loom) can predict. Pick another run."
        )
    result = run.result
    return Bundle(
        run_id=run.id,
        model=trained.model,  # type: ignore[arg-type]  # set with the spec
        pipeline=trained.pipeline,  # type: ignore[arg-type]
        pipeline_state=thaw(result.pipeline_state),
        features=list(result.features),
        input_shape=result.input_shape,
        classes=list(result.classes) if result.classes is not None else None,
        target_scaling=thaw(result.target_scaling) if result.target_scaling else None,
    )


def export_bundle(store: Store, run_id: str, *, viewer: Viewer) -> bytes:
    """Pack a succeeded training run ``viewer`` may see as a zip (no TensorFlow needed: files
    are copied).

    Raises:
        NotFoundError: Missing or not visible.
        DataError: Not a succeeded training run, or its model file is missing.
    """
    from core.store import Run
    from core.store import fetch_visible
    from core.store import get_metrics
    from core.store import through_grant_only

    if viewer.grant is not None and not viewer.grant.allows_download(run_id):
        with store.session(viewer) as s:
            fetch_visible(s, Run, run_id, viewer)  # a missing run answers as missing
            if through_grant_only(s, Run, run_id, viewer):
                raise PermissionDeniedError(
                    "This link does not allow downloading the model. Ask its owner for a link with "
                    "“Allow model download”."
                )
    bundle = bundle_for_run(store, run_id, viewer)
    model_path = store.path_for("models", run_id, bundle.suffix)
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
        zf.write(model_path, bundle.model_file)
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
        missing = [m for m in ("loom.json", "pipeline.json", "pipeline_state.json") if m not in infos]
        if ("model.keras" in infos) == ("model.skops" in infos):
            missing.append("model.keras or model.skops (exactly one)")
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
        if bundle.model_file not in infos:
            raise DataError(
                f"This bundle's manifest describes a {bundle.model_file} model, but the bundle holds "
                f"{sorted(set(infos) & {'model.keras', 'model.skops'})}: it was changed after Loom wrote "
                "it. Download it from Loom again."
            )
        return bundle, zf.read(bundle.model_file)


# --- prediction (worker side) ------------------------------------------------------------------
