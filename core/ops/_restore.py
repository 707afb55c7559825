"""``restore``: a backup back into a data directory and a database, after every hash verifies.

Order: verify every file (reads only) → check the target is empty (or ``force``) → stage the
files in a hidden folder of the target → restore the database (SQLite file, ``pg_restore``, or a
table-by-table copy from the SQLite snapshot into PostgreSQL) → move the files into place →
open the store as the app does (which migrates a backup from an older Loom).

Every direction works: SQLite → SQLite (the file), SQLite → PostgreSQL (table by table),
PostgreSQL → PostgreSQL (``pg_restore``), PostgreSQL → SQLite (the portable SQLite copy a
PostgreSQL backup carries beside its dump: reading a custom-format dump needs a PostgreSQL
server, which a laptop restoring into SQLite may not have).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BackupError
from core.ops._backup import libpq_command
from core.ops._backup import verify_backup
from core.ops._files import DB_FILES
from core.ops._files import copy_hashed
from core.ops._files import schema_head

__all__ = ["RestoreResult", "restore"]

# What a restore with ``force`` clears in the target data directory: what Loom itself keeps.
_LOOM_FOLDERS = ("datasets", "models", "checkpoints", "predictions", "bundles", "uploads", "tmp")
_LOOM_FILES = ("secret_key", "scheduler.json")


@dataclass(frozen=True)
class RestoreResult:
    """Where the backup went: the data directory, the database (password hidden), its rows per
    table, and the files restored."""

    data_dir: Path
    database_url: str
    tables: dict[str, int]
    n_files: int
    file_bytes: int


def _database_tables(engine: Any) -> list[str]:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return inspect(conn).get_table_names()


def _check_target(data_dir: Path, url: str, force: bool) -> tuple[bool, list[str]]:
    """Whether the data directory and database are empty; raises unless ``force``."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from core.store import redact_url

    busy: list[str] = []
    if data_dir.exists() and any(data_dir.iterdir()):
        busy.append(f"the data directory {data_dir} is not empty")
    tables: list[str] = []
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        if path.exists() and path.stat().st_size > 0 and path.parent != data_dir:
            busy.append(f"the database {path} exists")
    else:
        engine = create_engine(url)
        try:
            tables = _database_tables(engine)
        except SQLAlchemyError as exc:
            raise BackupError(
                f"Cannot reach the target database {redact_url(url)}: {str(exc).splitlines()[0]}."
            ) from exc
        finally:
            engine.dispose()
        if tables:
            busy.append(f"the database {redact_url(url)} has {len(tables)} tables")
    if busy and not force:
        raise BackupError(
            f"Refusing to restore: {' and '.join(busy)}. Restore into an empty target, or pass --force "
            "to replace what is there. Nothing was written."
        )
    return bool(busy), tables


def _clear_postgres(url: str) -> None:
    from sqlalchemy import MetaData
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(bind=engine)
        meta.drop_all(bind=engine)
        with engine.begin() as conn:
            enums = conn.execute(
                text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE t.typtype = 'e' AND n.nspname = current_schema()"
                )
            ).scalars()
            for name in list(enums):
                conn.execute(text(f'DROP TYPE IF EXISTS "{name}" CASCADE'))
            # Migration 0013's trigger function outlives its table; the dump brings it back.
            conn.execute(text("DROP FUNCTION IF EXISTS loom_audit_append_only() CASCADE"))
    finally:
        engine.dispose()


def _clear_data_dir(data_dir: Path) -> None:
    for name in _LOOM_FOLDERS:
        shutil.rmtree(data_dir / name, ignore_errors=True)
    for name in (*DB_FILES, *_LOOM_FILES):
        (data_dir / name).unlink(missing_ok=True)


def _stage_files(backup_dir: Path, manifest: dict[str, Any], staging: Path) -> int:
    total = 0
    for entry in manifest.get("files", []):
        size, digest = copy_hashed(backup_dir / entry["path"], staging / entry["path"])
        if isinstance(entry.get("mode"), int):
            os.chmod(staging / entry["path"], entry["mode"] & 0o777)
        if (size, digest) != (entry["size"], entry["sha256"]):
            raise BackupError(f"{entry['path']} changed while it was restored: run the restore again.")
        total += size
    return total


def _sqlite_file_into(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    try:
        copy_hashed(source, tmp)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _pg_restore(dump: Path, url: str) -> None:
    from core.ops._backup import _pg_tool

    dsn, env = libpq_command(url)
    done = subprocess.run(  # noqa: S603 - pg_restore with fixed options
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=24 * 3600,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")


def _migrated_copy(snapshot: Path, workdir: Path) -> Path:
    """The SQLite snapshot, copied and brought to this Loom's schema (a backup from an older
    Loom), ready to be copied table by table."""
    from core.config import AppConfig
    from core.store import open_store

    work = workdir / "source"
    work.mkdir()
    copy_hashed(snapshot, work / "loom.db")
    store = open_store(AppConfig.for_data_dir(work))
    store.dispose()
    return work / "loom.db"


def restore(
    backup_dir: Path, data_dir: Path, database_url: str | None = None, *, force: bool = False
) -> RestoreResult:
    """Restore a backup made by :func:`core.ops.backup`.

    Args:
        backup_dir: The backup (a directory with ``manifest.json``).
        data_dir: The data directory to restore the files into.
        database_url: The database to restore into; default: SQLite ``loom.db`` in ``data_dir``.
            A SQLite backup restores into SQLite or PostgreSQL; a PostgreSQL backup into
            PostgreSQL (``pg_restore``) or SQLite (its portable SQLite copy).
        force: Replace what the target holds (Loom's folders and files, every table).

    Raises:
        BackupError: A file of the backup is missing or altered (named; nothing written), the
            target is not empty without ``force``, or the database could not be restored.
    """
    from sqlalchemy.engine import make_url

    from core.config import AppConfig
    from core.config import default_sqlite_url
    from core.store import close_stores
    from core.store import open_store
    from core.store import redact_url

    backup_dir = Path(backup_dir).resolve()
    data_dir = Path(data_dir).resolve()
    url = database_url or default_sqlite_url(data_dir)
    manifest = verify_backup(backup_dir)
    version, head = str(manifest.get("schema_version") or ""), schema_head()
    if version and version > head:
        raise BackupError(
            f"The backup's store is at schema version {version}, newer than this Loom ({head}): restore "
            "it with the Loom version that made it. Nothing was written."
        )
    source_dialect = manifest["database"]["dialect"]
    target_dialect = make_url(url).get_backend_name()
    portable = manifest.get("portable") if isinstance(manifest.get("portable"), dict) else None
    if source_dialect == "postgresql" and target_dialect == "sqlite" and portable is None:
        raise BackupError(
            "This PostgreSQL backup has no portable SQLite copy (an older Loom made it), so it restores "
            "into PostgreSQL only: pass --database-url postgresql+psycopg://..., then back that store up "
            "with this Loom (its backups carry the copy) and restore the new backup into SQLite. "
            "Nothing was written."
        )
    if target_dialect not in ("sqlite", "postgresql"):
        raise BackupError(f"Restore supports SQLite and PostgreSQL targets, not {target_dialect}.")
    occupied, _tables = _check_target(data_dir, url, force)

    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".restore-{secrets.token_hex(4)}"
    try:
        total = _stage_files(backup_dir, manifest, staging)
        # A store this process has open (cached by open_store) must not answer for the target:
        # its pooled connections see the old file, and open_store would not migrate it again.
        close_stores()
        if occupied:
            _clear_data_dir(data_dir)
            if target_dialect == "postgresql":
                _clear_postgres(url)
        snapshot = backup_dir / manifest["database"]["path"]
        config = AppConfig.for_data_dir(data_dir, database_url=url)
        if target_dialect == "sqlite":
            if source_dialect == "postgresql" and portable is not None:
                snapshot = backup_dir / portable["path"]  # verified with the rest
            target = Path(make_url(url).database or "")
            target.parent.mkdir(parents=True, exist_ok=True)
            _sqlite_file_into(snapshot, target)
        elif source_dialect == "postgresql":
            if not occupied:  # no tables, but what a store leaves beside them (types, functions)
                _clear_postgres(url)
            _pg_restore(snapshot, url)
        else:
            from core.ops._copy import copy_database

            with tempfile.TemporaryDirectory(prefix="loom-restore-") as work:
                source = _migrated_copy(snapshot, Path(work)) if version != head else snapshot
                target_store = open_store(config)  # Loom's tables, at this Loom's schema
                copy_database(f"sqlite:///{source}", target_store.engine)
        files_root = staging / "files"
        if files_root.exists():
            for path in sorted(files_root.rglob("*")):
                if path.is_file():
                    dest = data_dir / path.relative_to(files_root)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, dest)
    except OSError as exc:
        raise BackupError(f"The restore into {data_dir} failed: {exc.strerror or exc}.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    store = open_store(config)  # migrates a backup from an older Loom
    _forget_coordination(store)
    counts = _row_counts(store.engine)
    return RestoreResult(data_dir, redact_url(url), counts, len(manifest.get("files", [])), total)


def _forget_coordination(store: Any) -> None:
    """Drop what only the backed-up store's live processes meant: who held a periodic job's
    lease (the restored store's purger would otherwise wait for a holder that is not there) and
    unredeemed sign-in hand-off codes (a minute's life each). Sessions, failures and everything
    else stay."""
    from sqlalchemy import delete

    from core.store import SYSTEM
    from core.store import Lease
    from core.store import SignInHandoff

    with store.session(SYSTEM) as s:
        s.execute(delete(Lease))
        s.execute(delete(SignInHandoff))


def _row_counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import text

    names = _database_tables(engine)
    with engine.connect() as conn:
        return {n: int(conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()) for n in sorted(names)}
