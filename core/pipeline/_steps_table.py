"""Steps over table columns and rows: select, drop, fill, deduplicate, filter, clip, log, encode
and scale."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import SpecError
from core.pipeline._step_base import BaseStep
from core.pipeline._step_base import _columns
from core.pipeline._step_base import _ColumnsStep
from core.pipeline._step_base import _numeric_only
from core.pipeline._step_base import _NumericColumnsStep
from core.pipeline._step_base import _plain

_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is not missing")


@dataclass(frozen=True)
class SelectColumns(BaseStep):
    type: ClassVar[str] = "select_columns"
    title: ClassVar[str] = "Select columns"
    columns: list[str]

    def __post_init__(self) -> None:
        if not _columns(self.columns, self.title):
            raise SpecError(f"{self.title}: choose at least one column.")

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        keep = [c for c in df.columns if c.startswith("__")]
        return df[list(self.columns) + keep]


@dataclass(frozen=True)
class DropColumns(_ColumnsStep):
    type: ClassVar[str] = "drop_columns"
    title: ClassVar[str] = "Drop columns"

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        return df.drop(columns=list(self.columns))


@dataclass(frozen=True)
class DropMissing(BaseStep):
    type: ClassVar[str] = "drop_missing"
    title: ClassVar[str] = "Drop rows with missing values"
    columns: list[str] | None = None

    def __post_init__(self) -> None:
        if self.columns is not None:
            _columns(self.columns, self.title)

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        subset = list(self.columns) if self.columns else [c for c in df.columns if not c.startswith("__")]
        return df.dropna(subset=subset)


@dataclass(frozen=True)
class FillMissing(_ColumnsStep):
    type: ClassVar[str] = "fill_missing"
    title: ClassVar[str] = "Fill missing values"
    fitted: ClassVar[bool] = True
    strategy: str = "mean"
    value: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = ("mean", "median", "most_frequent", "constant")
        if self.strategy not in allowed:
            raise SpecError(f"{self.title}: strategy must be one of {allowed}, but got {self.strategy!r}.")
        if self.strategy == "constant" and self.value is None:
            raise SpecError(f"{self.title}: strategy 'constant' needs a `value`.")

    def check(self, schema: dict[str, str]) -> None:
        super().check(schema)
        if self.strategy in ("mean", "median"):
            _numeric_only(self, schema)

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        fills: dict[str, Any] = {}
        for c in self.columns:
            s = train[c].dropna()
            if self.strategy == "constant":
                fills[c] = self.value
            elif s.empty:
                raise SpecError(
                    f"{self.title}: column {c!r} has no values in the training split to learn from."
                )
            elif self.strategy == "mean":
                fills[c] = float(s.mean())
            elif self.strategy == "median":
                fills[c] = float(s.median())
            else:
                counts = s.value_counts()
                top = counts[counts == counts.max()].index
                fills[c] = _plain(sorted(top, key=str)[0])
        return {"fill": fills}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        return df.fillna(state["fill"])


@dataclass(frozen=True)
class DropDuplicates(BaseStep):
    type: ClassVar[str] = "drop_duplicates"
    title: ClassVar[str] = "Drop duplicate rows"
    columns: list[str] | None = None

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        subset = list(self.columns) if self.columns else [c for c in df.columns if not c.startswith("__")]
        return df.drop_duplicates(subset=subset)


@dataclass(frozen=True)
class FilterRows(BaseStep):
    """Keep rows where ``column op value`` holds. A structured condition: never a code string."""

    type: ClassVar[str] = "filter_rows"
    title: ClassVar[str] = "Filter rows"
    column: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise SpecError(f"{self.title}: operator must be one of {_OPS}, but got {self.op!r}.")
        if self.op in ("in", "not in") and not isinstance(self.value, list):
            raise SpecError(f"{self.title}: operator {self.op!r} needs a list of values.")

    def columns_needed(self) -> list[str]:
        return [self.column]

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        s = df[self.column]
        op, v = self.op, self.value
        if op == "is missing":
            mask = s.isna()
        elif op == "is not missing":
            mask = s.notna()
        elif op == "in":
            mask = s.isin(v)
        elif op == "not in":
            mask = ~s.isin(v)
        else:
            try:
                # Like SQL: a comparison with a missing value is never true ("is missing" asks that).
                mask = {"==": s.eq, "!=": s.ne, "<": s.lt, "<=": s.le, ">": s.gt, ">=": s.ge}[op](
                    v
                ) & s.notna()
            except TypeError as exc:
                raise SpecError(
                    f"{self.title}: cannot compare column {self.column!r} ({s.dtype}) with {v!r}: {exc}."
                ) from None
        return df[mask.fillna(False).astype(bool)]


@dataclass(frozen=True)
class ClipOutliers(_NumericColumnsStep):
    type: ClassVar[str] = "clip_outliers"
    title: ClassVar[str] = "Clip outliers"
    fitted: ClassVar[bool] = True
    method: str = "iqr"
    factor: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in ("iqr", "zscore"):
            raise SpecError(f"{self.title}: method must be 'iqr' or 'zscore', but got {self.method!r}.")
        if not (isinstance(self.factor, int | float) and self.factor > 0):
            raise SpecError(f"{self.title}: `factor > 0` must hold, but got factor={self.factor!r}.")

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        bounds = {}
        for c in self.columns:
            s = train[c].dropna().astype(float)
            if self.method == "iqr":
                q1, q3 = float(s.quantile(0.25)), float(s.quantile(0.75))
                lo, hi = q1 - self.factor * (q3 - q1), q3 + self.factor * (q3 - q1)
            else:
                m, sd = float(s.mean()), float(s.std(ddof=0))
                lo, hi = m - self.factor * sd, m + self.factor * sd
            bounds[c] = [lo, hi]
        return {"bounds": bounds}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c, (lo, hi) in state["bounds"].items():
            df[c] = df[c].clip(lo, hi)
        return df


@dataclass(frozen=True)
class LogTransform(_NumericColumnsStep):
    type: ClassVar[str] = "log_transform"
    title: ClassVar[str] = "Log transform (log1p)"

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c in self.columns:
            if (df[c] < 0).any():
                raise SpecError(
                    f"{self.title}: column {c!r} has negative values; log1p needs values >= 0. "
                    "Clip or shift the column first."
                )
            df[c] = np.log1p(df[c].astype(float))
        return df


@dataclass(frozen=True)
class OneHot(_ColumnsStep):
    type: ClassVar[str] = "one_hot"
    title: ClassVar[str] = "One-hot encode"
    fitted: ClassVar[bool] = True
    max_categories: int = 50

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        cats = {}
        for c in self.columns:
            values = sorted({_plain(v) for v in train[c].dropna().unique()}, key=str)
            if len(values) > self.max_categories:
                raise SpecError(
                    f"{self.title}: column {c!r} has {len(values)} categories in the training split, over "
                    f"max_categories={self.max_categories}. Use ordinal encoding or raise the limit."
                )
            cats[c] = values
        return {"categories": cats}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c, values in state["categories"].items():
            col = df.pop(c)
            for v in values:  # unseen categories: all zeros
                df[f"{c}={v}"] = (col == v).astype("float32")
        return df


@dataclass(frozen=True)
class OrdinalEncode(_ColumnsStep):
    type: ClassVar[str] = "ordinal_encode"
    title: ClassVar[str] = "Ordinal encode"
    fitted: ClassVar[bool] = True

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        return {
            "categories": {
                c: sorted({_plain(v) for v in train[c].dropna().unique()}, key=str) for c in self.columns
            }
        }

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c, values in state["categories"].items():
            codes = {v: i for i, v in enumerate(values)}
            df[c] = df[c].map(lambda v, codes=codes: codes.get(_plain(v), -1)).astype("int64")  # unseen: -1
        return df


@dataclass(frozen=True)
class Standardize(_NumericColumnsStep):
    type: ClassVar[str] = "standardize"
    title: ClassVar[str] = "Standardize (z-score)"
    fitted: ClassVar[bool] = True

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        out = {}
        for c in self.columns:
            s = train[c].astype(float)
            sd = float(s.std(ddof=0))
            out[c] = [float(s.mean()), sd if sd > 0 and math.isfinite(sd) else 1.0]
        return {"mean_std": out}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c, (m, sd) in state["mean_std"].items():
            df[c] = (df[c].astype(float) - m) / sd
        return df


@dataclass(frozen=True)
class MinMaxScale(_NumericColumnsStep):
    type: ClassVar[str] = "minmax_scale"
    title: ClassVar[str] = "Min-max scale"
    fitted: ClassVar[bool] = True

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        out = {}
        for c in self.columns:
            s = train[c].astype(float)
            lo, hi = float(s.min()), float(s.max())
            out[c] = [lo, (hi - lo) or 1.0]
        return {"min_range": out}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        df = df.copy()
        for c, (lo, rng) in state["min_range"].items():
            df[c] = (df[c].astype(float) - lo) / rng
        return df
