"""Pipelines: the spec (a graph of steps), the step registry, and the pandas and Dask engines."""

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
from core.pipeline._steps import BaseStep
from core.pipeline._steps import get_step

__all__ = [
    "REGISTRY",
    "ROW_COLUMN",
    "SOURCE",
    "SPLIT_COLUMN",
    "BaseStep",
    "Node",
    "NodeProblem",
    "PipelineResult",
    "PipelineSpec",
    "StepReport",
    "apply_fitted",
    "diff_specs",
    "get_step",
    "run_dask",
    "run_pandas",
    "to_dot",
    "to_mermaid",
]
