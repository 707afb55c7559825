"""``backup``: an online, consistent snapshot of the store and its files, with a manifest.

The database is copied while runs keep writing: SQLite through its online backup API (one
step, so the copy is one consistent moment of the file), PostgreSQL through ``pg_dump`` on a
snapshot exported from a REPEATABLE READ transaction that also counts the rows. A PostgreSQL
backup also carries a portable copy, ``database.portable.sqlite``: the same snapshot copied
table by table (:func:`core.ops.copy_database`) into a SQLite store at this Loom's schema, so it
restores into SQLite without a PostgreSQL server (a custom-format dump needs ``pg_restore`` and a
server to be read; the portable copy is the field's usual answer, as a logical export beside
the physical one). It doubles the database part of the backup's time and adds its size. The files
(datasets, models, checkpoints, predictions, bundles, uploads, the secret key) are copied
after the database, each hashed as it is written; a file that changes while it is copied is
copied again. Everything goes into ``OUT.partial-<random>`` first, and ``manifest.json`` is
written last, so a failed backup (a full disk) leaves no directory named ``OUT``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import BackupError
from core.ops._files import copy_hashed
from core.ops._files import loom_version
from core.ops._files import payload_files
from core.ops._files import sha256_of

__all__ = [
    "FORMAT",
    "MANIFEST",
    "PORTABLE_FILE",
    "BackupResult",
    "backup",
    "libpq_command",
    "read_manifest",
    "verify_backup",
]

FORMAT = "loom-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_SQLITE_FILE = "database.sqlite"
_PG_FILE = "database.pgdump"
PORTABLE_FILE = "database.portable.sqlite"
_COPY_TRIES = 5
_VERSION_TABLE = "loom_schema_version"


@dataclass(frozen=True)
class BackupResult:
    """What a backup holds: where, the database's dialect, its tables' row counts, and the
    number and total size of the files beside it."""

    path: Path
    dialect: str
    schema_version: str
    tables: dict[str, int]
    n_files: int
    file_bytes: int
    database_bytes: int


def libpq_command(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as a libpq connection URI for ``pg_dump``/``pg_restore``,
    and the environment that carries its password (never on a command line)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    import glob

    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]), None
    )
    if not found:
        raise BackupError(
            f"`{name}` is not installed: install PostgreSQL's client tools (Debian: apt install "
            "postgresql-client, the same major version as the server)."
        )
    return found


def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"The SQLite database {url!r} is not a file: nothing to back up.")
    return Path(database)


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: int(conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in sorted(names)}


def _sqlite_version(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute(f"SELECT version_num FROM {_VERSION_TABLE}").fetchone()
    except sqlite3.Error:
        return ""
    return str(row[0]) if row else ""


def _backup_sqlite(url: str, target: Path) -> tuple[dict[str, int], str]:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"The SQLite store {source_path} does not exist: nothing to back up.")
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        # pages=-1: the whole database in one step, under one read transaction: with WAL the
        # writers go on, and the copy is the database as of one moment.
        source.backup(dest, pages=-1)
        dest.execute("PRAGMA journal_mode=DELETE")
        check = dest.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The copy of {source_path} fails SQLite's quick_check: {check}.")
        return _sqlite_counts(dest), _sqlite_version(dest)
    except sqlite3.Error as exc:
        raise BackupError(f"Could not copy the SQLite store {source_path}: {exc}.") from exc
    finally:
        dest.close()
        source.close()


def _portable_copy(url: str, snapshot: str, target: Path) -> None:
    """The PostgreSQL store as of ``snapshot``, copied into a new SQLite store file ``target``
    at this Loom's schema (one file: no WAL beside it)."""
    from core.config import AppConfig
    from core.ops._copy import copy_database
    from core.store import open_store

    work = target.with_name(f".{target.name}.work")
    work.mkdir()
    try:
        store = open_store(AppConfig.for_data_dir(work))
        try:
            copy_database(url, store.engine, snapshot=snapshot)
        finally:
            store.dispose()
        db = sqlite3.connect(work / "loom.db")
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            db.close()
        if check != "ok":
            raise BackupError(f"The portable SQLite copy fails SQLite's quick_check: {check}.")
        (work / "loom.db").replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _backup_postgres(url: str, target: Path, portable: Path | None = None) -> tuple[dict[str, int], str]:
    from sqlalchemy import create_engine
    from sqlalchemy import inspect
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    pg_dump = _pg_tool("pg_dump")
    dsn, env = libpq_command(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                names = sorted(inspect(conn).get_table_names())
                counts = {
                    n: int(conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()) for n in names
                }
                version = ""
                if _VERSION_TABLE in names:
                    version = str(
                        conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar() or ""
                    )
                # The same snapshot as the counts: held open until pg_dump has finished.
                done = subprocess.run(  # noqa: S603 - pg_dump with fixed options
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot}",
                        f"--file={target}",
                        f"--dbname={dsn}",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=24 * 3600,
                )
                if done.returncode == 0 and portable is not None:
                    _portable_copy(url, snapshot, portable)  # the same snapshot, still held
    except SQLAlchemyError as exc:
        raise BackupError(f"Could not read the PostgreSQL store: {exc.__class__.__name__}: {exc}.") from exc
    finally:
        engine.dispose()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return counts, version


def _copy_stable(source: Path, target: Path) -> tuple[int, str] | None:
    """Copy a file that may be rewritten meanwhile (a checkpoint each epoch): copy again until
    its size and modification time are the same before and after. None: it was deleted."""
    for _ in range(_COPY_TRIES):
        try:
            before = source.stat()
            size, digest = copy_hashed(source, target)
            after = source.stat()
        except FileNotFoundError:
            target.unlink(missing_ok=True)
            return None
        unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if unchanged and size == after.st_size:
            return size, digest
    raise BackupError(
        f"{source} kept changing while it was copied ({_COPY_TRIES} tries); run the backup again."
    )


def backup(store: Any, out: Path) -> BackupResult:
    """Back up ``store`` (database and data directory) into the new directory ``out``.

    Args:
        store: The open store (:class:`core.store.Store`).
        out: A directory that does not exist yet (or is empty).

    Raises:
        BackupError: ``out`` is not empty, a tool is missing, or a copy failed; no directory
            named ``out`` is left behind by a failed backup.
    """
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty directory: choose a new path.")
    partial = out.with_name(f"{out.name}.partial-{secrets.token_hex(4)}")
    try:
        partial.mkdir(parents=True, mode=0o700)  # it holds every dataset and the secret key
        result = _write(store, out, partial)
        if out.exists():
            out.rmdir()
        partial.rename(out)
        return result
    except OSError as exc:
        raise BackupError(
            f"The backup into {out} failed: {exc.strerror or exc}. Nothing was changed in the store; "
            "free space (or choose another place) and run it again."
        ) from exc
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def _write(store: Any, out: Path, partial: Path) -> BackupResult:
    url = str(store.config.database_url)
    dialect = store.engine.dialect.name
    if dialect == "sqlite":
        db_name = _SQLITE_FILE
        tables, version = _backup_sqlite(url, partial / db_name)
    elif dialect == "postgresql":
        db_name = _PG_FILE
        tables, version = _backup_postgres(url, partial / db_name, partial / PORTABLE_FILE)
    else:
        raise BackupError(f"Backups support SQLite and PostgreSQL stores, not {dialect}.")
    db_path = partial / db_name
    # A SQLite file of another name inside the data directory went through the backup API above.
    live_db = (
        {f"{_sqlite_path(url).resolve()}{s}" for s in ("", "-wal", "-shm", "-journal", ".migrate.lock")}
        if dialect == "sqlite"
        else set()
    )
    entries = []
    total = 0
    for item in payload_files(Path(store.data_dir), exclude=partial):
        if out == item.path or out in item.path.parents or str(item.path.resolve()) in live_db:
            continue
        copied = _copy_stable(item.path, partial / "files" / item.relative)
        if copied is None:
            continue
        size, digest = copied
        mode = stat.S_IMODE(item.path.stat().st_mode) if item.path.exists() else 0o600
        os.chmod(partial / "files" / item.relative, mode)  # the secret key stays owner-only
        entries.append({"path": f"files/{item.relative}", "size": size, "sha256": digest, "mode": mode})
        total += size
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "loom_version": loom_version(),
        "schema_version": version,
        "database": {
            "dialect": dialect,
            "path": db_name,
            "size": db_path.stat().st_size,
            "sha256": sha256_of(db_path),
            "tables": tables,
        },
        "files": entries,
    }
    if (partial / PORTABLE_FILE).exists():
        manifest["portable"] = {
            "dialect": "sqlite",
            "path": PORTABLE_FILE,
            "size": (partial / PORTABLE_FILE).stat().st_size,
            "sha256": sha256_of(partial / PORTABLE_FILE),
        }
    tmp = partial / f"{MANIFEST}.tmp"
    with tmp.open("w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(partial / MANIFEST)
    return BackupResult(
        path=out,
        dialect=dialect,
        schema_version=version,
        tables=tables,
        n_files=len(entries),
        file_bytes=total,
        database_bytes=int(manifest["database"]["size"]),  # type: ignore[index]
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """The backup's manifest, checked for shape (not yet the files: see :func:`verify_backup`).

    Raises:
        BackupError: No manifest, not a Loom backup, or a path that leaves the backup.
    """
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(
            f"{path} is not a Loom backup: it has no {MANIFEST} (an unfinished backup?)."
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path / MANIFEST} cannot be read: {exc}.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path / MANIFEST} is not a Loom backup manifest.")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(
            f"{path} was written by a newer Loom (backup format {manifest.get('format_version')}); "
            "restore it with that version."
        )
    for entry in _entries(manifest):
        rel = Path(entry["path"])
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise BackupError(f"{path / MANIFEST} names {entry['path']!r}, outside the backup: refused.")
    return manifest


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    portable = [manifest["portable"]] if isinstance(manifest.get("portable"), dict) else []
    return [manifest["database"], *portable, *manifest.get("files", [])]


def verify_backup(path: Path) -> dict[str, Any]:
    """Check every file of a backup against its manifest (present, same size, same SHA-256)
    and return the manifest. Reads only.

    Raises:
        BackupError: Names the first missing, truncated or altered file.
    """
    path = Path(path)
    manifest = read_manifest(path)
    for entry in _entries(manifest):
        file = path / entry["path"]
        if not file.is_file():
            raise BackupError(f"The backup is incomplete: {entry['path']} is missing. Nothing was restored.")
        size = file.stat().st_size
        if size != entry["size"]:
            raise BackupError(
                f"The backup is damaged: {entry['path']} has {size:,} bytes, the manifest says "
                f"{entry['size']:,}. Nothing was restored."
            )
        if sha256_of(file) != entry["sha256"]:
            raise BackupError(
                f"The backup is damaged: {entry['path']} does not match its SHA-256 in the manifest. "
                "Nothing was restored."
            )
    return manifest
