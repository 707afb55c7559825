"""``gc``: remove files under the data directory that no row needs any more.

A file is Loom's when it sits in one of Loom's folders and is named by a row's ID. It goes when:

- ``datasets/<id>.parquet``: no dataset has that ID;
- ``models/``, ``checkpoints/``, ``predictions/`` ``<run id>.*``: no run has that ID; and, only
  when asked (``checkpoint_days``), a checkpoint of a run that ended that many days ago (its
  trained model stays; only "Resume from epoch N" goes), unless a run branched from it (its
  branches' shared history) or a live run resumes from it;
- ``bundles/<id>.zip`` (an uploaded model): no predict run names it, and it is older than
  ``upload_days``;
- ``uploads/<id>.*``: no queued or running ingest names it, and it is older than ``upload_days``;
- ``tmp/`` and ``*.tmp`` files: older than ``upload_days`` and not of a queued or running run.

Whatever its kind, a file modified in the last ``min_age_s`` seconds stays (its row may be
being written this moment), and so does every file a row references.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.errors import SpecError
from core.ops._files import PayloadFile
from core.ops._files import payload_files

__all__ = ["GcItem", "GcResult", "References", "collect_garbage", "references"]

RUN_FOLDERS = ("models", "checkpoints", "predictions")
_DAY = 86_400.0


@dataclass(frozen=True)
class GcItem:
    """One file gc removes (or would): its path relative to the data directory, folder, size
    and why."""

    relative: str
    kind: str
    size: int
    reason: str


@dataclass(frozen=True)
class GcResult:
    """What gc removed (``dry_run``: would remove), file by file and per folder."""

    dry_run: bool
    items: tuple[GcItem, ...]

    @property
    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Folder → (files, bytes)."""
        out: dict[str, tuple[int, int]] = {}
        for item in self.items:
            n, b = out.get(item.kind, (0, 0))
            out[item.kind] = (n + 1, b + item.size)
        return dict(sorted(out.items()))

    @property
    def freed_bytes(self) -> int:
        return sum(item.size for item in self.items)


@dataclass
class References:
    """What the store's rows point at: dataset IDs, runs (owner and state), which bundles and
    uploads runs name."""

    datasets: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    runs: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    active_runs: set[str] = field(default_factory=set)
    ended_at: dict[str, datetime] = field(default_factory=dict)
    bundles: dict[str, str] = field(default_factory=dict)  # bundle ID → a predict run naming it
    active_uploads: set[str] = field(default_factory=set)
    resumed: set[str] = field(default_factory=set)  # runs whose checkpoint a live run resumes from
    branched: set[str] = field(default_factory=set)  # runs a kept or trashed run branched from


def references(engine: Any) -> References:
    """Read what the rows reference, with SQLAlchemy Core (no viewer: an operator's view)."""
    from sqlalchemy import or_
    from sqlalchemy import select

    from core.compute import TERMINAL
    from core.store import Dataset
    from core.store import Run

    terminal = {str(s.value) for s in TERMINAL}
    refs = References()
    with engine.connect() as conn:
        for row in conn.execute(select(Dataset.id, Dataset.author, Dataset.team, Dataset.project_id)):
            refs.datasets[row.id] = (row.author, row.team, row.project_id)
        query = select(Run.id, Run.author, Run.team, Run.project_id, Run.status, Run.ended_at, Run.kind)
        for row in conn.execute(query):
            refs.runs[row.id] = (row.author, row.team, row.project_id)
            if row.status not in terminal:
                refs.active_runs.add(row.id)
            elif row.ended_at is not None:
                ended = row.ended_at if row.ended_at.tzinfo else row.ended_at.replace(tzinfo=UTC)
                refs.ended_at[row.id] = ended
        parents = select(Run.parent_id).where(Run.parent_kind == "branched", Run.parent_id.is_not(None))
        refs.branched.update(str(p) for p in conn.execute(parents).scalars())
        naming = select(Run.id, Run.status, Run.kind, Run.spec_json).where(
            or_(Run.kind.in_(("predict", "ingest")), Run.status.not_in(terminal))
        )
        for row in conn.execute(naming):
            spec = row.spec_json if isinstance(row.spec_json, dict) else {}
            if row.kind == "predict" and isinstance(spec.get("bundle"), str):
                refs.bundles.setdefault(spec["bundle"], row.id)
            if row.status not in terminal:  # an ingest's file, a prediction's rows: still to be read
                refs.active_uploads.update(
                    spec[k] for k in ("upload_id", "rows_upload") if isinstance(spec.get(k), str)
                )
                if isinstance(spec.get("resume_from"), str):  # a resumed run still to load it
                    refs.resumed.add(spec["resume_from"])
                branch = spec.get("branch")
                if isinstance(branch, dict) and isinstance(branch.get("run"), str):  # a branch, likewise
                    refs.resumed.add(branch["run"])
    return refs


def _reason(
    item: PayloadFile, refs: References, now: float, upload_days: float, checkpoint_days: float | None
) -> str:
    object_id = item.object_id
    old = now - item.mtime > upload_days * _DAY
    if item.kind == "tmp" or (item.kind in ("datasets", *RUN_FOLDERS) and item.path.name.endswith(".tmp")):
        if old and object_id not in refs.active_runs:
            return f"scratch file older than {upload_days:g} day(s)"
        return ""
    if object_id is None:
        return ""  # not named by an ID: not Loom's naming, left alone
    if item.kind == "datasets":
        return "" if object_id in refs.datasets else "no dataset has this ID"
    if item.kind in RUN_FOLDERS:
        if object_id not in refs.runs:
            return "no run has this ID"
        expirable = (
            object_id in refs.ended_at and object_id not in refs.resumed and object_id not in refs.branched
        )
        if item.kind == "checkpoints" and checkpoint_days is not None and expirable:
            cutoff = datetime.fromtimestamp(now, UTC) - timedelta(days=checkpoint_days)
            if refs.ended_at[object_id] < cutoff:
                return f"checkpoint of a run that ended over {checkpoint_days:g} day(s) ago"
        return ""
    if item.kind == "bundles":
        if object_id in refs.bundles or not old:
            return ""
        return f"uploaded bundle no run uses, older than {upload_days:g} day(s)"
    if item.kind == "uploads":
        if object_id in refs.active_uploads or not old:
            return ""
        return f"upload not being ingested, older than {upload_days:g} day(s)"
    return ""


def collect_garbage(
    store: Any,
    *,
    dry_run: bool = False,
    upload_days: float = 1.0,
    checkpoint_days: float | None = None,
    min_age_s: float = 3600.0,
) -> GcResult:
    """Remove (or with ``dry_run`` list) the files no row needs; see the module's docstring.

    Args:
        store: The open store (:class:`core.store.Store`).
        dry_run: List what would go; remove nothing.
        upload_days: Age after which unreferenced uploads, bundles and scratch files go.
        checkpoint_days: Also remove checkpoints of runs that ended more than this many days
            ago (None: keep every checkpoint of a kept run).
        min_age_s: Files modified more recently than this always stay.

    Raises:
        SpecError: A negative age.
    """
    for name, value in (
        ("upload_days", upload_days),
        ("checkpoint_days", checkpoint_days),
        ("min_age_s", min_age_s),
    ):
        if value is not None and not value >= 0:
            raise SpecError(f"`{name} >= 0` must hold, but got {name}={value}.")
    refs = references(store.engine)
    now = time.time()
    items = []
    for item in payload_files(Path(store.data_dir), everything=True):
        if now - item.mtime < min_age_s:
            continue
        reason = _reason(item, refs, now, upload_days, checkpoint_days)
        if not reason:
            continue
        if not dry_run:
            try:
                item.path.unlink()
            except FileNotFoundError:
                continue
        items.append(GcItem(item.relative, item.kind or "(top)", item.size, reason))
    return GcResult(dry_run, tuple(items))
