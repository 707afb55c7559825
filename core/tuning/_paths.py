"""The dotted paths into a training-spec dict that a search space may vary (``epochs``,
``optimizer.learning_rate``, ``model.layers.0.units``, ``model.params.max_depth``): which exist,
their labels, and :func:`apply`, which sets values at them."""

from __future__ import annotations

import copy
import re
from dataclasses import fields
from typing import Any

from core.errors import SpecError
from core.models import ESTIMATORS
from core.models import LAYERS
from core.models import EstimatorSpec
from core.models import is_estimator
from core.optimizers import OptimizerSpec

__all__ = ["TOP_LEVEL", "apply"]

# The training settings outside the optimizer and the model that a study may vary. The seed is
# left out on purpose: tuning it only finds a lucky draw.
TOP_LEVEL = ("epochs", "batch_size", "early_stopping")

_OPTIMIZER_FIELDS = tuple(f.name for f in fields(OptimizerSpec))
_LAYER_FIELDS = tuple(sorted({f.name for cls in LAYERS.values() for f in fields(cls)}))
_PATH_CHARS = re.compile(r"[A-Za-z0-9_.]+")
# No leading zeros: `model.layers.01.units` would be a second Optuna name for layer 1.
_LAYER_PATH = re.compile(r"model\.layers\.(0|[1-9][0-9]*)\.([A-Za-z0-9_]+)")
_PATH_FORMS = (
    "epochs, batch_size, early_stopping, optimizer.<setting>, model.layers.<index>.<setting> or "
    "model.params.<hyperparameter> (scikit-learn)"
)
# Every hyperparameter of a scikit-learn estimator kind (model.params.<name>).
_ESTIMATOR_FIELDS = tuple(sorted({name for _, _, schema in ESTIMATORS.values() for name in schema}))
_LABELS = {
    "epochs": "epochs",
    "batch_size": "batch size",
    "early_stopping": "early-stopping patience",
    "optimizer.name": "optimizer",
    "optimizer.learning_rate": "learning rate",
    "optimizer.clipnorm": "gradient clip norm",
}


def _check_path(path: Any) -> None:
    if not isinstance(path, str) or not _PATH_CHARS.fullmatch(path):
        raise SpecError(f"`path` may only hold letters, digits, `_` and `.`, but got path={path!r}.")
    if path in TOP_LEVEL:
        return
    parts = path.split(".")
    if len(parts) == 2 and parts[0] == "optimizer":
        if parts[1] in _OPTIMIZER_FIELDS:
            return
        raise SpecError(
            f"{parts[1]!r} is not an optimizer setting: valid settings are {', '.join(_OPTIMIZER_FIELDS)}, "
            f"but got path={path!r}."
        )
    if len(parts) == 3 and parts[:2] == ["model", "params"]:
        if parts[2] in _ESTIMATOR_FIELDS:
            return
        raise SpecError(
            f"{parts[2]!r} is not a scikit-learn hyperparameter Loom knows: valid ones are "
            f"{', '.join(_ESTIMATOR_FIELDS)}, but got path={path!r}."
        )
    match = _LAYER_PATH.fullmatch(path)
    if match:
        if match[2] in _LAYER_FIELDS:
            return
        raise SpecError(
            f"{match[2]!r} is not a layer setting: valid settings are {', '.join(_LAYER_FIELDS)}, "
            f"but got path={path!r}."
        )
    raise SpecError(f"`path` must name a training setting ({_PATH_FORMS}), but got path={path!r}.")


def _set(spec: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if len(parts) == 1:
        spec[path] = value
    elif parts[0] == "optimizer":
        # A spec without an optimizer trains with the default one (TrainSpec's default).
        spec.setdefault("optimizer", OptimizerSpec().to_dict())[parts[1]] = value
    elif parts[1] == "params":
        model = spec["model"]
        if not is_estimator(model):
            raise SpecError(
                f"{path} sets a scikit-learn hyperparameter, but this run's model is a Keras network: "
                "tune its layers (model.layers.<index>.<setting>) instead."
            )
        schema = ESTIMATORS.get(model.get("kind"), ("", (), {}))[2]
        if parts[2] not in schema:
            raise SpecError(
                f"A {EstimatorSpec.from_dict(model).label} has no `{parts[2]}`; its hyperparameters are: "
                f"{', '.join(schema) or 'none'}. Got path={path!r}."
            )
        model.setdefault("params", {})[parts[2]] = value
    else:
        layers = spec["model"].get("layers", [])
        index, name = int(parts[2]), parts[3]
        if index >= len(layers):
            raise SpecError(
                f"There is no layer {index} for {path}: the model has {len(layers)} layer(s)"
                + (f" (indexes 0 to {len(layers) - 1})." if layers else ".")
            )
        layer = layers[index]
        cls = LAYERS[layer["type"]]
        valid = [f.name for f in fields(cls)]
        if name not in valid:
            raise SpecError(
                f"model.layers.{index} is a {cls.__name__} layer, which has no `{name}`; its settings are: "
                f"{', '.join(valid) or 'none'}. Got path={path!r}."
            )
        layer[name] = value


def apply(train_spec: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``train_spec`` with each path set to its value; the input is left as it is.

    Args:
        train_spec: A training-spec dict (:meth:`core.training.TrainSpec.to_dict`).
        values: Values by path, e.g. from :meth:`SearchSpace.suggest` or ``trial.params``.

    Returns:
        The new training-spec dict, validated as a :class:`~core.training.TrainSpec`.

    Raises:
        SpecError: ``train_spec`` is invalid, a path does not exist in it (the message says what
            does), or the values make an invalid training spec.
    """
    # Imported here: core.training may come to import core.tuning (a tuning job trains).
    from core.training import TrainSpec

    TrainSpec.from_dict(train_spec)  # a broken base spec is reported as such, not as a trial's fault
    result = copy.deepcopy(train_spec)
    for path, value in values.items():
        _check_path(path)
        _set(result, path, value)
    try:
        TrainSpec.from_dict(result)
    except SpecError as exc:
        picked = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise SpecError(f"These values make an invalid training spec ({picked}): {exc}") from exc
    return result
