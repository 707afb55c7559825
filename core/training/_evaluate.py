"""The ``evaluate`` job: a finished training run scored on another dataset (the standard test
file, a later month of data). The run's fitted pipeline is applied unchanged (nothing is
refitted), the model is scored as its held-out split was (:func:`core.training._loop.score`),
and the result is stored as an evaluation of that run, visible exactly when the run is.

An evaluation also counts how many of its scored rows the run trained on: the rows its pipeline's
split marked ``train`` in the training dataset, matched by a hash of each row's raw values. A
score on rows the model learned from is not a held-out score, and every view of an evaluation
says so (:attr:`EvaluationRecord.overlap_warning`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from core.errors import AppError
from core.errors import DataError
from core.errors import SpecError
from core.pipeline import PipelineSpec
from core.training._bundle import Bundle
from core.training._bundle import bundle_for_run
from core.training._predict import _source_columns

if TYPE_CHECKING:
    from core.compute import JobContext
    from core.store import DatasetRecord
    from core.store import RunRecord
    from core.store import Store
    from core.store import Viewer

__all__ = [
    "EvaluateSpec",
    "EvaluationRecord",
    "check_evaluation_data",
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
        overlap_rows: How many scored rows the run trained on; None when not measured (an
            evaluation stored before Loom measured it, or the training dataset is gone).
        overlap_of: The scored rows that count was taken over (0 when not measured).
        training_dataset_id: The dataset the run trained on.
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
    overlap_rows: int | None = None
    overlap_of: int = 0
    training_dataset_id: str | None = None

    @property
    def overlap_fraction(self) -> float | None:
        """The share of the scored rows the run trained on, or None when not measured."""
        if self.overlap_rows is None:
            return None
        return self.overlap_rows / self.overlap_of if self.overlap_of else 0.0

    @property
    def on_training_dataset(self) -> bool:
        """Scored on the very dataset the run trained on (known without measuring)."""
        return bool(self.dataset_id) and self.dataset_id == self.training_dataset_id

    @property
    def overlap_summary(self) -> str:
        """A table cell: "none", "⚠ 80 % (120 of 150)", "⚠ its training dataset" or "unknown"."""
        if self.overlap_rows is not None:
            if not self.overlap_rows:
                return "none"
            share = _percent(self.overlap_rows, self.overlap_of)
            return f"⚠ {share} ({self.overlap_rows:,} of {self.overlap_of:,})"
        return "⚠ its training dataset" if self.on_training_dataset else "unknown"

    @property
    def overlap_warning(self) -> str:
        """The label every view shows beside a score on rows the run trained on; "" for none."""
        if self.overlap_rows:
            return (
                f"⚠ {_percent(self.overlap_rows, self.overlap_of)} of these rows were used in training "
                f"({self.overlap_rows:,} of {self.overlap_of:,}): this score is not a held-out score."
            )
        if self.overlap_rows is None and self.on_training_dataset:
            return (
                "⚠ Scored on the dataset the run trained on (overlap not measured): its training rows "
                "are among these, so this score is not a held-out score."
            )
        return ""


def _percent(part: int, whole: int) -> str:
    """The share as "80 %": "100 %" only when every row overlaps, never "0 %" when one does."""
    if part >= whole:
        return "100 %"
    share = 100 * part / whole
    if share < 1:
        return f"{max(share, 0.1):.1f} %"
    return f"{min(round(share), 99)} %"


def list_evaluations(store: Store, run_id: str, *, viewer: Viewer) -> list[EvaluationRecord]:
    """The evaluations of run ``run_id``, oldest first; none for a run ``viewer`` may not see."""
    from sqlalchemy import select

    from core.store import Evaluation
    from core.store import Run
    from core.store import can_see

    with store.session(viewer) as s:
        rows = s.scalars(
            select(Evaluation)
            .where(Evaluation.run_id == run_id, can_see(Run, run_id, viewer))
            .order_by(Evaluation.created_at, Evaluation.id)
        ).all()
        trained_on = None
        if rows:  # the run is visible (its evaluations are): which dataset it trained on
            run = s.get(Run, run_id)
            pipeline = (run.spec_json or {}).get("pipeline") if run is not None else None
            trained_on = (pipeline or {}).get("dataset_id") if isinstance(pipeline, dict) else None
            trained_on = trained_on or (run.dataset_id if run is not None else None)
        return [_record(row, trained_on) for row in rows]


def _record(row: Any, training_dataset_id: str | None = None) -> EvaluationRecord:
    data = row.metrics_json if isinstance(row.metrics_json, dict) else {}
    overlap = data.get("overlap") if isinstance(data.get("overlap"), dict) else None
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
        overlap_rows=int(overlap["rows"]) if overlap and overlap.get("rows") is not None else None,
        overlap_of=int(overlap.get("of") or 0) if overlap else 0,
        training_dataset_id=training_dataset_id,
    )


def _split_labels(pipeline: PipelineSpec) -> set[str]:
    """The columns a column split reads its parts from: a file to score needs none (the rows
    are scored whatever part they were labelled for)."""
    return {
        str(getattr(node.step, "label_column", None))
        for node in pipeline.ordered()
        if node.step.type == "split" and getattr(node.step, "method", "") == "column"
    }


def _required_columns(pipeline: PipelineSpec) -> list[str]:
    """The raw columns a dataset needs to be scored by a run with this pipeline, target last."""
    labels = _split_labels(pipeline)
    names: list[str] = []
    for node in pipeline.ordered():
        for c in node.step.columns_needed():
            if c != pipeline.target and c not in labels and c not in names:
                names.append(c)
    return [*names, pipeline.target]


def _lacking(missing: list[str], run_id: str, target: str, columns: list[str], name: str = "") -> DataError:
    what = f"Dataset {name!r}" if name else "The dataset"
    return DataError(
        f"{what} lacks column(s) {missing} that run {run_id}'s pipeline needs (the target "
        f"{target!r} included); it has {columns[:20]}. Choose a dataset with the training data's columns."
    )


def check_evaluation_data(run: RunRecord, dataset: DatasetRecord) -> None:
    """Refuse, before any job, to score ``run`` on a dataset without its columns.

    Args:
        run: A training run.
        dataset: The dataset to score it on.

    Raises:
        DataError: The dataset lacks a column the run's pipeline reads, or its target; the
            message names every one missing.
    """
    from core.store import thaw

    pipeline = PipelineSpec.from_dict(thaw(run.spec)["pipeline"])
    columns = [str(f.get("name")) for f in (dataset.schema.get("fields") or ())]
    missing = [c for c in _required_columns(pipeline) if c not in columns]
    if missing:
        raise _lacking(missing, run.id, pipeline.target, columns, dataset.name)


def _unseen(values: Any, known: list[Any]) -> list[str]:
    seen = {str(v) for v in known}
    return sorted({str(v) for v in values.dropna().unique()} - seen)


def evaluate_frame(
    bundle: Bundle,
    weights_path: Any,
    frame: Any,
    training: Any | None = None,
    *,
    every_row_trains: bool = False,
) -> dict[str, Any]:
    """``bundle``'s model scored on ``frame`` (raw rows with the target) through its fitted
    pipeline: ``{"evaluation", "confusion", "per_class" | "pred_vs_actual", "rows", "warnings"}``,
    and ``"overlap"`` when ``training`` is given.

    Args:
        bundle: The run.
        weights_path: Its model file.
        frame: The rows to score.
        training: The raw rows of the dataset the run trained on: the scored rows its split
            marked ``train`` are counted as ``{"rows", "of", "fraction"}``. Defaults to None (not
            counted).
        every_row_trains: The run skipped its split (it validated on another dataset): every
            row of ``training`` trained. Defaults to False.

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
    missing = [c for c in _required_columns(bundle.pipeline) if c not in frame.columns]
    if missing:
        raise _lacking(missing, bundle.run_id, target, list(frame.columns))
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
    if training is not None:
        from core.pipeline import ROW_COLUMN

        scored = out[ROW_COLUMN].to_numpy()[keep]
        try:
            result["overlap"] = _overlap(bundle, frame.iloc[scored], training, every_row_trains)
        except AppError as exc:  # the score stands; only the count is unknown
            warnings.append(f"Could not count the rows the run trained on: {exc}")
    result["warnings"] = warnings
    return {k: _plain(v) for k, v in result.items()}


def _overlap(bundle: Bundle, scored: Any, training: Any, every_row_trains: bool) -> dict[str, Any]:
    """How many ``scored`` rows are among the rows the run trained on."""
    import numpy as np

    # The values the model reads and the target; not a split's label column (a row the test file
    # copies from the training file is the same row, whatever part it was labelled for).
    labels = _split_labels(bundle.pipeline)
    columns = [
        c
        for c in dict.fromkeys([*_source_columns(bundle), *bundle.features, bundle.pipeline.target])
        if c in scored.columns and c in training.columns and c not in labels
    ]
    positions = np.arange(len(training)) if every_row_trains else _training_positions(bundle, training)
    trained = np.unique(_row_hashes(training.iloc[positions], columns))
    n = int(np.isin(_row_hashes(scored, columns), trained).sum())
    return {"rows": n, "of": len(scored), "fraction": n / len(scored) if len(scored) else 0.0}


def _training_positions(bundle: Bundle, training: Any) -> Any:
    """Positions in the raw training rows of those the run's split marked ``train``: the
    pipeline runs up to its (last) split, which assigns each row from its position and the rows
    before it, as in training. Without a split every row trained."""
    import numpy as np

    from core.pipeline import ROW_COLUMN
    from core.pipeline import SPLIT_COLUMN
    from core.pipeline import run_pandas

    splits = [node.id for node in bundle.pipeline.ordered() if node.step.type == "split"]
    if not splits:
        return np.arange(len(training))
    out = run_pandas(bundle.pipeline, training, upto=splits[-1]).frame
    return np.unique(out.loc[out[SPLIT_COLUMN] == "train", ROW_COLUMN].to_numpy())


def _row_hashes(frame: Any, columns: list[str]) -> Any:
    """One 64-bit hash of each row's raw values in ``columns``. Numbers hash as floats (the same
    file read with a gap in a column gives 1.0 where it gave 1), images as their bytes."""
    import numpy as np
    import pandas as pd

    parts = {}
    for c in columns:
        series = frame[c]
        if pd.api.types.is_numeric_dtype(series.dtype):  # booleans too
            parts[c] = series.to_numpy(dtype="float64", na_value=np.nan)
        else:
            parts[c] = np.array([_canonical(v) for v in series.tolist()], dtype=object)
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


def _canonical(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, bytes | str):
        return value
    if hasattr(value, "tobytes"):  # an array (decoded image)
        return value.tobytes()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return str(value)


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
    trained_on = bundle.pipeline.dataset_id
    training = None
    if trained_on == spec.dataset_id:
        training = frame
    elif (training_path := store.path_for("datasets", trained_on, ".parquet")).exists():
        training = pq.read_table(training_path).to_pandas()
    # A run that validated on another dataset skipped its split: it trained on every row.
    every_row_trains = bool(get_run(store, spec.model_run, viewer=SYSTEM).spec.get("validation_dataset"))
    result = evaluate_frame(bundle, weights, frame, training, every_row_trains=every_row_trains)
    author = get_run(store, ctx.run_id, viewer=SYSTEM).author
    with store.session(SYSTEM) as s:
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
    return {
        "evaluation": result["evaluation"],
        "model_run": spec.model_run,
        "rows": result["rows"],
        **({"overlap": result["overlap"]} if "overlap" in result else {}),
    }
