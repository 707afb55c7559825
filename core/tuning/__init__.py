"""Tuning: search spaces over training settings, sampled by Optuna.

Modules by concern: ``_space`` (search spaces), with ``_param`` (one tuned setting), ``_paths``
(paths into a training spec, ``apply``) and ``_tunable`` (default ranges) · ``_studyspec`` (the
study spec) · ``_storage`` (Optuna storage, samplers, pruners) · ``_steering`` (studies in the
store, phases, hand-picked trials) · ``_handruns`` (hand runs joining a study, its next
suggestion launched from the Train form) · ``_pbt_spec``, ``_pbt``, ``_pbt_driver``
(population-based training: spec and pure steps, the store and people's actions, the ``pbt``
driver job) · ``_driver`` (the ``study`` driver job and the ``trial`` job).

Optuna is imported only where a distribution or a trial is needed; this package imports without it.
"""

from core.compute import register_job_kind as _register_job_kind
from core.tuning._driver import TrialCount
from core.tuning._driver import count_trials
from core.tuning._handruns import HandRun
from core.tuning._handruns import Suggestion
from core.tuning._handruns import add_hand_runs
from core.tuning._handruns import claim_suggestion
from core.tuning._handruns import hand_run_candidates
from core.tuning._handruns import suggest_next
from core.tuning._handruns import suggestion_run
from core.tuning._handruns import sync_hand_runs
from core.tuning._param import KINDS
from core.tuning._param import Choice
from core.tuning._param import Param
from core.tuning._param import ParamDict
from core.tuning._paths import TOP_LEVEL
from core.tuning._paths import apply
from core.tuning._pbt import PBT_ACTIONS
from core.tuning._pbt import PBTEvent
from core.tuning._pbt import PBTSegment
from core.tuning._pbt import Population
from core.tuning._pbt import get_population
from core.tuning._pbt import is_pbt
from core.tuning._pbt import parse_pbt
from core.tuning._pbt import pbt_action
from core.tuning._pbt import population_curves
from core.tuning._pbt import start_pbt
from core.tuning._pbt_spec import EXPLORES
from core.tuning._pbt_spec import PBTSpec
from core.tuning._space import SearchSpace
from core.tuning._space import SearchSpaceDict
from core.tuning._steering import create_study
from core.tuning._steering import current_space
from core.tuning._steering import driver_run
from core.tuning._steering import enqueue_trial
from core.tuning._steering import get_study
from core.tuning._steering import new_phase
from core.tuning._steering import parse_study
from core.tuning._steering import start_study
from core.tuning._steering import study_base
from core.tuning._steering import study_runs
from core.tuning._steering import study_trials
from core.tuning._storage import load_optuna_study
from core.tuning._studyspec import METRICS
from core.tuning._studyspec import PRUNERS
from core.tuning._studyspec import SAMPLERS
from core.tuning._studyspec import Objective
from core.tuning._studyspec import StudySpec
from core.tuning._studyspec import objective_metrics
from core.tuning._tunable import tunable

__all__ = [
    "KINDS",
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "Objective",
    "StudySpec",
    "TrialCount",
    "count_trials",
    "HandRun",
    "Suggestion",
    "add_hand_runs",
    "claim_suggestion",
    "hand_run_candidates",
    "suggest_next",
    "suggestion_run",
    "sync_hand_runs",
    "create_study",
    "current_space",
    "driver_run",
    "enqueue_trial",
    "get_study",
    "load_optuna_study",
    "new_phase",
    "objective_metrics",
    "parse_study",
    "start_study",
    "study_base",
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
    "EXPLORES",
    "PBT_ACTIONS",
    "PBTEvent",
    "PBTSegment",
    "PBTSpec",
    "Population",
    "get_population",
    "is_pbt",
    "parse_pbt",
    "pbt_action",
    "population_curves",
    "start_pbt",
]

_register_job_kind("study", "core.tuning._driver:run_study", "core.tuning._studyspec:validate_study_spec")
# A population's driver: its members' segments are training runs (``core.tuning._pbt_driver``).
_register_job_kind("pbt", "core.tuning._pbt_driver:run_pbt", "core.tuning._pbt_spec:validate_pbt_spec")
# A trial is a training run (recorded so) whose epochs report to its study: tuning observes
# training through training's generic per-epoch hook, never the reverse.
_register_job_kind(
    "trial", "core.tuning._driver:run_trial", "core.training:validate_train_spec", recorded_as="train"
)
