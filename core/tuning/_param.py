"""One setting a study varies: :class:`Param`, its validation, and drawing its value from an
Optuna trial."""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import TypedDict
from typing import cast

from core.errors import SpecError
from core.models import LAYERS
from core.tuning._paths import _LABELS
from core.tuning._paths import _check_path

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = ["KINDS", "Choice", "Param", "ParamDict"]

KINDS = ("float", "int", "categorical")

Choice = None | bool | int | float | str


class ParamDict(TypedDict):
    type: Literal["param"]
    path: str
    kind: str
    low: float | None
    high: float | None
    log: bool
    step: float | None
    choices: list[Choice]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
