"""Data preparation: the pipeline's output as model inputs and targets (shared by one-worker and
data-parallel runs, and by predictions), and the Train page's input probe."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.pipeline import PipelineSpec
from core.training._spec import TrainSpec

__all__ = [
    "PreparedData",
    "arrays",
    "check_validation_data",
    "feature_columns",
    "features_array",
    "prepare_data",
    "probe_input",
    "target_scaling",
    "validation_differences",
]


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


def arrays(frame, target: str, task: str, classes: list[Any] | None):  # type: ignore[no-untyped-def]
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


def target_scaling(y) -> dict[str, float]:  # type: ignore[no-untyped-def]
    std = float(y.std())
    return {"mean": float(y.mean()), "std": std if std > 0 else 1.0}


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
    x, _, classes = arrays(frame, pipeline.target, "multiclass", None)
    spread = {}
    if x.ndim == 2 and len(x) > 1:  # tabular: each feature's standard deviation, for scale_warning
        stds = x.std(axis=0).astype(float).tolist()
        spread = dict(zip(feature_columns(frame, pipeline.target), stds, strict=True))
    return {
        "shape": list(x.shape[1:]),
        "classes": [str(c) for c in (classes or [])][:50],
        "rows": len(frame),
        "spread": spread,
    }


def scale_warning(probe: dict[str, Any], factor: float = 100.0) -> str | None:
    """A warning when a feature reaches the model on a scale ``factor`` times larger or smaller
    than the median feature's (standard deviations over the probed rows), or None.

    Gradient steps that suit most features then overshoot or ignore that one: a run on the
    wine data with 2 of 13 columns standardized diverged to 0.41 accuracy with momentum SGD.
    """
    import statistics

    spread = {k: v for k, v in (probe.get("spread") or {}).items() if v > 0}
    if len(spread) < 2:
        return None
    median = statistics.median(spread.values())
    odd = sorted(
        (name for name, v in spread.items() if v >= factor * median or v * factor <= median),
        key=lambda name: -max(spread[name] / median, median / spread[name]),
    )
    if not odd:
        return None
    shown = ", ".join(f"{name!r} (std {spread[name]:.3g})" for name in odd[:5]) + (
        f" and {len(odd) - 5} more" if len(odd) > 5 else ""
    )
    return (
        f"Feature(s) {shown} vary on a scale over {factor:g}× away from the median feature's "
        f"(std {median:.3g}) and are not scaled: training may diverge or ignore them. Add them to a "
        "Standardize or Min-max step in the pipeline (Loom's default pipeline scales every feature)."
    )


def _split_only_columns(pipeline: PipelineSpec) -> set[str]:
    """Columns only a column split reads (a file's own train/test column): skipped with the
    split when a run validates on another dataset, so they may differ between the two."""
    out: set[str] = set()
    for node in pipeline.nodes:
        step = node.step.to_dict()
        if step["type"] == "split" and step.get("method") == "column" and step.get("label_column"):
            out.add(str(step["label_column"]))
    return out


def validation_differences(
    pipeline: PipelineSpec,
    task: str,
    train_columns: list[str],
    val_columns: list[str],
    train_classes: Any = (),
    val_classes: Any = (),
) -> list[str]:
    """What makes a validation dataset unfit for a run that trains on ``pipeline``'s dataset:
    columns it lacks or adds, and target classes the training rows never have.

    Args:
        pipeline: The run's pipeline (its target; a column split's column is not compared).
        task: The run's task; classes are compared unless it is ``regression``.
        train_columns: The training dataset's columns.
        val_columns: The validation dataset's columns.
        train_classes: The training rows' target values (any iterable; missing values ignored).
            Defaults to none.
        val_classes: The validation rows' target values. Defaults to none.

    Returns:
        One phrase per difference (empty: the dataset fits).
    """
    ignored = _split_only_columns(pipeline)
    train_set, val_set = set(train_columns) - ignored, set(val_columns) - ignored
    out = []
    if missing := [c for c in train_columns if c in train_set - val_set]:
        out.append(f"it lacks column(s) {missing[:20]} of the training data")
    if extra := [c for c in val_columns if c in val_set - train_set]:
        out.append(f"it has column(s) {extra[:20]} the training data has not")
    target = pipeline.target
    if task != "regression" and target in train_set and target in val_set:
        known = {v for v in train_classes if v == v and v is not None}  # v == v: not NaN
        unseen = sorted({v for v in val_classes if v == v and v is not None} - known, key=str)
        if unseen:
            out.append(
                f"its target {target!r} has class(es) {[_plain(v) for v in unseen[:10]]} that the "
                f"training data has not (it has {[_plain(v) for v in sorted(known, key=str)[:20]]})"
            )
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _refusal(name: str, differences: list[str]) -> DataError:
    return DataError(
        f"Validation dataset {name!r} differs from the training data: {'; '.join(differences)}. "
        "Choose a dataset with the training data's columns and classes (a test file of the same "
        "source), or validate on the split's held-out rows."
    )


def _dataset_path(store: Any, dataset_id: str, what: str) -> Any:
    path = store.path_for("datasets", dataset_id, ".parquet")
    if not path.exists():
        raise DataError(f"{what} {dataset_id} no longer exists. Choose another dataset.")
    return path


def check_validation_data(
    config: Any, pipeline_dict: dict[str, Any], validation_dataset: str, task: str
) -> dict[str, Any]:
    """Check before launch that a dataset can validate a run on ``pipeline_dict``'s dataset (a
    Dask task, as :func:`probe_input`): the same columns, no target class the training data
    lacks, and the same model input once the pipeline fitted on training rows applies to it.

    Args:
        config: The app's config (the store to read).
        pipeline_dict: The run's pipeline spec, as a dict.
        validation_dataset: The dataset to validate on.
        task: The run's task.

    Returns:
        ``rows`` (the validation dataset's), ``train_rows`` (the training dataset's, every one
        of which then trains) and ``shape`` (the model input).

    Raises:
        DataError: Either dataset is gone, or the validation dataset differs (the message names
            each difference).
    """
    import pyarrow.parquet as pq

    from core.data import get_dataset
    from core.pipeline import apply_fitted
    from core.pipeline import run_pandas
    from core.store import SYSTEM
    from core.store import open_store

    store = open_store(config)
    pipeline = PipelineSpec.from_dict(pipeline_dict)
    train_path = _dataset_path(store, pipeline.dataset_id, "Dataset")
    val_path = _dataset_path(store, validation_dataset, "Validation dataset")
    name = get_dataset(store, validation_dataset, viewer=SYSTEM).name
    train_file, val_file = pq.ParquetFile(train_path), pq.ParquetFile(val_path)
    train_columns, val_columns = train_file.schema_arrow.names, val_file.schema_arrow.names
    target = pipeline.target
    classes: list[Any] = [(), ()]
    if task != "regression" and target in train_columns and target in val_columns:
        classes = [
            pq.read_table(path, columns=[target]).column(0).unique().to_pylist()
            for path in (train_path, val_path)
        ]
    differences = validation_differences(pipeline, task, train_columns, val_columns, *classes)
    if differences:
        raise _refusal(name, differences)
    # The model input: the pipeline fitted on the first training rows, applied to the first
    # validation rows, must give the same shape (image sizes, one-hot widths, numbers vs text).
    first = []
    for file, what in ((train_file, "The training dataset"), (val_file, f"Validation dataset {name!r}")):
        batch = next(file.iter_batches(batch_size=500), None)
        if batch is None:
            raise DataError(f"{what} has no rows. Choose a dataset with rows.")
        first.append(batch.to_pandas())
    fitted = run_pandas(pipeline, first[0], every_row_trains=True)
    features = feature_columns(fitted.frame, target)
    shape = tuple(features_array(fitted.frame, features).shape[1:])
    try:
        val_frame, _ = apply_fitted(pipeline, first[1], fitted.states)
        val_shape = tuple(features_array(val_frame, features).shape[1:])
    except (DataError, SpecError, KeyError) as exc:
        raise _refusal(name, [f"the pipeline cannot turn its rows into model input ({exc})"]) from None
    if val_shape != shape:
        raise _refusal(name, [f"its rows give model input of shape {val_shape}, the training rows {shape}"])
    return {
        "rows": val_file.metadata.num_rows,
        "train_rows": train_file.metadata.num_rows,
        "shape": list(shape),
    }


@dataclass(frozen=True)
class PreparedData:
    """A run's data after its pipeline, as arrays: what one-worker and data-parallel training
    both train on (one preparation, one set of checks and messages).

    ``y_train`` and ``y_val`` are standardised for a regression target (``scaling`` maps back;
    ``units`` converts losses and errors to the target's units); validation rows whose class the
    training rows never saw are dropped.
    """

    pipeline: PipelineSpec
    task: str
    fitted: Any  # the pipeline's PipelineResult (its fitted states go into the bundle)
    train: Any
    val: Any
    test: Any
    x_train: Any
    y_train: Any
    x_val: Any | None
    y_val: Any | None
    classes: list[Any] | None
    scaling: dict[str, float] | None
    units: dict[str, float]

    def scale(self, y: Any) -> Any:
        return (y - self.scaling["mean"]) / self.scaling["std"] if self.scaling else y


def prepare_data(store: Any, spec: TrainSpec) -> PreparedData:
    """Read the run's dataset, apply its pipeline, and split it into model arrays. With a
    validation dataset every row trains (the split is skipped) and the validation rows are that
    dataset's, through the pipeline fitted on the training rows; there is no test part.

    Raises:
        DataError: The dataset is gone, or a column is not numeric or still has gaps, or the
            validation dataset differs from the training data (named).
        SpecError: No split, fewer training rows than a batch, or a binary task without two
            classes.
    """
    import pyarrow.parquet as pq

    from core.models import is_estimator
    from core.models import model_from_dict
    from core.pipeline import SPLIT_COLUMN
    from core.pipeline import apply_fitted
    from core.pipeline import run_pandas

    pipeline = PipelineSpec.from_dict(spec.pipeline)
    task = model_from_dict(spec.model).task
    path = _dataset_path(store, pipeline.dataset_id, "Dataset")
    source = pq.read_table(path).to_pandas()
    if spec.validation_dataset:  # as Keras's validation_data: every row trains, another dataset validates
        other = pq.read_table(_dataset_path(store, spec.validation_dataset, "Validation dataset")).to_pandas()
        target = pipeline.target
        differences = validation_differences(
            pipeline,
            task,
            list(source.columns),
            list(other.columns),
            source[target].unique() if target in source else (),
            other[target].unique() if target in other else (),
        )
        if differences:
            from core.data import get_dataset
            from core.store import SYSTEM

            raise _refusal(get_dataset(store, spec.validation_dataset, viewer=SYSTEM).name, differences)
        fitted = run_pandas(pipeline, source, every_row_trains=True)
        train = fitted.frame
        val, _ = apply_fitted(pipeline, other, fitted.states)  # the training rows' fitted state
        val = val[val[target].notna()] if target in val else val
        val = val[[c for c in train.columns if c in val.columns]]  # the training features' order
        test = train.iloc[:0]
    else:
        fitted = run_pandas(pipeline, source)
        out = fitted.frame
        if SPLIT_COLUMN not in out:
            raise SpecError(
                "The pipeline has no split: add a train/validation split so the run can be validated."
            )
        splits = out[SPLIT_COLUMN]
        train, val, test = out[splits == "train"], out[splits == "validation"], out[splits == "test"]
    x_train, y_train, classes = arrays(train, pipeline.target, task, None)
    if len(x_train) < spec.batch_size and not is_estimator(spec.model):
        raise SpecError(
            f"`batch_size <= training rows` must hold, but got batch_size={spec.batch_size} with "
            f"{len(x_train)} training rows. Lower the batch size."
        )
    n_classes = len(classes) if classes else 1
    if task == "binary" and n_classes != 2:
        raise SpecError(
            f"Binary classification needs 2 classes, but the target has {n_classes}: choose multiclass."
        )
    # Regression fits standardized targets (mean 0, std 1 on the training rows): house prices in
    # dollars would otherwise need a learning rate per dataset. Predictions are mapped back.
    scaling = target_scaling(y_train) if task == "regression" else None
    units = {"loss": scaling["std"] ** 2, "rmse": scaling["std"], "mae": scaling["std"]} if scaling else {}
    x_val = y_val = None
    if len(val):
        x_val, y_val, _ = arrays(val, pipeline.target, task, classes)
        if classes:
            keep = y_val >= 0
            x_val, y_val = x_val[keep], y_val[keep]
    prepared = PreparedData(
        pipeline, task, fitted, train, val, test, x_train, y_train, x_val, y_val, classes, scaling, units
    )
    return replace(
        prepared,
        y_train=prepared.scale(y_train),
        y_val=prepared.scale(y_val) if y_val is not None else None,
    )
