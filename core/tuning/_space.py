"""Search spaces: which training settings a study varies, and over what ranges.

A :class:`SearchSpace` is data like every other spec: frozen, validated on construction and
round-tripped through JSON. Each :class:`Param` addresses one field of a training-spec dict by a
dotted path (``optimizer.learning_rate``, ``model.layers.0.units``). Optuna records a trial's
values under those same paths, so :func:`apply` turns any trial's params back into the exact
training spec it ran.

Why one module over 400 lines: search spaces are one concept seen three ways (the parameter
spec and its validation, the paths into a training spec with their labels, and drawing values
from an Optuna trial); each part needs the other two's rules, so they stay together.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import TypedDict
from typing import cast

from core.errors import SpecError
from core.models import ESTIMATORS
from core.models import LAYERS
from core.models import EstimatorSpec
from core.models import ModelSpec
from core.models import is_estimator
from core.optimizers import OPTIMIZERS
from core.optimizers import OptimizerSpec
from core.specs import spec_hash

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = [
    "KINDS",
    "TOP_LEVEL",
    "Choice",
    "Param",
    "ParamDict",
    "SearchSpace",
    "SearchSpaceDict",
    "apply",
    "tunable",
]

KINDS = ("float", "int", "categorical")
# The training settings outside the optimizer and the model that a study may vary. The seed is
# left out on purpose: tuning it only finds a lucky draw.
TOP_LEVEL = ("epochs", "batch_size", "early_stopping")

Choice = None | bool | int | float | str

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
# Optimizers that read `momentum` when Loom builds them (see core.optimizers.build_keras_optimizer).
_MOMENTUM = ("momentum", "nesterov")
_OPTIMIZER_CHOICES = ("adam", "adamw", "rmsprop", "sgd")
_LABELS = {
    "epochs": "epochs",
    "batch_size": "batch size",
    "early_stopping": "early-stopping patience",
    "optimizer.name": "optimizer",
    "optimizer.learning_rate": "learning rate",
    "optimizer.clipnorm": "gradient clip norm",
}


class ParamDict(TypedDict):
    type: Literal["param"]
    path: str
    kind: str
    low: float | None
    high: float | None
    log: bool
    step: float | None
    choices: list[Choice]


class SearchSpaceDict(TypedDict):
    type: Literal["search_space"]
    params: list[ParamDict]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _same(a: Any, b: Any) -> bool:
    # Optuna finds a choice by `==` (tuple.index), so 1, 1.0 and True are one choice to it.
    return bool(a == b) and (a is None) == (b is None)


def _on_grid(value: float, low: float, step: float) -> bool:
    # The same tolerance as Optuna's FloatDistribution._contains: typed or computed values like
    # 0.30000000000000004 still count as on the grid.
    k = (value - low) / step
    return abs(k - round(k)) < 1e-8


@dataclass(frozen=True)
class Param:
    """One training setting a study varies, and the values it may take.

    Args:
        path: The setting, as a dotted path into a training-spec dict: ``epochs``, ``batch_size``,
            ``early_stopping``, ``optimizer.<setting>`` (a field of
            :class:`~core.optimizers.OptimizerSpec`) or ``model.layers.<index>.<setting>``
            (index from 0). It is also the Optuna parameter name.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low: Smallest value (float and int). Defaults to None.
        high: Largest value, inclusive (float and int). Defaults to None.
        log: Sample on a log scale; needs ``low > 0`` and no ``step``. Defaults to False.
        step: Spacing of the values from ``low``; ``high - low`` must be a multiple of it.
            Defaults to None (continuous floats, every int).
        choices: The values a categorical setting may take: None, bool, int, float or str, no
            two equal. Defaults to ().

    Raises:
        SpecError: A rule above does not hold; the message names the rule, the values and the path.
    """

    path: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Choice, ...] = ()

    def __post_init__(self) -> None:
        _check_path(self.path)
        if self.kind not in KINDS:
            raise SpecError(
                f"Unknown kind {self.kind!r} for {self.path}. Valid kinds are: {', '.join(KINDS)}."
            )
        if not isinstance(self.choices, tuple | list):
            raise SpecError(f"`choices` must be a list, but got choices={self.choices!r} for {self.path}.")
        object.__setattr__(self, "choices", tuple(self.choices))  # JSON gives lists; equality needs one type
        if not isinstance(self.log, bool):
            raise SpecError(f"`log` must be true or false, but got log={self.log!r} for {self.path}.")
        if self.kind == "categorical":
            self._check_choices()
        else:
            self._check_range()

    def _check_range(self) -> None:
        path = self.path
        if self.choices:
            raise SpecError(
                f"A {self.kind} parameter takes `low` and `high`, not `choices`, but got "
                f"choices={list(self.choices)!r} for {path}."
            )
        if self.kind == "int":
            for name in ("low", "high"):
                if not _is_int(getattr(self, name)):
                    raise SpecError(
                        f"An int parameter needs integer bounds, but got {name}={getattr(self, name)!r} "
                        f"for {path}."
                    )
            if self.step is not None and not (_is_int(self.step) and self.step >= 1):
                raise SpecError(
                    f"An int parameter needs an integer `step >= 1`, but got step={self.step!r} for {path}."
                )
        else:
            for name in ("low", "high"):
                if not _is_number(getattr(self, name)):
                    raise SpecError(
                        f"A float parameter needs finite numbers for `low` and `high`, but got "
                        f"{name}={getattr(self, name)!r} for {path}."
                    )
                # 0 and 0.0 must give one spec, one JSON text and one hash.
                object.__setattr__(self, name, float(getattr(self, name)))
            if self.step is not None:
                if not (_is_number(self.step) and self.step > 0):
                    raise SpecError(f"`step > 0` must hold, but got step={self.step!r} for {path}.")
                object.__setattr__(self, "step", float(self.step))
        low, high = cast(float, self.low), cast(float, self.high)
        if low > high:
            raise SpecError(f"`low <= high` must hold, but got low={low}, high={high} for {path}.")
        if self.log and self.step is not None:
            raise SpecError(
                f"Pass `step` or `log=True`, not both (Optuna samples a log scale without steps), "
                f"but got step={self.step}, log=True for {path}."
            )
        if self.log and low <= 0:
            raise SpecError(f"log scale needs `low > 0`, but got low={low} for {path}.")
        if self.step is not None:
            # Decimal, as Optuna does: 0.3 - 0.1 is not a float multiple of 0.1.
            span = Decimal(str(high)) - Decimal(str(low))
            if span % Decimal(str(self.step)) != 0:
                raise SpecError(
                    f"`high - low` must be a multiple of `step`, but got low={low}, high={high}, "
                    f"step={self.step} for {path}."
                )

    def _check_choices(self) -> None:
        path = self.path
        if self.low is not None or self.high is not None or self.step is not None or self.log:
            raise SpecError(
                f"A categorical parameter takes `choices`, not low/high/step/log, but got low={self.low!r}, "
                f"high={self.high!r}, step={self.step!r}, log={self.log} for {path}."
            )
        choices = self.choices
        if not choices:
            raise SpecError(
                f"A categorical parameter needs at least one choice, but got choices=[] for {path}."
            )
        for i, choice in enumerate(choices):
            if choice is not None and not isinstance(choice, bool | int | float | str):
                raise SpecError(
                    f"Choices must be None, bool, int, float or str, but got {choice!r} "
                    f"({type(choice).__name__}) for {path}."
                )
            if isinstance(choice, float) and not math.isfinite(choice):
                raise SpecError(f"Choices must be finite numbers, but got {choice!r} for {path}.")
            for earlier in choices[:i]:
                if _same(earlier, choice):
                    raise SpecError(
                        f"Choices must differ, but got {earlier!r} and {choice!r} in "
                        f"choices={list(choices)!r} for {path}."
                    )

    @property
    def label(self) -> str:
        """A short name for people: "learning rate", "layer 1 (Dense) units" (layers count from 1)."""
        if self.path in _LABELS:
            return _LABELS[self.path]
        parts = self.path.split(".")
        if parts[0] == "optimizer":
            return parts[1].replace("_", " ")
        if parts[1] == "params":
            return parts[2].replace("_", " ")
        index, name = int(parts[2]), parts[3]
        owners = [cls.__name__ for cls in LAYERS.values() if name in {f.name for f in fields(cls)}]
        owner = f" ({owners[0]})" if len(owners) == 1 else ""
        return f"layer {index + 1}{owner} {name.replace('_', ' ')}"

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution this parameter samples from (imports Optuna)."""
        from optuna.distributions import CategoricalDistribution
        from optuna.distributions import FloatDistribution
        from optuna.distributions import IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            low, high = cast(int, self.low), cast(int, self.high)
            return IntDistribution(low, high, log=self.log, step=cast(int, self.step or 1))
        return FloatDistribution(cast(float, self.low), cast(float, self.high), log=self.log, step=self.step)

    def suggest(self, trial: BaseTrial) -> Any:
        """Draw this parameter's value for ``trial``, named by its path."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.path, self.choices)
        if self.kind == "int":
            low, high = cast(int, self.low), cast(int, self.high)
            return trial.suggest_int(self.path, low, high, step=cast(int, self.step or 1), log=self.log)
        low_f, high_f = cast(float, self.low), cast(float, self.high)
        return trial.suggest_float(self.path, low_f, high_f, step=self.step, log=self.log)

    def check(self, value: Any) -> Any:
        """``value`` if this parameter can take it, as its kind (whole floats become ints for int).

        Raises:
            SpecError: The value is not a choice, not a number, not whole (int), out of range or
                off the step grid.
        """
        path = self.path
        if self.kind == "categorical":
            for choice in self.choices:
                if _same(choice, value):
                    return choice
            raise SpecError(f"{path} must be one of {list(self.choices)!r}, but got {path}={value!r}.")
        if not _is_number(value):
            raise SpecError(f"{path} must be a number, but got {path}={value!r}.")
        if self.kind == "int":
            if value != int(value):
                raise SpecError(f"{path} must be a whole number, but got {path}={value!r}.")
            value = int(value)
        else:
            value = float(value)
        low, high = cast(float, self.low), cast(float, self.high)
        if not low <= value <= high:
            raise SpecError(f"`{low} <= {path} <= {high}` must hold, but got {path}={value!r}.")
        if self.step is not None and not _on_grid(value, low, self.step):
            raise SpecError(f"{path} moves in steps of {self.step} from {low}, but got {path}={value!r}.")
        return value

    def to_dict(self) -> ParamDict:
        return {
            "type": "param",
            "path": self.path,
            "kind": self.kind,
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            "choices": list(self.choices),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Param:
        if not isinstance(data, dict) or data.get("type", "param") != "param":
            raise SpecError(
                'A search parameter is a JSON object with "type": "param", "path" and "kind", '
                f"but got {data!r}."
            )
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid search parameter: {exc}.") from None


@dataclass(frozen=True)
class SearchSpace:
    """The settings a study tunes; stored with the study and hashed.

    Args:
        params: One :class:`Param` per setting, each path at most once.

    Raises:
        SpecError: The space is empty, a path appears twice, or an entry is not a Param.
    """

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.params, tuple | list) or not all(isinstance(p, Param) for p in self.params):
            raise SpecError(f"`params` must be a list of Param, but got params={self.params!r}.")
        object.__setattr__(self, "params", tuple(self.params))
        if not self.params:
            raise SpecError("The search space is empty: tick at least one setting to tune.")
        seen: set[str] = set()
        for param in self.params:
            if param.path in seen:
                raise SpecError(f"Each setting can be tuned once, but got {param.path} twice.")
            seen.add(param.path)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.params)

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    def param(self, path: str) -> Param:
        """The parameter for ``path``.

        Raises:
            SpecError: The space does not tune ``path``; the message lists what it tunes.
        """
        for param in self.params:
            if param.path == path:
                return param
        raise SpecError(f"{path} is not in the search space; it tunes: {', '.join(self.paths)}.")

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions by path, e.g. for ``optuna.trial.create_trial`` (imports Optuna)."""
        return {p.path: p.distribution() for p in self.params}

    def suggest(self, trial: BaseTrial) -> dict[str, Any]:
        """Draw every parameter for ``trial``; Optuna records each under its path.

        Returns:
            Values by path, ready for :func:`apply`.
        """
        return {p.path: p.suggest(trial) for p in self.params}

    def check(self, values: dict[str, Any]) -> dict[str, Any]:
        """Hand-picked values, e.g. for ``study.enqueue_trial``, checked against the space.

        Settings left out are drawn by the sampler as usual. Optuna itself only warns about an
        out-of-range enqueued value and then runs it, so check first.

        Args:
            values: Values by path, for some or all of the space's paths.

        Returns:
            The values, each as its parameter's kind (a whole float for an int becomes an int).

        Raises:
            SpecError: A path is not in the space, or a value is out of range, not a choice or not a
                whole number.
        """
        if not isinstance(values, dict):
            raise SpecError(f"Values are a mapping of path to value, but got {values!r}.")
        return {path: self.param(path).check(value) for path, value in values.items()}

    def narrowed(
        self,
        path: str,
        *,
        low: float | None = None,
        high: float | None = None,
        choices: list[Choice] | tuple[Choice, ...] | None = None,
    ) -> SearchSpace:
        """A new space where ``path`` takes a sub-range or a subset of its choices.

        Optuna refuses other choices for a categorical name already in a study, so a space with
        narrowed choices needs a new study; narrowed ranges can continue the same one.

        Args:
            path: The setting to narrow.
            low: The new lower bound. Defaults to None (keep it).
            high: The new upper bound. Defaults to None (keep it).
            choices: The choices to keep (categorical). Defaults to None (keep them).

        Returns:
            The new, validated space; this one is unchanged.

        Raises:
            SpecError: ``path`` is not in the space, the bounds leave the current range, the
                choices are not a subset, or bounds are given for choices (or the reverse).
        """
        old = self.param(path)
        if old.kind == "categorical":
            if low is not None or high is not None:
                raise SpecError(f"{path} is categorical: narrow it with `choices`, not `low`/`high`.")
            if choices is None:
                return self
            new = replace(old, choices=tuple(choices))
            extra = [c for c in new.choices if not any(_same(c, o) for o in old.choices)]
            if extra:
                raise SpecError(
                    f"Narrowing keeps to the current choices {list(old.choices)!r}, but got {extra!r} "
                    f"for {path}."
                )
        else:
            if choices is not None:
                raise SpecError(
                    f"{path} is a {old.kind} range: narrow it with `low` and `high`, not `choices`."
                )
            new = replace(old, low=old.low if low is None else low, high=old.high if high is None else high)
            if cast(float, new.low) < cast(float, old.low) or cast(float, new.high) > cast(float, old.high):
                raise SpecError(
                    f"Narrowing keeps within the current range: `{old.low} <= low <= high <= {old.high}` "
                    f"must hold, but got low={new.low}, high={new.high} for {path}."
                )
        return SearchSpace(tuple(new if p.path == path else p for p in self.params))

    def to_dict(self) -> SearchSpaceDict:
        return {"type": "search_space", "params": [p.to_dict() for p in self.params]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        if not isinstance(data, dict) or data.get("type") != "search_space":
            raise SpecError(
                f'A search space is a JSON object with "type": "search_space" and "params", but got {data!r}.'
            )
        params = data.get("params", [])
        if not isinstance(params, list):
            raise SpecError(f'"params" must be a list, but got params={params!r}.')
        return cls(tuple(Param.from_dict(p) for p in params))


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


def _int_range(path: str, current: int, low: int, high: int, log: bool = False) -> Param:
    return Param(path, "int", min(low, current), max(high, current), log=log)


def _estimator_tunable(model: EstimatorSpec) -> list[Param]:
    """A scikit-learn model's hyperparameters, each with a range around its value inside what
    the kind allows: whole numbers /4 to x4 (log), positive numbers x0.1 to x10 (log), the
    others 0 to 1, and every choice; a depth left empty (no limit) gets 2 to 32 (log)."""
    params = []
    for name, p in ESTIMATORS[model.kind][2].items():
        path, value = f"model.params.{name}", model.params[name]
        low = p.low if p.low is not None else -math.inf
        high = p.high if p.high is not None else math.inf
        if p.kind == "choice":
            params.append(Param(path, "categorical", choices=tuple(p.choices)))
        elif value is None:  # no limit (max_depth): search limits from shallow to deep
            params.append(Param(path, "int", 2, 32, log=True))
        elif p.kind == "int":
            lo, hi = max(int(low), value // 4, 1), min(int(high), value * 4)
            params.append(_int_range(path, value, lo, max(hi, lo + 1), log=True))
        elif value > 0:
            params.append(Param(path, "float", max(low, value / 10), min(high, value * 10), log=True))
        else:
            params.append(Param(path, "float", max(low, 0.0), min(high, 1.0)))
    return params


def tunable(train_spec: dict[str, Any]) -> list[Param]:
    """The settings of ``train_spec`` worth tuning, each with a default range around its value.

    The ranges always contain the current value. Learning rate: x0.1 to x10, log. Optimizer:
    adam, adamw, rmsprop, sgd and the current one. Momentum (momentum and nesterov only): 0.5 to
    0.99. Weight decay (adamw): x0.1 to x10, log. Batch size: /4 (at least 8) to x4, log. Epochs:
    /2 to x2. Dense units and Conv2D filters: /4 (at least 4) to x4, log. Dropout rate: 0 to 0.5.

    Args:
        train_spec: A training-spec dict.

    Returns:
        The candidate parameters, optimizer first, then batch size, epochs and layers in order.

    Raises:
        SpecError: ``train_spec`` is not a valid training spec.
    """
    from core.training import TrainSpec

    spec = TrainSpec.from_dict(train_spec)
    if is_estimator(spec.model):
        return _estimator_tunable(EstimatorSpec.from_dict(spec.model))
    opt = OptimizerSpec.from_dict(spec.optimizer)
    names = [n for n in _OPTIMIZER_CHOICES if n in OPTIMIZERS]
    if opt.name not in names:
        names.append(opt.name)
    lr = opt.learning_rate
    params = [
        Param("optimizer.learning_rate", "float", lr / 10, lr * 10, log=True),
        Param("optimizer.name", "categorical", choices=tuple(names)),
    ]
    if opt.name in _MOMENTUM:
        params.append(Param("optimizer.momentum", "float", min(0.5, opt.momentum), max(0.99, opt.momentum)))
    if opt.name == "adamw" and opt.weight_decay > 0:
        wd = opt.weight_decay
        params.append(Param("optimizer.weight_decay", "float", wd / 10, wd * 10, log=True))
    b, e = spec.batch_size, spec.epochs
    params.append(_int_range("batch_size", b, max(8, b // 4), b * 4, log=True))
    params.append(_int_range("epochs", e, max(1, e // 2), e * 2))
    for i, layer in enumerate(ModelSpec.from_dict(spec.model).layers):
        if layer.type == "dense":
            u = layer.units  # type: ignore[attr-defined]
            params.append(_int_range(f"model.layers.{i}.units", u, max(4, u // 4), u * 4, log=True))
        elif layer.type == "conv2d":
            f = layer.filters  # type: ignore[attr-defined]
            params.append(_int_range(f"model.layers.{i}.filters", f, max(4, f // 4), f * 4, log=True))
        elif layer.type == "dropout":
            rate = layer.rate  # type: ignore[attr-defined]
            params.append(Param(f"model.layers.{i}.rate", "float", 0.0, max(0.5, rate)))
    return params
