"""Training runs: a ``train`` job that applies the pipeline, builds the Keras model and streams
per-batch and per-epoch metrics into the store while it trains; bundles and the ``predict`` job.
TensorFlow is imported inside the jobs, on the worker; this package imports without it.

Modules by concern: ``_spec`` (the training spec) · ``_data`` (data preparation) · ``_callback``
(the live callback and controls) · ``_loop`` (the job) · ``_backends``, ``_backend_pool`` and
``_backend_child`` (JAX and PyTorch runs in warm processes of their own; which backends the
workers have) · ``_checkpoints`` (the resume checkpoint; per-epoch ones kept by a rule) · ``_branch``
(branch from an epoch) · ``_distributed`` and ``_dp_child`` (data-parallel runs) ·
``_bundle`` (bundles) · ``_predict`` (the predict job) · ``_evaluate`` (the evaluate job: a run
scored on another dataset).
"""

from core.compute import register_job_kind as _register_job_kind
from core.training._backends import BACKEND_INSTALL
from core.training._backends import BACKENDS
from core.training._backends import available_backends
from core.training._backends import check_backend
from core.training._backends import process_backend
from core.training._backends import run_in_backend_process
from core.training._baselines import BASELINE_KINDS
from core.training._baselines import BASELINE_TAG
from core.training._baselines import baseline_specs
from core.training._baselines import baselines_for_run
from core.training._baselines import launch_baselines
from core.training._branch import BRANCH_CHANGES
from core.training._branch import BranchNode
from core.training._branch import branch_history
from core.training._branch import branch_lineage
from core.training._branch import branch_run
from core.training._branch import branch_spec
from core.training._bundle import Bundle
from core.training._bundle import export_bundle
from core.training._bundle import read_bundle
from core.training._bundle import save_bundle
from core.training._callback import live_callback
from core.training._checkpoints import CheckpointRule
from core.training._checkpoints import EpochCheckpoint
from core.training._checkpoints import checkpoint_bytes
from core.training._checkpoints import epoch_checkpoints
from core.training._checkpoints import last_checkpoint
from core.training._classic import estimator_branch_refusal
from core.training._data import check_validation_data
from core.training._data import feature_columns
from core.training._data import features_array
from core.training._data import probe_input
from core.training._data import scale_warning
from core.training._data import validation_differences
from core.training._evaluate import EvaluateSpec
from core.training._evaluate import EvaluationRecord
from core.training._evaluate import check_evaluation_data
from core.training._evaluate import list_evaluations
from core.training._groups import MAX_SEEDS
from core.training._groups import SeedGroup
from core.training._groups import repeat_run_with_seeds
from core.training._groups import repeat_with_seeds
from core.training._loop import EpochHook
from core.training._loop import run_training
from core.training._predict import PredictSpec
from core.training._predict import load_model
from core.training._spec import TrainingRun
from core.training._spec import TrainSpec
from core.training._spec import default_pipeline
from core.training._spec import describe_split
from core.training._spec import own_split_column
from core.training._spec import placement
from core.training._spec import read_training_run
from core.training._spec import resume_spec
from core.training._spec import validate_train_spec
from core.training._warm import WARM_UP

__all__ = [
    "BACKENDS",
    "BACKEND_INSTALL",
    "BASELINE_KINDS",
    "BASELINE_TAG",
    "BRANCH_CHANGES",
    "MAX_SEEDS",
    "WARM_UP",
    "BranchNode",
    "Bundle",
    "CheckpointRule",
    "EpochCheckpoint",
    "EpochHook",
    "EvaluateSpec",
    "EvaluationRecord",
    "PredictSpec",
    "SeedGroup",
    "TrainSpec",
    "TrainingRun",
    "available_backends",
    "check_backend",
    "check_evaluation_data",
    "check_validation_data",
    "baseline_specs",
    "baselines_for_run",
    "branch_history",
    "branch_lineage",
    "branch_run",
    "branch_spec",
    "checkpoint_bytes",
    "default_pipeline",
    "describe_split",
    "own_split_column",
    "epoch_checkpoints",
    "estimator_branch_refusal",
    "export_bundle",
    "feature_columns",
    "features_array",
    "last_checkpoint",
    "launch_baselines",
    "list_evaluations",
    "live_callback",
    "load_model",
    "placement",
    "probe_input",
    "process_backend",
    "read_training_run",
    "repeat_run_with_seeds",
    "repeat_with_seeds",
    "resume_spec",
    "scale_warning",
    "read_bundle",
    "run_in_backend_process",
    "run_training",
    "save_bundle",
    "validate_train_spec",
    "validation_differences",
]

_register_job_kind("train", "core.training._loop:run_training", "core.training._spec:validate_train_spec")
_register_job_kind(
    "predict", "core.training._predict:run_predict", "core.training._predict:validate_predict_spec"
)
_register_job_kind(
    "evaluate", "core.training._evaluate:run_evaluate", "core.training._evaluate:validate_evaluate_spec"
)
