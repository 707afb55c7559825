"""The split step: assigns each row to train / validation / test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import ClassVar

import pandas as pd

from core.errors import SpecError
from core.pipeline._step_base import SPLIT_COLUMN
from core.pipeline._step_base import SPLIT_LABELS
from core.pipeline._step_base import SPLIT_METHODS
from core.pipeline._step_base import BaseStep


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
