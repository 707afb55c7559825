"""Read models: what queries return, parsed once at the store boundary.

Rows leave the store as frozen dataclasses, never as live ORM objects: their JSON columns are
read once into typed fields (a run's result, a dataset's profile), and what is left raw is a
read-only mapping. Pages and packages read fields; none walks ``result_json[...]`` or
``profile_json[...]``. The raw JSON stays reachable (``spec``, ``result.raw``, ``profile.raw``)
for exports and for the packages that own a spec's schema (training parses a train spec, tuning
a study spec), which the store, at the bottom, does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from core.store._models import Dataset
from core.store._models import Pipeline
from core.store._models import Run
from core.store._models import Study

__all__ = [
    "ColumnProfile",
    "DatasetRecord",
    "PipelineRecord",
    "PredictionResult",
    "Profile",
    "RunRecord",
    "RunResult",
    "StudyRecord",
    "thaw",
]


def _frozen(value: Any) -> Any:
    """A read-only view of JSON: mappings become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain, mutable JSON again (to build a new spec from a stored one, or to serialise)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class PredictionResult:
    """What a ``predict`` job wrote: rows in, rows predicted, and why the others were dropped."""

    rows: int
    predicted: int
    removed: Mapping[str, int]
    target: str
    task: str
    model_run: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PredictionResult:
        return cls(
            rows=int(data.get("rows") or 0),
            predicted=int(data.get("predicted") or 0),
            removed=_frozen({str(k): int(v) for k, v in (data.get("removed") or {}).items()}),
            target=str(data.get("target", "")),
            task=str(data.get("task", "")),
            model_run=str(data.get("model_run", "")),
        )


@dataclass(frozen=True)
class RunResult:
    """What a finished job returned, parsed once. Fields a kind does not produce are empty.

    Args:
        evaluation: Held-out metrics (``test_accuracy``...), in the target's units.
        params: The model's parameter count.
        rows: Rows per split (``train``, ``validation``, ``test``).
        features: The model's input columns (a succeeded training run has them).
        classes: Class labels (classification).
        confusion: ``{"classes": [...], "matrix": [[...]]}``.
        per_class: One mapping per class (precision, recall, f1, support).
        pred_vs_actual: Regression predictions against targets.
        environment: Library versions and device the run used.
        dataset_id: The dataset an ingest made.
        input_shape: The model's input shape (without the batch axis).
        pipeline_state: What the pipeline learned in training (medians, categories, scales).
        target_scaling: ``{"mean", "std"}`` of a standardised regression target.
        prediction: What a predict job did, or None.
        raw: Everything, read-only.
    """

    evaluation: Mapping[str, float]
    params: int
    rows: Mapping[str, int]
    features: tuple[str, ...]
    classes: tuple[Any, ...] | None
    confusion: Mapping[str, Any] | None
    per_class: tuple[Mapping[str, Any], ...]
    pred_vs_actual: Mapping[str, Any] | None
    environment: Mapping[str, Any]
    dataset_id: str | None
    input_shape: tuple[int, ...]
    pipeline_state: Mapping[str, Any]
    target_scaling: Mapping[str, float] | None
    prediction: PredictionResult | None
    raw: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Any) -> RunResult:
        data = data if isinstance(data, Mapping) else {}
        classes = data.get("classes")
        return cls(
            evaluation=_frozen({str(k): float(v) for k, v in (data.get("evaluation") or {}).items()}),
            params=int(data.get("params") or 0),
            rows=_frozen(dict(data["rows"])) if isinstance(data.get("rows"), Mapping) else _frozen({}),
            features=tuple(str(f) for f in data.get("features") or ()),
            classes=tuple(classes) if isinstance(classes, list | tuple) else None,
            confusion=_frozen(data["confusion"]) if data.get("confusion") else None,
            per_class=tuple(_frozen(p) for p in data.get("per_class") or ()),
            pred_vs_actual=_frozen(data["pred_vs_actual"]) if data.get("pred_vs_actual") else None,
            environment=_frozen(dict(data.get("environment") or {})),
            dataset_id=str(data["dataset_id"]) if data.get("dataset_id") else None,
            input_shape=tuple(int(d) for d in data.get("input_shape") or ()),
            pipeline_state=_frozen(dict(data.get("pipeline_state") or {})),
            target_scaling=_frozen(dict(data["target_scaling"])) if data.get("target_scaling") else None,
            prediction=PredictionResult.from_json(data) if "predicted" in data else None,
            raw=_frozen(dict(data)),
        )

    @property
    def has_model(self) -> bool:
        """A trained model a bundle or a prediction can use (features recorded)."""
        return bool(self.features)


@dataclass(frozen=True)
class RunRecord:
    """One run as a query returns it."""

    id: str
    kind: str
    name: str
    status: str
    status_reason: str
    stop_requested: bool
    spec: Mapping[str, Any]
    spec_hash: str
    dataset_id: str | None
    pipeline_id: str | None
    study_id: str | None
    parent_id: str | None
    parent_kind: str
    author: str
    team: str
    archived: bool
    worker: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    heartbeat_at: datetime | None
    progress: float
    result: RunResult
    project_id: str = ""  # the project it belongs to ("" for a row older than projects)

    @classmethod
    def from_row(cls, row: Run) -> RunRecord:
        return cls(
            id=row.id,
            kind=row.kind,
            name=row.name or "",
            status=row.status,
            status_reason=row.status_reason or "",
            stop_requested=bool(row.stop_requested),
            spec=_frozen(row.spec_json if isinstance(row.spec_json, dict) else {}),
            spec_hash=row.spec_hash,
            dataset_id=row.dataset_id,
            pipeline_id=row.pipeline_id,
            study_id=row.study_id,
            parent_id=row.parent_id,
            parent_kind=row.parent_kind or "",
            author=row.author or "",
            team=row.team or "",
            archived=bool(row.archived),
            worker=row.worker or "",
            attempts=int(row.attempts or 0),
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            heartbeat_at=row.heartbeat_at,
            progress=float(row.progress or 0.0),
            result=RunResult.from_json(row.result_json),
            project_id=row.project_id or "",
        )

    @property
    def trial(self) -> Mapping[str, Any] | None:
        """``{"study", "trial_id", "number"}`` when the run is a tuning trial."""
        trial = self.spec.get("trial")
        return trial if isinstance(trial, Mapping) else None

    @property
    def label(self) -> str:
        return self.name or self.id[:8]

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    # The raw JSON, as stored (exports, tests).
    @property
    def spec_json(self) -> dict[str, Any]:
        return thaw(self.spec)

    @property
    def result_json(self) -> dict[str, Any]:
        return thaw(self.result.raw)


@dataclass(frozen=True)
class ColumnProfile:
    """One column of a dataset's profile (computed on the worker at ingest)."""

    name: str
    kind: str  # "numeric", "categorical", "text", "datetime", "boolean", "image"
    dtype: str
    missing: int
    unique: int
    flags: tuple[str, ...]
    stats: Mapping[str, Any]
    raw: Mapping[str, Any]
    # Figures that are estimates ("unique", "25%", "top", ...) -> their bounds and how they were
    # made; a figure not named here is exact. Profiles stored before estimates were marked have none.
    estimates: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    error: str = ""  # why this column's profile failed ("" when it did not)

    @classmethod
    def from_json(cls, c: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=str(c.get("name", "")),
            kind=str(c.get("kind", "")),
            dtype=str(c.get("dtype", "")),
            missing=int(c.get("missing") or 0),
            unique=int(c.get("unique") or 0),
            flags=tuple(str(f) for f in c.get("flags") or ()),
            stats=_frozen(dict(c.get("stats") or {})),
            raw=_frozen(dict(c)),
            estimates=_frozen(dict(c.get("estimates") or {})),
            error=str(c.get("error") or ""),
        )

    def bounds(self, figure: str) -> tuple[Any, Any] | None:
        """``(low, high)`` when ``figure`` ("unique", "25%", ...) is an estimate; None when exact."""
        found = self.estimates.get(figure)
        if not isinstance(found, Mapping) or "low" not in found:
            return None
        return found["low"], found["high"]


@dataclass(frozen=True)
class Profile:
    """A dataset's profile: its columns, and everything else read-only."""

    columns: tuple[ColumnProfile, ...]
    n_rows: int
    preview_columns: tuple[str, ...]
    preview_rows: tuple[tuple[Any, ...], ...]
    images: tuple[tuple[str, Any], ...]  # (base64 PNG, label) samples of an image dataset
    raw: Mapping[str, Any]
    errors: tuple[str, ...] = ()  # what failed in profiling (the dataset itself is usable)

    @classmethod
    def from_json(cls, data: Any) -> Profile:
        data = data if isinstance(data, Mapping) else {}
        columns = tuple(
            ColumnProfile.from_json(c) for c in data.get("columns") or () if isinstance(c, Mapping)
        )
        preview = data.get("preview") or {}
        return cls(
            columns=columns,
            n_rows=int(data.get("n_rows") or 0),
            preview_columns=tuple(str(c) for c in preview.get("columns") or ()),
            preview_rows=tuple(tuple(r) for r in preview.get("rows") or ()),
            images=tuple((str(i.get("png", "")), i.get("label")) for i in data.get("images") or ()),
            raw=_frozen(dict(data)),
            errors=tuple(str(e) for e in data.get("errors") or ()),
        )

    @classmethod
    def of(cls, value: Profile | Mapping[str, Any]) -> Profile:
        """``value`` as a Profile (a profile's JSON is read once)."""
        return value if isinstance(value, Profile) else cls.from_json(value)

    def names(self, *, images: bool = True) -> list[str]:
        return [c.name for c in self.columns if images or c.kind != "image"]

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def as_json(self) -> dict[str, Any]:
        """Plain JSON (for the chart and target helpers that take a profile dict)."""
        return thaw(self.raw)


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    name: str
    content_hash: str
    n_rows: int
    n_cols: int
    size_bytes: int
    source_format: str
    schema: Mapping[str, Any]
    read_options: Mapping[str, Any]
    profile: Profile
    author: str
    team: str
    created_at: datetime
    project_id: str = ""

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetRecord:
        return cls(
            id=row.id,
            name=row.name,
            content_hash=row.content_hash,
            n_rows=int(row.n_rows or 0),
            n_cols=int(row.n_cols or 0),
            size_bytes=int(row.size_bytes or 0),
            source_format=row.source_format or "",
            schema=_frozen(row.schema_json or {}),
            read_options=_frozen(row.read_options_json or {}),
            profile=Profile.from_json(row.profile_json),
            author=row.author or "",
            team=row.team or "",
            created_at=row.created_at,
            project_id=row.project_id or "",
        )

    # The raw profile JSON (tests, exports).
    @property
    def profile_json(self) -> dict[str, Any]:
        return self.profile.as_json


@dataclass(frozen=True)
class StudyRecord:
    """A study row; its spec is parsed by tuning (which owns the study spec's schema)."""

    id: str
    name: str
    status: str
    spec: Mapping[str, Any]
    phases: tuple[Mapping[str, Any], ...]
    author: str
    team: str
    archived: bool
    created_at: datetime
    project_id: str = ""

    @classmethod
    def from_row(cls, row: Study) -> StudyRecord:
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            spec=_frozen(row.spec_json or {}),
            phases=tuple(_frozen(p) for p in row.phases_json or ()),
            author=row.author or "",
            team=row.team or "",
            archived=bool(row.archived),
            created_at=row.created_at,
            project_id=row.project_id or "",
        )

    @property
    def spec_json(self) -> dict[str, Any]:
        return thaw(self.spec)

    @property
    def phases_json(self) -> list[dict[str, Any]]:
        return thaw(self.phases)


@dataclass(frozen=True)
class PipelineRecord:
    """A saved pipeline version (version >= 1) or a draft (version 0)."""

    id: str
    name: str
    version: int
    spec: Mapping[str, Any]
    spec_hash: str
    dataset_id: str | None
    author: str
    team: str
    created_at: datetime
    project_id: str = ""

    @classmethod
    def from_row(cls, row: Pipeline) -> PipelineRecord:
        return cls(
            id=row.id,
            name=row.name,
            version=int(row.version),
            spec=_frozen(row.spec_json or {}),
            spec_hash=row.spec_hash,
            dataset_id=row.dataset_id,
            author=row.author or "",
            team=row.team or "",
            created_at=row.created_at,
            project_id=row.project_id or "",
        )
