"""Data preparation: the pipeline's output as model inputs and targets (shared by one-worker and
data-parallel runs, and by predictions), and the Train page's input probe."""

from __future__ import annotations

from typing import Any

from core.errors import DataError
from core.pipeline import PipelineSpec

__all__ = ["arrays", "feature_columns", "features_array", "probe_input", "target_scaling"]


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
    return {"shape": list(x.shape[1:]), "classes": [str(c) for c in (classes or [])][:50], "rows": len(frame)}
