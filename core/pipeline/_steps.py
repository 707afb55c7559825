"""The step registry: each step is a frozen dataclass (its parameters), validated on construction,
with ``fit`` (learns statistics from the training rows only, returns JSON) and ``transform``
(applies them to any pandas frame: a whole dataset, one Dask partition, or a later prediction).

Both engines call exactly these two methods, which is why pandas and Dask give the same result.

The base and the constants live in ``_step_base``; the steps, by family, in ``_steps_table``,
``_steps_split`` and ``_steps_images``. This module is the registry the editor, the engines and
the tests share.
"""

from __future__ import annotations

from typing import Any

from core.errors import SpecError
from core.pipeline._step_base import ROW_COLUMN
from core.pipeline._step_base import SPLIT_COLUMN
from core.pipeline._step_base import SPLIT_LABELS
from core.pipeline._step_base import SPLIT_METHODS
from core.pipeline._step_base import BaseStep
from core.pipeline._step_base import row_uniform
from core.pipeline._steps_images import AugmentImages
from core.pipeline._steps_images import ResizeImages
from core.pipeline._steps_images import ScaleImages
from core.pipeline._steps_split import Split
from core.pipeline._steps_table import ClipOutliers
from core.pipeline._steps_table import DropColumns
from core.pipeline._steps_table import DropDuplicates
from core.pipeline._steps_table import DropMissing
from core.pipeline._steps_table import FillMissing
from core.pipeline._steps_table import FilterRows
from core.pipeline._steps_table import LogTransform
from core.pipeline._steps_table import MinMaxScale
from core.pipeline._steps_table import OneHot
from core.pipeline._steps_table import OrdinalEncode
from core.pipeline._steps_table import SelectColumns
from core.pipeline._steps_table import Standardize

# ROW_COLUMN and SPLIT_LABELS are re-exported for the package's __init__.
__all__ = [
    "REGISTRY",
    "ROW_COLUMN",
    "SPLIT_COLUMN",
    "SPLIT_LABELS",
    "SPLIT_METHODS",
    "BaseStep",
    "default_step",
    "get_step",
    "row_uniform",
]

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
