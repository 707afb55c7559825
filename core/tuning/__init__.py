"""Tuning: search spaces over training settings, sampled by Optuna.

Optuna is imported only where a distribution or a trial is needed; this package imports without it.
"""

from core.tuning._space import KINDS
from core.tuning._space import TOP_LEVEL
from core.tuning._space import Choice
from core.tuning._space import Param
from core.tuning._space import ParamDict
from core.tuning._space import SearchSpace
from core.tuning._space import SearchSpaceDict
from core.tuning._space import apply
from core.tuning._space import tunable

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
