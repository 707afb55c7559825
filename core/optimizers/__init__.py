"""Optimizers: specs turned into Keras optimizers, and the Optimizer Lab's 2-D walks."""

from core.optimizers._lab import SURFACES
from core.optimizers._lab import Path
from core.optimizers._lab import Surface
from core.optimizers._lab import walk
from core.optimizers._spec import OPTIMIZERS
from core.optimizers._spec import SCHEDULES
from core.optimizers._spec import OptimizerSpec
from core.optimizers._spec import build_keras_optimizer

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SURFACES",
    "OptimizerSpec",
    "Path",
    "Surface",
    "build_keras_optimizer",
    "walk",
]
