"""Pipelines: the spec (a graph of steps), the step registry, and the pandas and Dask engines."""

from core.pipeline._catalog import Draft
from core.pipeline._catalog import check_readable
from core.pipeline._catalog import create_draft
from core.pipeline._catalog import get_draft
from core.pipeline._catalog import list_drafts
from core.pipeline._catalog import list_pipeline_versions
from core.pipeline._catalog import list_versions
from core.pipeline._catalog import load_version
from core.pipeline._catalog import preview_pipeline
from core.pipeline._catalog import save_version
from core.pipeline._catalog import set_pipeline_team
from core.pipeline._catalog import update_draft
from core.pipeline._engines import PipelineResult
from core.pipeline._engines import StepReport
from core.pipeline._engines import apply_fitted
from core.pipeline._engines import run_dask
from core.pipeline._engines import run_pandas
from core.pipeline._spec import SOURCE
from core.pipeline._spec import Node
from core.pipeline._spec import NodeProblem
from core.pipeline._spec import PipelineSpec
from core.pipeline._spec import diff_specs
from core.pipeline._spec import to_dot
from core.pipeline._spec import to_mermaid
from core.pipeline._steps import REGISTRY
from core.pipeline._steps import ROW_COLUMN
from core.pipeline._steps import SPLIT_COLUMN
from core.pipeline._steps import SPLIT_LABELS
from core.pipeline._steps import SPLIT_METHODS
from core.pipeline._steps import BaseStep
from core.pipeline._steps import default_step
from core.pipeline._steps import get_step

__all__ = [
    "REGISTRY",
    "ROW_COLUMN",
    "SOURCE",
    "SPLIT_COLUMN",
    "SPLIT_LABELS",
    "SPLIT_METHODS",
    "BaseStep",
    "Draft",
    "Node",
    "NodeProblem",
    "PipelineResult",
    "PipelineSpec",
    "StepReport",
    "apply_fitted",
    "check_readable",
    "create_draft",
    "diff_specs",
    "get_draft",
    "default_step",
    "get_step",
    "list_drafts",
    "list_pipeline_versions",
    "list_versions",
    "load_version",
    "preview_pipeline",
    "run_dask",
    "run_pandas",
    "save_version",
    "set_pipeline_team",
    "to_dot",
    "to_mermaid",
    "update_draft",
]
