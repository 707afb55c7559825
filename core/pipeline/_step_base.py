"""What every pipeline step shares: the base class (parameters as a frozen dataclass, validated on
construction, with ``fit`` and ``transform``), the bases of column steps, the reserved columns and
the per-row hash that makes random choices identical on every engine."""

from __future__ import annotations

from dataclasses import MISSING
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import SpecError

SPLIT_COLUMN = "__split__"
SPLIT_METHODS = ("random", "stratified", "time", "column")
# What a split column may say for each part (compared stripped and lower-cased).
SPLIT_LABELS = {
    **dict.fromkeys(("train", "training"), "train"),
    **dict.fromkeys(("validation", "valid", "val", "dev"), "validation"),
    **dict.fromkeys(("test", "testing"), "test"),
}
ROW_COLUMN = "__row__"


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


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v
