"""Ingest: any supported source → Parquet under the data directory + a ``Dataset`` row.

Pages never parse data: they save the upload under a server-chosen name and submit an ``ingest``
job; the worker reads, validates, writes Parquet, profiles, and records the dataset. Identical
content read with identical options reuses the existing dataset.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import true

from core.data._csv import CsvOptions
from core.data._csv import csv_to_parquet
from core.data._readers import jsonl_to_parquet
from core.data._readers import npz_to_parquet
from core.data._readers import parquet_to_parquet
from core.data._readers import zip_to_parquet
from core.errors import DataError
from core.errors import SpecError
from core.errors import StoreError
from core.store import SYSTEM
from core.store import Dataset
from core.store import DatasetRecord
from core.store import Store
from core.store import Viewer
from core.store import audit
from core.store import check_quota
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import in_project
from core.store import new_id
from core.store import utcnow
from core.store import visible

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = [
    "FORMATS",
    "IngestSpec",
    "delete_dataset",
    "detect_format",
    "get_dataset",
    "ingest_file",
    "list_datasets",
    "read_upload",
    "rename_dataset",
    "resolve_server_path",
    "run_ingest",
    "save_upload",
    "set_dataset_team",
    "validate_ingest_spec",
]

# Format -> file suffixes. A name is only used to guess the format; it never becomes a path.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
    "npz": (".npz",),
    "images": (".zip",),
}
_NAME_MAX = 200


def detect_format(filename: str) -> str:
    """The format implied by a file name's suffix.

    Raises:
        DataError: The suffix is not one Loom reads; the message lists those it does.
    """
    suffix = Path(filename).suffix.lower()
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    valid = ", ".join(s for ss in FORMATS.values() for s in ss)
    raise DataError(f"Loom cannot read {suffix or 'files without a suffix'!r}. Supported: {valid}.")


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())[:_NAME_MAX]
    if not name:
        raise DataError("Please give the dataset a name.")
    return name


@dataclass(frozen=True)
class IngestSpec:
    """What an ``ingest`` job reads.

    Args:
        name: Display name of the dataset.
        fmt: One of :data:`FORMATS`.
        upload_id: An upload saved by :func:`save_upload` (32 hex digits). Exactly one of
            ``upload_id`` and ``server_path`` is set.
        server_path: A path relative to ``LOOM_IMPORT_ROOT``, checked by :func:`resolve_server_path`.
        delimiter: CSV delimiter, or None to detect. Defaults to None.
        encoding: CSV encoding, or None to detect. Defaults to None.
    """

    name: str
    fmt: str
    upload_id: str | None = None
    server_path: str | None = None
    delimiter: str | None = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise SpecError(f"Unknown format {self.fmt!r}. Valid formats are: {', '.join(FORMATS)}.")
        if (self.upload_id is None) == (self.server_path is None):
            raise SpecError("Set exactly one of `upload_id` and `server_path`.")
        CsvOptions(self.delimiter, self.encoding)  # validates

    def to_dict(self) -> dict[str, Any]:
        return {"type": "ingest", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestSpec:
        fields = {k: v for k, v in data.items() if k != "type"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SpecError(f"Invalid ingest spec: {exc}.") from exc


def validate_ingest_spec(data: dict[str, Any]) -> dict[str, Any]:
    return IngestSpec.from_dict(data).to_dict()


def save_upload(store: Store, stream: IO[bytes], filename: str, *, viewer: Viewer) -> str:
    """Copy an uploaded file under ``uploads/`` with a server-chosen name.

    Args:
        store: The store (its data directory receives the file).
        stream: The uploaded bytes.
        filename: The browser's file name, used only for its suffix.
        viewer: Who uploads; a visitor who is not signed in may not.

    Returns:
        The upload ID to put in an :class:`IngestSpec`.

    Raises:
        DataError: The suffix is not supported, or the disk is full.
        PermissionDeniedError: Not signed in.
        QuotaExceededError: The project's team uses all of its quota; nothing is written.
    """
    viewer.require_create()
    fmt = detect_format(filename)
    check_quota(store, viewer.project or None)  # before a byte is written
    upload_id = new_id()
    target = store.path_for("uploads", upload_id, FORMATS[fmt][0])
    try:
        with open(target, "wb") as fh:
            shutil.copyfileobj(stream, fh, 8 << 20)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise DataError(
            f"Could not save the upload: {exc.strerror}. Free disk space in the data directory."
        ) from exc
    return upload_id


def _upload_path(store: Store, upload_id: str, fmt: str) -> Path:
    path = store.path_for("uploads", upload_id, FORMATS[fmt][0])
    if not path.exists():
        raise DataError(
            f"Upload {upload_id} is gone (already ingested or cleaned up). Upload the file again."
        )
    return path


def read_upload(store: Store, upload_id: str, fmt: str, out: Path) -> None:
    """Read an upload into the Parquet file ``out`` with every check of an ingest (for rows to
    predict on); nothing is recorded in the store.

    Raises:
        DataError: The upload is gone or cannot be read (with the line and column).
    """
    _read(fmt, _upload_path(store, upload_id, fmt), out, CsvOptions(), None)


def resolve_server_path(root: Path | None, relative: str) -> Path:
    """A file under the configured import root, or an error. Never follows a path out of it.

    Raises:
        DataError: No root configured, an absolute path, ``..``, a symlink out, or no such file.
    """
    if root is None:
        raise DataError(
            "Registering server files is off. Set LOOM_IMPORT_ROOT to the folder that holds them "
            "and restart Loom."
        )
    if not relative or "\x00" in relative:
        raise DataError("Give a file path relative to the import root, e.g. 'sales/2026.csv'.")
    if os.path.isabs(relative) or "\\" in relative or relative.startswith("~"):
        raise DataError(f"Give a path relative to the import root {str(root)!r}, e.g. 'sales/2026.csv'.")
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise DataError(f"{relative!r} is outside the import root {str(base)!r}. Refusing it.")
    if not target.is_file():
        raise DataError(f"There is no file {relative!r} under the import root {str(base)!r}.")
    return target


def _read(fmt: str, source: Path, out: Path, options: CsvOptions, progress):  # type: ignore[no-untyped-def]
    if fmt == "csv":
        result = csv_to_parquet(source, out, options, progress)
        return result.sha256, result.schema, result.rows, result.used, result.profile
    import hashlib

    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    reader = {
        "parquet": parquet_to_parquet,
        "jsonl": jsonl_to_parquet,
        "npz": npz_to_parquet,
        "images": zip_to_parquet,
    }[fmt]
    if source.stat().st_size == 0:
        raise DataError("The file is empty (0 bytes).")
    schema, rows, used = reader(source, out, progress)
    return digest.hexdigest(), schema, rows, used, None


def _profile(parquet: Path, schema: Any, rows: int) -> dict[str, Any]:
    # A profile that fails leaves the dataset usable, with the reason named on the Data page.
    from core.data._profile import compute_profile
    from core.data._profile import failed_profile

    try:
        return compute_profile(parquet)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        return failed_profile(schema, rows, f"{type(exc).__name__}: {exc}")


def ingest_file(
    store: Store,
    source: Path,
    fmt: str,
    name: str,
    options: CsvOptions | None = None,
    progress: Callable[[float], None] | None = None,
    author: str = "",
    team: str = "",
    project_id: str | None = None,
) -> DatasetRecord:
    """Read ``source``, write Parquet and a profile, and record the dataset.

    Args:
        store: The store.
        source: The file to read (an upload or a checked server path).
        fmt: One of :data:`FORMATS`.
        name: Display name.
        options: CSV reading options. Defaults to detect everything.
        progress: Called with a fraction in [0, 1]. Defaults to None.
        author: Its owner. Defaults to "".
        team: The team that may see it; "" is private. Defaults to "".
        project_id: The project it goes into; None for its author's "Default". Defaults to None.

    Returns:
        The new dataset, or the same owner's existing one with the same content, read options
        and team (another user's copy is never returned: that would reveal it exists).

    Raises:
        DataError: The file cannot be read; nothing is stored.
    """
    name = _clean_name(name)
    options = options or CsvOptions()
    dataset_id = new_id()
    out = store.path_for("datasets", dataset_id, ".parquet")
    tmp = out.with_suffix(".parquet.tmp")
    try:
        sha, schema, rows, used, profile = _read(fmt, source, tmp, options, progress)
        with store.session(SYSTEM) as s:
            same = s.scalars(
                select(Dataset).where(
                    Dataset.content_hash == sha,
                    Dataset.source_format == fmt,
                    Dataset.author == author,
                    Dataset.team == team,
                    Dataset.project_id == project_id if project_id else true(),
                )
            ).all()
            for existing in same:
                if existing.read_options_json == used:
                    return DatasetRecord.from_row(existing)
        if profile is None:  # a CSV was profiled while it was read
            profile = _profile(tmp, schema, rows)
        if progress:
            progress(0.98)
        os.replace(tmp, out)  # the file appears whole or not at all
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
        raise DataError(
            f"Could not write the dataset: {exc.strerror}. Free disk space in the data directory."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    try:
        with store.session(SYSTEM) as s:
            dataset = Dataset(
                id=dataset_id,
                name=name,
                content_hash=sha,
                n_rows=rows,
                n_cols=len(schema),
                size_bytes=out.stat().st_size,
                source_format=fmt,
                schema_json={"fields": [{"name": f.name, "type": str(f.type)} for f in schema]},
                read_options_json=used,
                profile_json=profile,
                author=author[:100],
                team=team[:100],
                project_id=project_id,
            )
            s.add(dataset)
    except StoreError:
        out.unlink(missing_ok=True)
        raise
    return DatasetRecord.from_row(dataset)


def run_ingest(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``ingest`` job body (on a worker)."""
    spec = IngestSpec.from_dict(data)
    store = ctx.store
    if spec.upload_id is not None:
        source = _upload_path(store, spec.upload_id, spec.fmt)
    else:
        source = resolve_server_path(store.config.import_root, spec.server_path or "")
    author, team = ctx.owner()
    dataset = ingest_file(
        store,
        source,
        spec.fmt,
        spec.name,
        CsvOptions(spec.delimiter, spec.encoding),
        ctx.set_progress,
        author=author,
        team=team,
        project_id=ctx.project(),
    )
    ctx.set_progress(1.0)
    if spec.upload_id is not None:
        source.unlink(missing_ok=True)
    return {"dataset_id": dataset.id, "name": dataset.name, "rows": dataset.n_rows}


# --- catalogue -----------------------------------------------------------------------------


def list_datasets(store: Store, *, viewer: Viewer) -> list[DatasetRecord]:
    """The datasets ``viewer`` may see, newest first."""
    query = (
        select(Dataset)
        .where(visible(Dataset, viewer), in_project(Dataset, viewer))
        .order_by(Dataset.created_at.desc())
    )
    with store.session(viewer) as s:
        return [DatasetRecord.from_row(d) for d in s.scalars(query)]


def get_dataset(store: Store, dataset_id: str, *, viewer: Viewer) -> DatasetRecord:
    """The dataset, if ``viewer`` may see it.

    Raises:
        NotFoundError: Missing or not visible (the same answer).
    """
    with store.session(viewer) as s:
        return DatasetRecord.from_row(fetch_visible(s, Dataset, dataset_id, viewer))


def rename_dataset(store: Store, dataset_id: str, name: str, *, viewer: Viewer) -> DatasetRecord:
    """Rename; only its owner may."""
    name = _clean_name(name)
    with store.session(viewer) as s:
        dataset = fetch_owned(s, Dataset, dataset_id, viewer, "rename")
        dataset.name = name
        return DatasetRecord.from_row(dataset)


def set_dataset_team(store: Store, dataset_id: str, team: str, *, viewer: Viewer) -> None:
    """Make a dataset private ("") or visible to one of the owner's teams."""
    viewer.require_create(team)
    with store.session(viewer) as s:
        fetch_owned(s, Dataset, dataset_id, viewer, "change who sees").team = team
        audit(s, viewer.name, "dataset.visibility", "dataset", dataset_id, {"team": team})


def delete_dataset(store: Store, dataset_id: str, *, viewer: Viewer) -> None:
    """Delete a dataset to the trash (core.ops); whoever may change it may. It is purged with its
    file after LOOM_TRASH_DAYS unless a kept run still uses it (the purge names the runs).

    Raises:
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own.
    """
    with store.session(viewer) as s:
        dataset = fetch_owned(s, Dataset, dataset_id, viewer, "delete")
        dataset.deleted_at, dataset.deleted_by = utcnow(), viewer.name or "system"
        audit(s, viewer.name, "dataset.delete", "dataset", dataset.id, {"name": dataset.name})
