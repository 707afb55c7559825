"""The Optimizer Lab: Keras's update rules in NumPy, walked over 2-D test surfaces.

Each rule mirrors ``keras.optimizers.<Name>.update_step`` (Keras 3.15) with Keras's defaults;
``tests/core/test_optimizer_lab.py`` checks every rule against Keras itself on the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import SpecError
from core.optimizers._spec import OPTIMIZERS

__all__ = ["SURFACES", "Path", "Surface", "walk"]

Vec = np.ndarray


@dataclass(frozen=True)
class Surface:
    title: str
    f: Callable[[float, float], float]
    grad: Callable[[float, float], tuple[float, float]]
    start: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]


SURFACES: dict[str, Surface] = {
    "bowl": Surface(
        "Quadratic bowl",
        lambda x, y: x * x + y * y,
        lambda x, y: (2 * x, 2 * y),
        (-1.5, 1.2),
        (-2, 2),
        (-2, 2),
    ),
    "valley": Surface(
        "Ill-conditioned valley",
        lambda x, y: 0.5 * (x * x + 25 * y * y),
        lambda x, y: (x, 25 * y),
        (-1.8, 0.6),
        (-2, 2),
        (-1, 1),
    ),
    "rosenbrock": Surface(
        "Rosenbrock",
        lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
        lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
        (-1.2, 1.0),
        (-2, 2),
        (-1, 3),
    ),
    "saddle": Surface(
        "Saddle", lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y), (-1.5, 0.01), (-2, 2), (-2, 2)
    ),
}


class _Rule:
    """One optimizer's state and update, for one 2-D variable."""

    def __init__(self, name: str, lr: float, momentum: float, weight_decay: float) -> None:
        # Keras keeps the learning rate in a float32 variable: round it the same way.
        self.name, self.lr, self.mom, self.wd = name, float(np.float32(lr)), momentum, weight_decay
        self.t = 0
        self.a = np.zeros(2)
        self.b = np.zeros(2)
        self.u_product = 1.0
        if name == "adagrad":
            self.a = np.full(2, 0.1)  # Keras: initial_accumulator_value=0.1

    def step(self, w: Vec, g: Vec) -> Vec:
        n, lr, eps = self.name, self.lr, 1e-7
        self.t += 1
        if n == "sgd":
            return w - lr * g
        if n in ("momentum", "nesterov"):
            self.a = self.mom * self.a - lr * g
            return w + (self.mom * self.a - lr * g if n == "nesterov" else self.a)
        if n == "adagrad":
            self.a = self.a + g * g
            return w - lr * g / np.sqrt(self.a + eps)
        if n == "rmsprop":
            self.a = 0.9 * self.a + 0.1 * g * g
            return w - lr * g / np.sqrt(self.a + eps)
        b1, b2 = 0.9, 0.999
        if n in ("adam", "adamw"):
            if n == "adamw":
                w = w - w * self.wd * lr
            alpha = lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
            self.a = self.a + (g - self.a) * (1 - b1)
            self.b = self.b + (g * g - self.b) * (1 - b2)
            return w - self.a * alpha / (np.sqrt(self.b) + eps)
        # nadam
        u_t = b1 * (1 - 0.5 * 0.96**self.t)
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (self.t + 1))
        self.u_product *= u_t
        self.a = self.a + (g - self.a) * (1 - b1)
        self.b = self.b + (g * g - self.b) * (1 - b2)
        m_hat = u_t1 * self.a / (1 - self.u_product * u_t1) + (1 - u_t) * g / (1 - self.u_product)
        v_hat = self.b / (1 - b2**self.t)
        return w - m_hat * lr / (np.sqrt(v_hat) + eps)


@dataclass(frozen=True)
class Path:
    optimizer: str
    xs: list[float]
    ys: list[float]
    losses: list[float]
    diverged_at: int | None


def walk(
    surface: str,
    optimizers: list[str],
    learning_rate: float,
    momentum: float = 0.9,
    steps: int = 100,
    start: tuple[float, float] | None = None,
    weight_decay: float = 0.004,
) -> list[Path]:
    """Trajectories of ``optimizers`` from ``start`` over ``surface``.

    Raises:
        SpecError: Unknown surface or optimizer, 2-4 optimizers not chosen, bad settings.
    """
    if surface not in SURFACES:
        raise SpecError(f"Unknown surface {surface!r}. Valid surfaces are: {', '.join(SURFACES)}.")
    unknown = [o for o in optimizers if o not in OPTIMIZERS]
    if unknown:
        raise SpecError(f"Unknown optimizer(s) {unknown}. Valid optimizers are: {', '.join(OPTIMIZERS)}.")
    if not 1 <= len(optimizers) <= 4:
        raise SpecError(f"Pick 1 to 4 optimizers to compare, but got {len(optimizers)}.")
    if not (learning_rate > 0 and 0 <= momentum < 1 and 1 <= steps <= 2000):
        raise SpecError(
            "`learning_rate > 0`, `0 <= momentum < 1` and `1 <= steps <= 2000` must hold, but got "
            f"(learning_rate={learning_rate}, momentum={momentum}, steps={steps})."
        )
    s = SURFACES[surface]
    out = []
    for name in optimizers:
        rule = _Rule(name, learning_rate, momentum, weight_decay)
        w = np.array(start or s.start, dtype=float)
        xs, ys, losses, diverged = [w[0]], [w[1]], [s.f(*w)], None
        for i in range(steps):
            w = rule.step(w, np.array(s.grad(*w)))
            if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e6:
                diverged = i + 1
                break
            xs.append(float(w[0]))
            ys.append(float(w[1]))
            losses.append(float(s.f(*w)))
        out.append(Path(name, xs, ys, losses, diverged))
    return out


def keras_walk(surface: str, optimizer: str, learning_rate: float, momentum: float, steps: int) -> Any:
    """The same walk with the real Keras optimizer (for tests; imports Keras)."""
    import keras

    from core.optimizers import OptimizerSpec
    from core.optimizers import build_keras_optimizer

    s = SURFACES[surface]
    var = keras.Variable(np.array(s.start, dtype="float64"), dtype="float64")
    opt = build_keras_optimizer(
        OptimizerSpec(optimizer, learning_rate, momentum=momentum, weight_decay=0.004)
    )
    points = [np.array(s.start)]
    for _ in range(steps):
        w = np.asarray(var.numpy())
        opt.apply([np.array(s.grad(*w), dtype="float64")], [var])
        points.append(np.asarray(var.numpy()))
    return np.array(points)
