"""What a chosen target column means for training: classification or regression, and balance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import DataError
from core.store import Profile

__all__ = ["IMBALANCE_RATIO", "MAX_CLASSES", "TargetSummary", "default_target", "summarize_target"]


def default_target(profile: Profile | Mapping[str, Any]) -> str | None:
    """The column offered as the target first: ``label`` if there is one, else the last
    non-image column; None when there is none."""
    candidates = Profile.of(profile).names(images=False)
    if not candidates:
        return None
    return "label" if "label" in candidates else str(candidates[-1])


MAX_CLASSES = 50
# Warn when the smallest class has fewer than this fraction of the largest one's rows.
IMBALANCE_RATIO = 0.2


@dataclass(frozen=True)
class TargetSummary:
    column: str
    task: str  # "binary", "multiclass" or "regression"
    classes: list[tuple[Any, int]]
    imbalance: float | None  # smallest / largest class count
    warning: str | None


def summarize_target(profile: Profile | Mapping[str, Any], column: str) -> TargetSummary:
    """Infer the task a target implies, from the stored profile (core.data owns its schema).

    Raises:
        DataError: The column is missing, empty, or can be neither a class label nor a number.
    """
    profile = Profile.of(profile)
    found = profile.column(column)
    if found is None:
        raise DataError(f"There is no column {column!r} in this dataset.")
    entry = found.raw
    if entry["missing"] >= profile.raw.get("n_rows", 0):
        raise DataError(f"Column {column!r} is empty (all values missing): it cannot be a target.")
    kind, unique = entry["kind"], entry.get("unique") or 0
    warning = None
    if entry["missing"]:
        warning = f"{entry['missing']} rows have no {column!r}; the pipeline must drop them before training."
    if kind == "image":
        raise DataError(f"Column {column!r} holds images; choose the label column as the target.")
    is_label = kind in ("categorical", "boolean") or (kind == "numeric" and unique <= 20 and _integers(entry))
    if is_label:
        classes = [(v, n) for v, n in entry.get("top", [])]
        if len(classes) < 2:
            raise DataError(f"Column {column!r} has a single value: there is nothing to predict.")
        counts = [n for _, n in classes]
        ratio = min(counts) / max(counts)
        if ratio < IMBALANCE_RATIO:
            smallest = min(classes, key=lambda c: c[1])
            warning = (
                f"Heavy class imbalance: class {smallest[0]!r} has {smallest[1]} rows, "
                f"{ratio:.0%} of the largest class. Accuracy will flatter the model; watch AUC or "
                "per-class metrics, or rebalance in the pipeline."
            )
        return TargetSummary(column, "binary" if len(classes) == 2 else "multiclass", classes, ratio, warning)
    if kind == "numeric":
        return TargetSummary(column, "regression", [], None, warning)
    if kind == "text" and unique > MAX_CLASSES:
        raise DataError(
            f"Column {column!r} is text with {unique} distinct values: too many classes to learn, and "
            "not a number to regress. Pick another target, or map it to categories first."
        )
    if kind == "datetime":
        raise DataError(
            f"Column {column!r} holds dates. Predict a number derived from it, or use it as a feature."
        )
    return TargetSummary(column, "multiclass", [(v, n) for v, n in entry.get("top", [])], None, warning)


def _integers(entry: Mapping[str, Any]) -> bool:
    return all(
        isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v, _ in entry.get("top", [])
    )
