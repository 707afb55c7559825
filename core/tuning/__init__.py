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
from core.tuning._study import METRICS
from core.tuning._study import PRUNERS
from core.tuning._study import SAMPLERS
from core.tuning._study import Objective
from core.tuning._study import StudySpec
from core.tuning._study import create_study
from core.tuning._study import current_space
from core.tuning._study import driver_run
from core.tuning._study import enqueue_trial
from core.tuning._study import get_study
from core.tuning._study import load_optuna_study
from core.tuning._study import new_phase
from core.tuning._study import start_study
from core.tuning._study import study_runs
from core.tuning._study import study_trials

__all__ = [
    "KINDS",
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "Objective",
    "StudySpec",
    "create_study",
    "current_space",
    "driver_run",
    "enqueue_trial",
    "get_study",
    "load_optuna_study",
    "new_phase",
    "start_study",
    "study_runs",
    "study_trials",
    "TOP_LEVEL",
    "Choice",
    "Param",
    "ParamDict",
    "SearchSpace",
    "SearchSpaceDict",
    "apply",
    "tunable",
]
