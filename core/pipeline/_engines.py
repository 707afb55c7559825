"""Run a pipeline spec on pandas (in memory) or on ``dask.dataframe`` (larger than memory).

Both engines call the same ``fit``/``transform`` of each step; fitted steps learn from the rows
the split marked ``train`` and apply their state unchanged to every row. Split assignment does
not depend on partitioning (a hash of each row's position, or a rank over one collected column),
so both engines give the same rows in the same splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SpecError
from core.pipeline._spec import PipelineSpec
from core.pipeline._step_base import ROW_COLUMN
from core.pipeline._step_base import SPLIT_COLUMN
from core.pipeline._step_base import BaseStep
from core.pipeline._step_base import row_uniform
from core.pipeline._steps_split import Split

__all__ = ["PipelineResult", "StepReport", "apply_fitted", "run_dask", "run_pandas"]


@dataclass(frozen=True)
class StepReport:
    node: str
    title: str
    rows_before: int
    rows_after: int


@dataclass
class PipelineResult:
    frame: Any  # pandas or dask DataFrame, with __row__ and __split__ columns
    states: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> fitted state
    reports: list[StepReport] = field(default_factory=list)
    failed: tuple[str, str] | None = None  # (node id, message) when stopped by an error


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    for c, dtype in df.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            out[str(c)] = "boolean"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[str(c)] = "numeric"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[str(c)] = "datetime"
        else:
            out[str(c)] = "text"
    return out


def _random_split(df: pd.DataFrame, step: Split) -> pd.DataFrame:
    u = row_uniform(df[ROW_COLUMN].to_numpy(), step.seed)
    labels = np.where(u < step.test, "test", np.where(u < step.test + step.validation, "validation", "train"))
    return df.assign(**{SPLIT_COLUMN: pd.array(labels, dtype="str")})


def _ranked_assignment(keys: pd.DataFrame, step: Split, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows for validation and test, from (row, key) pairs; shared by both engines."""
    keys = keys.assign(_u=row_uniform(keys[ROW_COLUMN].to_numpy(), step.seed))
    if step.method == "time":
        groups = [keys.sort_values([step.time_column, ROW_COLUMN])]
        order_last = True
    else:
        counts = keys[target].value_counts(dropna=False)
        small = (
            counts[counts * min(x for x in (step.validation, step.test) if x > 0) < 1]
            if (step.validation or step.test)
            else counts[:0]
        )
        if len(small):
            raise SpecError(
                f"{step.title}: class(es) {list(small.index)[:5]} of {target!r} have too few rows "
                f"({', '.join(str(n) for n in small.values[:5])}) to stratify with "
                f"validation={step.validation}, test={step.test}. Use a random split, merge rare classes, "
                "or drop them first."
            )
        groups = [g.sort_values(["_u", ROW_COLUMN]) for _, g in keys.groupby(target, dropna=False, sort=True)]
        order_last = False
    val_rows, test_rows = [], []
    for g in groups:
        n = len(g)
        n_test, n_val = int(round(n * step.test)), int(round(n * step.validation))
        rows = g[ROW_COLUMN].to_numpy()
        if order_last:  # time: the latest rows are held out, test after validation
            test_rows.append(rows[n - n_test :])
            val_rows.append(rows[n - n_test - n_val : n - n_test])
        else:
            test_rows.append(rows[:n_test])
            val_rows.append(rows[n_test : n_test + n_val])
    return np.sort(np.concatenate(val_rows or [np.empty(0, np.int64)])), np.sort(
        np.concatenate(test_rows or [np.empty(0, np.int64)])
    )


def _assign(df: pd.DataFrame, val_rows: np.ndarray, test_rows: np.ndarray) -> pd.DataFrame:
    rows = df[ROW_COLUMN].to_numpy()
    labels = np.where(
        np.isin(rows, test_rows), "test", np.where(np.isin(rows, val_rows), "validation", "train")
    )
    return df.assign(**{SPLIT_COLUMN: labels})


def _check(step: BaseStep, node: str, kinds: dict[str, str]) -> None:
    try:
        step.check(kinds)
    except SpecError as exc:
        raise SpecError(f"Node {node!r} ({step.title}): {exc}") from None


def run_pandas(
    spec: PipelineSpec,
    df: pd.DataFrame,
    upto: str | None = None,
    stop_on_error: bool = False,
    every_row_trains: bool = False,
) -> PipelineResult:
    """Run on a pandas frame (the whole dataset, or a sample for previews).

    Args:
        spec: The pipeline.
        df: The source data.
        upto: Stop after this node. Defaults to running every step.
        stop_on_error: Return the frame before the failing node and the error, instead of
            raising. Defaults to False.
        every_row_trains: Skip the split: every row is a training row (fitted steps learn from
            all of them), as when a run validates on another dataset; a column split's column
            is still dropped. Defaults to False.

    Raises:
        SpecError: A step cannot run; the message names the node and the fix.
    """
    start = df.assign(**{ROW_COLUMN: np.arange(len(df), dtype=np.int64)})
    if every_row_trains:
        start[SPLIT_COLUMN] = "train"
    result = PipelineResult(frame=start)
    if spec.target and spec.target not in df.columns:
        raise SpecError(f"Node 'source': target column {spec.target!r} is not in the dataset.")
    for node in spec.ordered():
        frame, step = result.frame, node.step
        try:
            _check(step, node.id, kinds_of(frame))
            if isinstance(step, Split):
                if every_row_trains:
                    dropped = step.columns_needed() if step.method == "column" else []
                    out = frame.drop(columns=dropped)
                elif step.method == "random":
                    out = _random_split(frame, step)
                elif step.method == "column":
                    out = step.labelled(frame)
                else:
                    key = step.time_column if step.method == "time" else spec.target
                    val, test = _ranked_assignment(frame[[ROW_COLUMN, key]], step, spec.target)
                    out = _assign(frame, val, test)
            elif step.fitted:
                train = frame.loc[frame[SPLIT_COLUMN] == "train", step.columns_needed()]
                state = step.fit(train)
                result.states[node.id] = state
                out = step.transform(frame, state)
            else:
                out = step.transform(frame, {})
            if len(out) == 0:
                raise SpecError(
                    f"Node {node.id!r} ({step.title}): no rows are left after this step. Loosen it."
                )
        except SpecError as exc:
            message = str(exc) if str(exc).startswith("Node ") else f"Node {node.id!r} ({step.title}): {exc}"
            if stop_on_error:
                result.failed = (node.id, message)
                return result
            raise SpecError(message) from None
        result.reports.append(StepReport(node.id, step.title, len(frame), len(out)))
        result.frame = out
        if node.id == upto:
            break
    return result


def run_dask(spec: PipelineSpec, ddf: Any) -> PipelineResult:
    """Run on a ``dask.dataframe`` lazily; fitted steps compute only their columns' training rows.

    Raises:
        SpecError: As :func:`run_pandas`.
    """
    if spec.target and spec.target not in ddf.columns:
        raise SpecError(f"Node 'source': target column {spec.target!r} is not in the dataset.")
    lengths = ddf.map_partitions(len).compute().tolist()
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

    def add_rows(part: pd.DataFrame, partition_info: dict | None = None) -> pd.DataFrame:
        start = offsets[partition_info["number"]] if partition_info else 0
        return part.assign(**{ROW_COLUMN: np.arange(start, start + len(part), dtype=np.int64)})

    frame = ddf.map_partitions(add_rows, meta=ddf._meta.assign(**{ROW_COLUMN: np.int64(0)}))
    result = PipelineResult(frame=frame)
    for node in spec.ordered():
        step = node.step
        _check(step, node.id, kinds_of(frame._meta))
        if isinstance(step, Split):
            meta = frame._meta.assign(**{SPLIT_COLUMN: pd.Series([], dtype="str")})
            if step.method == "random":
                frame = frame.map_partitions(_random_split, step, meta=meta)
            elif step.method == "column":
                frame = frame.map_partitions(step.labelled, meta=step.labelled(frame._meta))
            else:
                key = step.time_column if step.method == "time" else spec.target
                keys = frame[[ROW_COLUMN, key]].compute()
                val, test = _ranked_assignment(keys, step, spec.target)
                frame = frame.map_partitions(_assign, val, test, meta=meta)
        elif step.fitted:
            train = frame.loc[frame[SPLIT_COLUMN] == "train", step.columns_needed()].compute()
            try:
                state = step.fit(train)
            except SpecError as exc:
                raise SpecError(f"Node {node.id!r} ({step.title}): {exc}") from None
            result.states[node.id] = state
            frame = frame.map_partitions(step.transform, state, meta=step.transform(frame._meta, state))
        elif step.type == "drop_duplicates":
            subset = list(step.columns or [c for c in frame.columns if not c.startswith("__")])  # type: ignore[attr-defined]
            frame = frame.drop_duplicates(subset=subset, split_out=frame.npartitions)
        else:
            frame = frame.map_partitions(step.transform, {}, meta=step.transform(frame._meta, {}))
    result.frame = frame
    return result


def apply_fitted(
    spec: PipelineSpec, df: pd.DataFrame, states: dict[str, dict[str, Any]]
) -> tuple[pd.DataFrame, dict[int, str]]:
    """Apply a trained pipeline to new rows, for prediction: fitted steps reuse the states they
    learned in training, nothing is refitted.

    The target may be absent (it is what the model predicts). Splits, train-only augmentation and
    duplicate removal are skipped, so every row gets a prediction; rows the pipeline must still
    remove (missing features, a row filter) are reported instead of silently lost.

    Returns:
        The transformed frame (with ``__row__``: each row's position in ``df``) and, for every
        removed row, why.

    Raises:
        SpecError: A step cannot apply to these rows; the message names the node.
    """
    target = spec.target
    frame = df.assign(**{ROW_COLUMN: np.arange(len(df), dtype=np.int64)})
    placeholder = bool(target) and target not in frame.columns
    if placeholder:
        frame[target] = np.nan
    removed: dict[int, str] = {}
    for node in spec.ordered():
        step = node.step
        if isinstance(step, Split) and step.method == "column":
            # Rows to predict need no part, but the part's column must not reach the model.
            frame = frame.drop(columns=[c for c in step.columns_needed() if c in frame.columns])
            continue
        if isinstance(step, Split) or step.train_only or step.type == "drop_duplicates":
            continue
        if step.type == "drop_missing":
            columns = step.columns_needed() or [c for c in frame.columns if not c.startswith("__")]
            columns = [c for c in columns if c != target]
            if not columns:
                continue
            step = replace(step, columns=columns)  # type: ignore[type-var]
        elif step.type == "filter_rows" and target in step.columns_needed():
            continue
        if step.fitted and node.id not in states:
            raise SpecError(
                f"Node {node.id!r} ({step.title}): the trained pipeline has no fitted state for it."
            )
        try:
            _check(step, node.id, kinds_of(frame))
            out = step.transform(frame, states.get(node.id, {}))
        except SpecError as exc:
            message = str(exc) if str(exc).startswith("Node ") else f"Node {node.id!r} ({step.title}): {exc}"
            raise SpecError(message) from None
        if len(out) < len(frame):
            gone = np.setdiff1d(frame[ROW_COLUMN].to_numpy(), out[ROW_COLUMN].to_numpy())
            removed.update({int(r): f"removed by {step.title} (node {node.id})" for r in gone})
        frame = out
    if placeholder:
        frame = frame.drop(columns=[target], errors="ignore")
    return frame, removed
