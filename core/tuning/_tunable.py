"""The settings of a training spec worth tuning, each with a default range around its value."""

from __future__ import annotations

import math
from typing import Any

from core.models import ESTIMATORS
from core.models import EstimatorSpec
from core.models import ModelSpec
from core.models import is_estimator
from core.optimizers import OPTIMIZERS
from core.optimizers import OptimizerSpec
from core.tuning._param import Param

__all__ = ["tunable"]

# Optimizers that read `momentum` when Loom builds them (see core.optimizers.build_keras_optimizer).
_MOMENTUM = ("momentum", "nesterov")
_OPTIMIZER_CHOICES = ("adam", "adamw", "rmsprop", "sgd")


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
