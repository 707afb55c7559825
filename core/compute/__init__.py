"""Compute: the Dask client, jobs, their lifecycle and the reaper."""

from core.compute._client import ClusterInfo
from core.compute._client import WorkerInfo
from core.compute._client import address_warning
from core.compute._client import create_client
from core.compute._client import get_cluster_info
from core.compute._context import JobContext
from core.compute._controls import ControlRequest
from core.compute._controls import control_log
from core.compute._controls import pair_controls
from core.compute._external import EXTERNAL_KIND
from core.compute._external import finish_external
from core.compute._external import start_external
from core.compute._gpu import detect_gpus
from core.compute._gpu import worker_gpu_stats
from core.compute._jobs import CONTROLS
from core.compute._jobs import JOB_KINDS
from core.compute._jobs import JobKind
from core.compute._jobs import SubmitOptions
from core.compute._jobs import execute_run
from core.compute._jobs import register_job_kind
from core.compute._jobs import request_control
from core.compute._jobs import stop_run
from core.compute._jobs import submit_run
from core.compute._lifecycle import TERMINAL
from core.compute._lifecycle import RunStatus
from core.compute._reaper import Reaper
from core.compute._reaper import reap
from core.compute._settings import PROFILER_OFF
from core.compute._smoke import SmokeSpec
from core.compute._transition import run_key
from core.compute._transition import transition

__all__ = [
    "CONTROLS",
    "EXTERNAL_KIND",
    "JOB_KINDS",
    "JobKind",
    "PROFILER_OFF",
    "TERMINAL",
    "ClusterInfo",
    "ControlRequest",
    "JobContext",
    "Reaper",
    "RunStatus",
    "SmokeSpec",
    "SubmitOptions",
    "WorkerInfo",
    "address_warning",
    "control_log",
    "create_client",
    "detect_gpus",
    "execute_run",
    "finish_external",
    "get_cluster_info",
    "pair_controls",
    "reap",
    "register_job_kind",
    "request_control",
    "run_key",
    "start_external",
    "stop_run",
    "submit_run",
    "transition",
    "worker_gpu_stats",
]
