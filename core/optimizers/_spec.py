"""Optimizer specs: a registry over ``keras.optimizers`` with learning-rate schedules and
gradient clipping. Specs are validated without TensorFlow; :func:`build_keras_optimizer` runs on
workers.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError

__all__ = ["OPTIMIZERS", "SCHEDULES", "OptimizerSpec", "build_keras_optimizer"]

# Name -> (Keras class, fixed keyword arguments).
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"nesterov": False}),
    "nesterov": ("SGD", {"nesterov": True}),
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("Nadam", {}),
}
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and how its learning rate moves.

    Args:
        name: A key of :data:`OPTIMIZERS`. Defaults to "adam".
        learning_rate: Initial rate, > 0. Defaults to 1e-3.
        momentum: For momentum/nesterov (and RMSprop). Defaults to 0.9.
        weight_decay: For AdamW. Defaults to 1e-4.
        schedule: One of :data:`SCHEDULES`. Defaults to "constant".
        decay_steps: Steps per decay (step, exponential) or total steps (cosine). Defaults to 1000.
        decay_rate: Factor per ``decay_steps`` (step, exponential). Defaults to 0.5.
        warmup_steps: Linear warm-up length (warmup_cosine). Defaults to 100.
        clipnorm: Clip each gradient's norm to this, or None. Defaults to None.
    """

    name: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "constant"
    decay_steps: int = 1000
    decay_rate: float = 0.5
    warmup_steps: int = 100
    clipnorm: float | None = None

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise SpecError(
                f"Unknown optimizer {self.name!r}. Valid optimizers are: {', '.join(OPTIMIZERS)}."
            )
        if not (
            isinstance(self.learning_rate, int | float)
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise SpecError(f"`learning_rate > 0` must hold, but got learning_rate={self.learning_rate!r}.")
        if not 0 <= self.momentum < 1:
            raise SpecError(f"`0 <= momentum < 1` must hold, but got momentum={self.momentum!r}.")
        if self.schedule not in SCHEDULES:
            raise SpecError(
                f"Unknown schedule {self.schedule!r}. Valid schedules are: {', '.join(SCHEDULES)}."
            )
        if self.decay_steps < 1 or self.warmup_steps < 0:
            raise SpecError(
                f"`decay_steps >= 1` and `warmup_steps >= 0` must hold, but got "
                f"(decay_steps={self.decay_steps}, warmup_steps={self.warmup_steps})."
            )
        if not 0 < self.decay_rate <= 1:
            raise SpecError(f"`0 < decay_rate <= 1` must hold, but got decay_rate={self.decay_rate!r}.")
        if self.clipnorm is not None and not self.clipnorm > 0:
            raise SpecError(
                f"`clipnorm > 0` must hold (or leave it empty), but got clipnorm={self.clipnorm!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        return {"type": "optimizer", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerSpec:
        params = {k: v for k, v in data.items() if k != "type"}
        try:
            return cls(**params)
        except TypeError as exc:
            raise SpecError(f"Invalid optimizer spec: {exc}.") from None


def _schedule(spec: OptimizerSpec):  # type: ignore[no-untyped-def]
    import keras

    s = keras.optimizers.schedules
    lr = spec.learning_rate
    match spec.schedule:
        case "constant":
            return lr
        case "step":
            return s.ExponentialDecay(lr, spec.decay_steps, spec.decay_rate, staircase=True)
        case "exponential":
            return s.ExponentialDecay(lr, spec.decay_steps, spec.decay_rate)
        case "cosine":
            return s.CosineDecay(lr, spec.decay_steps)
        case _:  # warmup_cosine
            return s.CosineDecay(0.0, spec.decay_steps, warmup_target=lr, warmup_steps=spec.warmup_steps)


def build_keras_optimizer(spec: OptimizerSpec):  # type: ignore[no-untyped-def]
    """The Keras optimizer for ``spec`` (imports Keras: call on workers only)."""
    import keras

    class_name, fixed = OPTIMIZERS[spec.name]
    kwargs: dict[str, Any] = {"learning_rate": _schedule(spec), **fixed}
    if spec.name in ("momentum", "nesterov"):
        kwargs["momentum"] = spec.momentum
    if spec.name == "adamw":
        kwargs["weight_decay"] = spec.weight_decay
    if spec.clipnorm is not None:
        kwargs["clipnorm"] = spec.clipnorm
    return getattr(keras.optimizers, class_name)(**kwargs)
