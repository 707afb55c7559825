"""Data: readers, validation, ingest into Parquet, profiles and the dataset catalogue."""

from core.compute import register_job_kind as _register_job_kind
from core.data._csv import DELIMITERS
from core.data._csv import ENCODINGS
from core.data._csv import CsvOptions
from core.data._ingest import FORMATS
from core.data._ingest import IngestSpec
from core.data._ingest import delete_dataset
from core.data._ingest import detect_format
from core.data._ingest import get_dataset
from core.data._ingest import ingest_file
from core.data._ingest import list_datasets
from core.data._ingest import read_upload
from core.data._ingest import rename_dataset
from core.data._ingest import resolve_server_path
from core.data._ingest import save_upload
from core.data._ingest import set_dataset_team
from core.data._profile import compute_profile
from core.data._target import TargetSummary
from core.data._target import default_target
from core.data._target import summarize_target

__all__ = [
    "DELIMITERS",
    "ENCODINGS",
    "FORMATS",
    "CsvOptions",
    "IngestSpec",
    "TargetSummary",
    "compute_profile",
    "default_target",
    "delete_dataset",
    "detect_format",
    "get_dataset",
    "ingest_file",
    "list_datasets",
    "read_upload",
    "rename_dataset",
    "resolve_server_path",
    "save_upload",
    "set_dataset_team",
    "summarize_target",
]

_register_job_kind("ingest", "core.data._ingest:run_ingest", "core.data._ingest:validate_ingest_spec")
