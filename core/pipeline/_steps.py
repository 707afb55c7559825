"""The step registry: each step is a frozen dataclass (its parameters), validated on construction,
with ``fit`` (learns statistics from the training rows only, returns JSON) and ``transform``
(applies them to any pandas frame: a whole dataset, one Dask partition, or a later prediction).

Both engines call exactly these two methods, which is why pandas and Dask give the same result.

Why one module over 400 lines: it is the step registry, one small frozen dataclass per step
(validation, JSON round trip, pandas and Dask application side by side), read as a catalogue;
splitting it by step would scatter the registry that the editor, the engines and the tests share.
"""

from __future__ import annotations

import math
from dataclasses import MISSING
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import SpecError

__all__ = ["REGISTRY", "SPLIT_COLUMN", "SPLIT_METHODS", "BaseStep", "default_step", "get_step", "row_uniform"]

SPLIT_COLUMN = "__split__"
SPLIT_METHODS = ("random", "stratified", "time", "column")
# What a split column may say for each part (compared stripped and lower-cased).
SPLIT_LABELS = {
    **dict.fromkeys(("train", "training"), "train"),
    **dict.fromkeys(("validation", "valid", "val", "dev"), "validation"),
    **dict.fromkeys(("test", "testing"), "test"),
}
ROW_COLUMN = "__row__"
_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is not missing")


def row_uniform(rows: np.ndarray, seed: int) -> np.ndarray:
    # splitmix64: a fixed, well-mixed hash of (row, seed) → [0, 1), identical on every engine.
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


class BaseStep:
    """A pipeline step. Subclasses are frozen dataclasses of their parameters."""

    type: ClassVar[str]
    title: ClassVar[str]
    fitted: ClassVar[bool] = False  # learns from the training split
    train_only: ClassVar[bool] = False  # changes only training rows (augmentation)

    def columns_needed(self) -> list[str]:
        return list(getattr(self, "columns", None) or [])

    def check(self, schema: dict[str, str]) -> None:
        """Raise :class:`SpecError` if the step cannot apply to columns of these kinds."""
        missing = [c for c in self.columns_needed() if c not in schema]
        if missing:
            raise SpecError(
                f"{self.title}: column(s) {missing} do not exist at this step. "
                f"Available: {', '.join(c for c in schema if not c.startswith('__'))}."
            )

    def fit(self, train: pd.DataFrame) -> dict[str, Any]:
        return {}

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseStep:
        params = {k: v for k, v in data.items() if k != "type"}
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(params) - names)
        if unknown:
            raise SpecError(f"{cls.title}: unknown parameter(s) {unknown}. Valid: {sorted(names)}.")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]  # type: ignore[arg-type]
        absent = [n for n in required if n not in params]
        if absent:
            raise SpecError(f"{cls.title}: missing parameter(s) {absent}.")
        return cls(**params)


def _columns(value: Any, step: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) and c for c in value):
        raise SpecError(f"{step}: `columns` must be a list of column names, but got {value!r}.")
    return list(value)


def _numeric_only(step: BaseStep, schema: dict[str, str]) -> None:
    bad = [c for c in step.columns_needed() if schema.get(c) not in ("numeric", "boolean")]
    if bad:
        raise SpecError(
            f"{step.title}: column(s) {bad} are not numeric ({', '.join(schema[c] for c in bad)}). "
            "Encode them first (one-hot or ordinal), or remove them from this step."
        )


@dataclass(frozen=True)
class _ColumnsStep(BaseStep):
    """A step over a list of columns."""

    columns: list[str]

    def __post_init__(self) -> None:
        _columns(self.columns, self.title)


class _NumericColumnsStep(_ColumnsStep):
    """A step over numeric columns only (text must be encoded first)."""

    def check(self, schema: dict[str, str]) -> None:
        super().check(schema)
        _numeric_only(self, schema)


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


@dataclass(frozen=True)
class Split(BaseStep):
    """Assigns each row to train / validation / test in ``__split__``.

    Random and stratified splits hash each row's position with the seed, so the assignment does
    not depend on the engine or on how the data is partitioned. Method ``column`` takes each row's
    part from ``label_column`` instead (a file that ships its own split, like MNIST's): its values
    are ``train``, ``validation`` (or ``valid``, ``val``, ``dev``) and ``test`` in any case, and the
    column is dropped after the split, so it never becomes a feature.
    """

    type: ClassVar[str] = "split"
    title: ClassVar[str] = "Train/validation/test split"
    method: str = "random"
    validation: float = 0.2
    test: float = 0.0
    seed: int = 0
    time_column: str | None = None
    label_column: str | None = None

    def __post_init__(self) -> None:
        if self.method not in SPLIT_METHODS:
            raise SpecError(
                f"{self.title}: method must be one of {', '.join(SPLIT_METHODS)}, but got {self.method!r}."
            )
        if self.method == "column" and not self.label_column:
            raise SpecError(
                f"{self.title}: method 'column' needs `label_column`, the column that says train, "
                "validation or test for each row."
            )
        if not (0 <= self.validation < 1 and 0 <= self.test < 1 and self.validation + self.test < 1):
            raise SpecError(
                f"{self.title}: `0 <= validation, test` and `validation + test < 1` must hold, but got "
                f"(validation={self.validation}, test={self.test})."
            )
        if self.method == "time" and not self.time_column:
            raise SpecError(f"{self.title}: method 'time' needs `time_column`.")

    def columns_needed(self) -> list[str]:
        if self.method == "time" and self.time_column:
            return [self.time_column]
        if self.method == "column" and self.label_column:
            return [self.label_column]
        return []

    def to_dict(self) -> dict[str, Any]:
        # Written only when set, so the specs (and hashes) of splits made before it stay the same.
        data = super().to_dict()
        if data["label_column"] is None:
            del data["label_column"]
        return data

    def labelled(self, df: pd.DataFrame) -> pd.DataFrame:
        """Method ``column``: each row's part from ``label_column``, which is then dropped.

        Raises:
            SpecError: A value is not a part's name, or no row is for training.
        """
        column = str(self.label_column)
        raw = df[column].astype("string").str.strip().str.lower()
        parts = raw.map(SPLIT_LABELS)
        unknown = raw[parts.isna()]
        if len(unknown):
            shown = sorted({str(v) for v in df.loc[unknown.index, column].head(1000)})[:5]
            raise SpecError(
                f"{self.title}: column {column!r} has {len(unknown):,} value(s) that name no part, e.g. "
                f"{shown}. Each value must be train, validation (valid, val, dev) or test; fix those "
                "rows or filter them out before the split."
            )
        return df.drop(columns=[column]).assign(**{SPLIT_COLUMN: parts.astype("str").to_numpy()})


# --- images: the `image` column holds PNG bytes (from ingest) or, after scaling, float arrays -----


def _decode(png: bytes) -> np.ndarray:
    from core.images import decode_image

    return decode_image(png)


def _encode(arr: np.ndarray) -> bytes:
    from core.images import encode_png

    return encode_png(arr)


def _check_images(step: BaseStep, schema: dict[str, str]) -> None:
    if "image" not in schema:
        raise SpecError(
            f"{step.title}: this dataset has no `image` column. Image steps need an image dataset."
        )


@dataclass(frozen=True)
class ResizeImages(BaseStep):
    type: ClassVar[str] = "resize_images"
    title: ClassVar[str] = "Resize images"
    height: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        if not (1 <= int(self.height) <= 1024 and 1 <= int(self.width) <= 1024):
            raise SpecError(
                f"{self.title}: `1 <= height, width <= 1024` must hold, but got "
                f"(height={self.height}, width={self.width})."
            )

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from PIL import Image

        def one(png: Any) -> Any:
            if not isinstance(png, bytes):
                raise SpecError(f"{self.title}: put it before 'Scale images to [0, 1]'.")
            arr = _decode(png)
            return _encode(
                np.asarray(Image.fromarray(arr).resize((self.width, self.height), Image.Resampling.BILINEAR))
            )

        return df.assign(image=df["image"].map(one))


@dataclass(frozen=True)
class ScaleImages(BaseStep):
    """Pixels → float32 in [0, 1], shaped (height, width, channels): what a network takes."""

    type: ClassVar[str] = "scale_images"
    title: ClassVar[str] = "Scale images to [0, 1]"

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from core.images import decode_images

        pixels = decode_images(df["image"].tolist())
        if pixels and len({p.shape for p in pixels}) == 1:
            # One shape (MNIST and most datasets): scale all images in one array operation;
            # each row holds a view of it.
            batch = np.stack(pixels).astype(np.float32) / np.float32(255.0)
            if batch.ndim == 3:
                batch = batch[..., None]
            return df.assign(image=list(batch))
        scaled = [p.astype(np.float32) / np.float32(255.0) for p in pixels]
        return df.assign(image=[p[..., None] if p.ndim == 2 else p for p in scaled])


@dataclass(frozen=True)
class AugmentImages(BaseStep):
    """Random flips and rotations of training rows only; validation and test stay untouched.

    Each row's draw is a hash of its position and the seed, so it is the same on every engine.
    """

    type: ClassVar[str] = "augment_images"
    title: ClassVar[str] = "Augment images (train only)"
    train_only: ClassVar[bool] = True
    flip: bool = True
    max_rotation: float = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= float(self.max_rotation) <= 180:
            raise SpecError(
                f"{self.title}: `0 <= max_rotation <= 180` must hold, but got {self.max_rotation}."
            )

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)
        if SPLIT_COLUMN not in schema:
            raise SpecError(f"{self.title}: put a split before it, so only training rows are augmented.")

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from PIL import Image

        train = (df[SPLIT_COLUMN] == "train").to_numpy()
        rows = df[ROW_COLUMN].to_numpy()
        u_flip, u_rot = row_uniform(rows, self.seed), row_uniform(rows, self.seed + 1)
        images = df["image"].tolist()
        for i in np.flatnonzero(train):
            img = images[i]
            if not isinstance(img, bytes):
                raise SpecError(f"{self.title}: put it before 'Scale images to [0, 1]'.")
            pil = Image.fromarray(_decode(img))
            if self.flip and u_flip[i] < 0.5:
                pil = pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if self.max_rotation:
                pil = pil.rotate((u_rot[i] * 2 - 1) * self.max_rotation, resample=Image.Resampling.BILINEAR)
            images[i] = _encode(np.asarray(pil))
        return df.assign(image=images)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


REGISTRY: dict[str, type[BaseStep]] = {
    cls.type: cls
    for cls in (
        SelectColumns,
        DropColumns,
        DropMissing,
        FillMissing,
        DropDuplicates,
        FilterRows,
        ClipOutliers,
        LogTransform,
        OneHot,
        OrdinalEncode,
        Standardize,
        MinMaxScale,
        Split,
        ResizeImages,
        ScaleImages,
        AugmentImages,
    )
}


_NUMERIC_DEFAULT = {"standardize", "minmax_scale", "clip_outliers"}


def default_step(
    step_type: str, columns: list[str], target: str, numeric: list[str] | None = None
) -> BaseStep:
    """A new step of ``step_type`` as the editor adds it: sensible parameters for this data
    (``select_columns`` keeps every feature; a scaler or outlier clip starts on every numeric
    feature in ``numeric``; a row filter starts on the first column)."""
    from dataclasses import fields as _fields

    cls: Any = REGISTRY[step_type]  # every registered step is a dataclass
    params: dict[str, Any] = {}
    names = {f.name for f in _fields(cls)}
    if "columns" in names and step_type == "select_columns":
        params["columns"] = [c for c in columns if c != target] or list(columns)
    elif "columns" in names and step_type in _NUMERIC_DEFAULT:
        params["columns"] = [c for c in numeric or [] if c != target]
    elif "columns" in names:
        params["columns"] = []
    if "column" in names:
        params.update(column=columns[0] if columns else "", op="is not missing")
    return get_step({"type": step_type, **params})


def get_step(identifier: str | dict[str, Any] | BaseStep) -> BaseStep:
    """A step from its type name (default parameters), its dict, or itself.

    Raises:
        SpecError: Unknown type (the message lists the valid ones) or bad parameters.
    """
    if isinstance(identifier, BaseStep):
        return identifier
    data = {"type": identifier} if isinstance(identifier, str) else dict(identifier)
    cls = REGISTRY.get(str(data.get("type")))
    if cls is None:
        raise SpecError(f"Unknown step {data.get('type')!r}. Valid steps are: {', '.join(sorted(REGISTRY))}.")
    try:
        return cls.from_dict(data)
    except TypeError as exc:
        raise SpecError(f"{cls.title}: {exc}.") from None
