"""What operations share: which files under the data directory are Loom's payloads, hashing,
the Loom and schema versions."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DB_FILES",
    "PayloadFile",
    "copy_hashed",
    "is_id",
    "loom_version",
    "payload_files",
    "schema_head",
    "sha256_of",
]

_CHUNK = 1 << 20
_ID = re.compile(r"^[0-9a-f]{32}$")

# Never part of a backup's files: the SQLite database (it goes through the backup API), the
# running cluster's address (only true while that process lives), logs and scratch files.
DB_FILES = ("loom.db", "loom.db-wal", "loom.db-shm", "loom.db-journal", "loom.db.migrate.lock")
_SKIP_TOP = {*DB_FILES, "scheduler.json"}
_SKIP_DIRS = {"logs", "tmp"}


def is_id(stem: str) -> bool:
    return bool(_ID.match(stem))


@dataclass(frozen=True)
class PayloadFile:
    """One file under the data directory: its path relative to it, its folder (``kind``) and
    the row ID its name carries (None for a file not named by an ID)."""

    path: Path
    relative: str
    kind: str
    size: int
    mtime: float

    @property
    def object_id(self) -> str | None:
        stem = self.path.name.split(".", 1)[0].split("-", 1)[0]
        return stem if is_id(stem) else None


def payload_files(
    data_dir: Path, *, exclude: Path | None = None, everything: bool = False
) -> Iterator[PayloadFile]:
    """Every file a backup carries (datasets, models, checkpoints, predictions, bundles,
    uploads, the secret key...), in a stable order. ``everything`` adds ``tmp/`` (for gc);
    files still being written (``*.tmp``, dot-files) are left out of a backup."""
    if not data_dir.is_dir():
        return
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        if exclude is not None and (here == exclude or exclude in here.parents):
            dirs[:] = []
            continue
        rel_root = here.relative_to(data_dir)
        if rel_root != Path(".") and _is_backup(here, files):
            dirs[:] = []  # a backup kept inside the data directory is not backed up again
            continue
        if rel_root == Path("."):
            dirs[:] = sorted(d for d in dirs if (everything and d == "tmp") or d not in _SKIP_DIRS)
        else:
            dirs.sort()
        for name in sorted(files):
            if rel_root == Path(".") and name in _SKIP_TOP:
                continue
            if not everything and (name.startswith(".") or name.endswith(".tmp")):
                continue
            path = here / name
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue  # deleted while we walked
            if not path.is_file() or path.is_symlink():
                continue
            relative = (rel_root / name).as_posix()
            kind = relative.split("/", 1)[0] if "/" in relative else ""
            yield PayloadFile(path, relative, kind, st.st_size, st.st_mtime)


def _is_backup(folder: Path, files: list[str]) -> bool:
    if ".partial-" in folder.name:
        return True
    if "manifest.json" not in files:
        return False
    try:
        with (folder / "manifest.json").open("rb") as fh:
            return b'"loom-backup"' in fh.read(200)
    except OSError:
        return False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copy a file, hashing the bytes written; returns (size, SHA-256). The copy is fsynced."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, digest.hexdigest()


def loom_version() -> str:
    """This Loom's version: the installed package's, else ``pyproject.toml``'s beside ``core``."""
    from importlib import metadata

    try:
        return metadata.version("loom")
    except metadata.PackageNotFoundError:
        pass
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def schema_head() -> str:
    """The newest store schema revision this Loom knows (its last Alembic migration)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import core.store

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(core.store.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""
