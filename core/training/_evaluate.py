"""The ``evaluate`` job: a finished training run scored on another dataset (the standard test
file, a later month of data). The run's fitted pipeline is applied unchanged (nothing is
refitted), the model is scored as its held-out split was (:func:`core.training._loop.score`),
and the result is stored as an evaluation of that run, visible exactly when the run is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.training._bundle import Bundle
from core.training._bundle import bundle_for_run
from core.training._predict import _source_columns

if TYPE_CHECKING:
    from core.compute import JobContext
    from core.store import Store
    from core.store import Viewer

__all__ = [
    "EvaluateSpec",
    "EvaluationRecord",
    "evaluate_frame",
    "list_evaluations",
    "run_evaluate",
    "validate_evaluate_spec",
]


@dataclass(frozen=True)
class EvaluateSpec:
    """Score a succeeded training run on a dataset of this store.

    Args:
        model_run: The training run.
        dataset_id: The dataset to score it on (it needs the pipeline's columns and the target).
    """

    model_run: str
    dataset_id: str

    def __post_init__(self) -> None:
        for name in ("model_run", "dataset_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise SpecError(f"`{name}` must be a run or dataset ID, but got {name}={value!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "evaluate", "model_run": self.model_run, "dataset_id": self.dataset_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluateSpec:
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid evaluation spec: {exc}.") from None


def validate_evaluate_spec(data: dict[str, Any]) -> dict[str, Any]:
    return EvaluateSpec.from_dict(data).to_dict()


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation as :func:`list_evaluations` returns it.

    Args:
        id: The ``evaluate`` job's run ID.
        run_id: The training run it scored.
        dataset_id: The dataset it was scored on.
        dataset_name: That dataset's name when it was scored.
        metrics: ``accuracy``, ``loss``... in the target's units.
        confusion: ``{"classes", "matrix"}`` (classification), else None.
        per_class: Precision, recall, f1 and support per class.
        pred_vs_actual: Regression predictions against targets, else None.
        rows: Rows read, scored, and removed by the pipeline.
        warnings: Unseen categories (encoded as none of the known ones), rows without a target.
        author: Who asked for it.
        created_at: When it was stored.
    """

    id: str
    run_id: str
    dataset_id: str | None
    dataset_name: str
    metrics: Mapping[str, float]
    confusion: Mapping[str, Any] | None
    per_class: tuple[Mapping[str, Any], ...]
    pred_vs_actual: Mapping[str, Any] | None
    rows: Mapping[str, int]
    warnings: tuple[str, ...]
    author: str
    created_at: datetime


def list_evaluations(store: Store, run_id: str, *, viewer: Viewer) -> list[EvaluationRecord]:
    """The evaluations of run ``run_id``, oldest first; none for a run ``viewer`` may not see."""
    from sqlalchemy import select

    from core.store import Evaluation
    from core.store import Run
    from core.store import can_see

    with store.session() as s:
        rows = s.scalars(
            select(Evaluation)
            .where(Evaluation.run_id == run_id, can_see(Run, run_id, viewer))
            .order_by(Evaluation.created_at, Evaluation.id)
        ).all()
        return [_record(row) for row in rows]


def _record(row: Any) -> EvaluationRecord:
    data = row.metrics_json if isinstance(row.metrics_json, dict) else {}
    return EvaluationRecord(
        id=row.id,
        run_id=row.run_id,
        dataset_id=row.dataset_id,
        dataset_name=row.dataset_name or "",
        metrics={str(k): float(v) for k, v in (data.get("evaluation") or {}).items()},
        confusion=data.get("confusion") or None,
        per_class=tuple(data.get("per_class") or ()),
        pred_vs_actual=data.get("pred_vs_actual") or None,
        rows={str(k): int(v) for k, v in (data.get("rows") or {}).items()},
        warnings=tuple(str(w) for w in data.get("warnings") or ()),
        author=row.author or "",
        created_at=row.created_at,
    )


def _unseen(values: Any, known: list[Any]) -> list[str]:
    seen = {str(v) for v in known}
    return sorted({str(v) for v in values.dropna().unique()} - seen)


def evaluate_frame(bundle: Bundle, weights_path: Any, frame: Any) -> dict[str, Any]:
    """``bundle``'s model scored on ``frame`` (raw rows with the target) through its fitted
    pipeline: ``{"evaluation", "confusion", "per_class" | "pred_vs_actual", "rows", "warnings"}``.

    Raises:
        DataError: A column the pipeline reads or the target is missing (named), the target has
            classes the model never learned (named), or no row is left to score.
    """
    from core.models import EstimatorSpec
    from core.pipeline import apply_fitted
    from core.training._data import features_array
    from core.training._loop import loss_and_metrics
    from core.training._loop import score
    from core.training._predict import load_model

    target = bundle.pipeline.target
    needed = [*_source_columns(bundle), target]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"The dataset lacks column(s) {missing} that run {bundle.run_id}'s pipeline needs "
            f"(the target {target!r} included); it has {list(frame.columns)[:20]}. "
            "Choose a dataset with the training data's columns."
        )
    warnings: list[str] = []
    classes = bundle.classes
    if bundle.task != "regression":
        unseen = _unseen(frame[target], classes or [])
        if unseen:
            raise DataError(
                f"Target {target!r} has value(s) {unseen[:10]} the model never learned; it knows "
                f"{[str(c) for c in classes or []][:20]}. Remove those rows or choose another dataset."
            )
    for state in bundle.pipeline_state.values():
        for column, known in (state.get("categories") or {}).items():
            if column in frame.columns and column != target:
                unseen = _unseen(frame[column], known)
                if unseen:
                    warnings.append(
                        f"Column {column!r} has categories the training data did not: {unseen[:10]} "
                        "(encoded as none of the known ones)."
                    )
    out, removed = apply_fitted(bundle.pipeline, frame, bundle.pipeline_state)
    absent = [c for c in bundle.features if c not in out.columns]
    if absent:
        raise DataError(f"After the pipeline the rows lack the model's input column(s) {absent}.")
    y_raw = out[target]
    if bundle.task == "regression":
        keep = y_raw.notna().to_numpy()
        y = y_raw.to_numpy(dtype="float64")[keep]
    else:
        index = {str(c): i for i, c in enumerate(classes or [])}
        codes = y_raw.map(lambda v: -1 if v is None or v != v else index.get(str(v), -1)).to_numpy()
        keep = codes >= 0
        y = codes[keep].astype("int64")
    if int((~keep).sum()):
        warnings.append(f"{int((~keep).sum())} row(s) have no target value and were not scored.")
    if not keep.any():
        raise DataError(f"No row of the dataset is left to score (target {target!r} present and kept).")
    x = features_array(out[keep], bundle.features)
    if tuple(x.shape[1:]) != bundle.input_shape:
        raise DataError(
            f"The rows give inputs of shape {tuple(x.shape[1:])}, but the model takes {bundle.input_shape}."
        )
    scaling = bundle.target_scaling
    model = load_model(bundle, weights_path)  # Keras: weights only; skops: Loom's allowlist
    if isinstance(bundle.model, EstimatorSpec):
        from core.training._classic import score_estimator

        result = score_estimator(model, x, y, bundle.task, classes, scaling)
    else:
        model.compile(optimizer="sgd", **loss_and_metrics(bundle.task))
        std = scaling["std"] if scaling else 1.0
        units = {"loss": std**2, "rmse": std, "mae": std} if scaling else {}
        result = score(model, x, y, bundle.task, classes, scaling, units)
    result["rows"] = {"read": len(frame), "scored": int(len(y)), "removed": len(removed)}
    result["warnings"] = warnings
    return {k: _plain(v) for k, v in result.items()}


def _plain(value: Any) -> Any:
    """JSON-ready (numpy scalars to Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def run_evaluate(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``evaluate`` job body (on a worker): scores the run and stores the evaluation."""
    import pyarrow.parquet as pq

    from core.data import get_dataset
    from core.store import SYSTEM
    from core.store import Evaluation
    from core.store import get_run

    spec = EvaluateSpec.from_dict(data)
    store = ctx.store
    bundle = bundle_for_run(store, spec.model_run)
    weights = store.path_for("models", spec.model_run, bundle.suffix)
    if not weights.exists():
        raise DataError(f"Run {spec.model_run}'s model file is missing from the data directory.")
    dataset = get_dataset(store, spec.dataset_id, viewer=SYSTEM)
    path = store.path_for("datasets", spec.dataset_id, ".parquet")
    if not path.exists():
        raise DataError(f"Dataset {spec.dataset_id} no longer exists. Choose another.")
    frame = pq.read_table(path).to_pandas()
    ctx.set_progress(0.2)
    result = evaluate_frame(bundle, weights, frame)
    author = get_run(store, ctx.run_id, viewer=SYSTEM).author
    with store.session() as s:
        s.add(
            Evaluation(
                id=ctx.run_id,
                run_id=spec.model_run,
                dataset_id=spec.dataset_id,
                dataset_name=dataset.name[:200],
                author=author[:100],
                metrics_json=result,
            )
        )
    return {"evaluation": result["evaluation"], "model_run": spec.model_run, "rows": result["rows"]}
