"""Engine, sessions and migrations for the store.

SQLite (the default) runs in WAL mode with a busy timeout so that the app and several Dask
workers can write at once; any other SQLAlchemy URL (PostgreSQL for teams) works too.
Migrations are applied on open, under a lock so that two processes starting together do not
race: an advisory lock on PostgreSQL, a file lock next to the SQLite file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.config import AppConfig
from core.errors import ConfigError
from core.errors import StoreError
from core.store._access import Viewer
from core.store._models import VERSION_TABLE
from core.store._projects import install_project_hook
from core.store._scope import install_scope_hook

__all__ = ["Store", "open_existing_store", "open_store", "redact_url", "sqlite_pragmas"]

_log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number; it only has to be the same in every Loom process.
_PG_MIGRATION_LOCK = 0x4C4F4F4D  # "LOOM"
_SQLITE_BUSY_TIMEOUT_MS = 30_000


def redact_url(url: str) -> str:
    """The URL with its password hidden, safe to show on a page or in a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    """The store's SQLite settings on a new connection (WAL, busy timeout, foreign keys,
    synchronous=NORMAL): a ``connect`` listener, also for Optuna's engine on the same file."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"LOOM_DATABASE_URL={url!r} is not a valid SQLAlchemy URL. Use e.g. "
            "'sqlite:////path/loom.db' or 'postgresql+psycopg://user:password@host:5432/loom'."
        ) from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            # A connection to a SQLite file is a file handle: enough for every page of a busy
            # app process (50 live viewers ran out of the default 15) costs nothing.
            engine = create_engine(
                parsed,
                connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
                pool_size=20,
                max_overflow=44,
            )
            event.listen(engine, "connect", sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"No driver for database URL {redact_url(url)}: {exc}. Install the driver "
            "(PostgreSQL: `pip install 'psycopg[binary]'`) or use a sqlite:/// URL."
        ) from exc
    return engine


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _upgrade(engine: Engine) -> None:
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends; a second process waits here, then finds the
            # schema already at head and does nothing.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        _move_version_table(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _move_version_table(conn) -> None:  # type: ignore[no-untyped-def]
    """Loom before 0003 kept its schema version in `alembic_version`, the table Optuna uses
    for its own schema in the same database. Move Loom's row to its own table, once."""
    from sqlalchemy import inspect

    tables = set(inspect(conn).get_table_names())
    if "alembic_version" not in tables or VERSION_TABLE in tables:
        return
    versions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    if not versions or not all(v.isdigit() and len(v) == 4 for v in versions):
        return  # Optuna's (or nobody's): leave it
    conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    for v in versions:
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": v})
    conn.execute(text("DROP TABLE alembic_version"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, safely when processes start together."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        with _file_lock(Path(database + ".migrate.lock")):
            _upgrade(engine)
    else:
        _upgrade(engine)


class Store:
    """The database plus the data directory.

    Args:
        config: Where the data directory and database are.
    """

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.engine = _make_engine(config.database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        install_project_hook(self._sessions, check_roles=config.auth)
        install_scope_hook(self._sessions)

    @contextlib.contextmanager
    def session(self, viewer: Viewer) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Args:
            viewer: Who is asking: every query the session runs over Loom's items sees only
                what they may see (core.store._scope). Loom's own processes pass
                :data:`~core.store.SYSTEM`.
        """
        with self._sessions() as session:
            session.info["viewer"] = viewer
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(
                    f"The store at {redact_url(self.config.database_url)} failed: "
                    f"{exc.__class__.__name__}: {exc}. Check that the database is reachable "
                    "and not full, then retry."
                ) from exc
            except BaseException:
                session.rollback()
                raise

    def path_for(self, kind: str, object_id: str, suffix: str = "") -> Path:
        """The file that holds a large payload, derived from its ID only.

        Args:
            kind: A folder name chosen by Loom's code (``datasets``, ``checkpoints``...).
            object_id: A row's ID: 32 lowercase hex digits.
            suffix: File extension chosen by Loom's code, e.g. ``".parquet"``.

        Raises:
            StoreError: ``object_id`` is not an ID, so it could be a path in disguise.
        """
        if not (len(object_id) == 32 and all(c in "0123456789abcdef" for c in object_id)):
            raise StoreError(f"{object_id!r} is not a Loom ID (32 hex digits); refusing to build a path.")
        folder = self.data_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{object_id}{suffix}"

    def dispose(self) -> None:
        self.engine.dispose()


def _check_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the data directory {str(path)!r}: {exc.strerror}. Set LOOM_DATA_DIR "
            "to a directory this user can write."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"The data directory {str(path)!r} is not writable by this user. Fix its permissions "
            "or set LOOM_DATA_DIR to a writable directory."
        )


def refresh_statistics(engine: Engine) -> None:
    """SQLite's query-planner statistics (``sqlite_stat1``) of the runs and their summaries,
    gathered as a process opens the store when there are none or the runs table has doubled or
    halved since. Without them SQLite takes any equality on an index (``deleted_at IS NULL``,
    ``kind IN``) for a selective one, and sorts every run of a 1,000,000-run Experiments list
    instead of walking its sort's index to the page; sampled ones (``analysis_limit``) cap every
    estimate near the sample and mislead it the same way. A full pass takes about 1 s of CPU per
    1,000,000 runs, once per doubling. PostgreSQL's autovacuum keeps its own statistics."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT max(rowid) FROM runs").scalar() or 0
            try:
                stat = conn.exec_driver_sql(
                    "SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_runs_1'"
                ).scalar()
            except SQLAlchemyError:  # no statistics yet
                conn.rollback()
                stat = None
            counted = int(str(stat).split()[0]) if stat else -1
            if counted < 0 or rows > 2 * counted + 1000 or rows < counted // 2:
                conn.exec_driver_sql("PRAGMA analysis_limit=0")
                conn.exec_driver_sql("ANALYZE runs")
                conn.exec_driver_sql("ANALYZE run_summaries")
                conn.commit()
    except SQLAlchemyError as exc:  # a busy database: the next process gathers them
        _log.warning("planner statistics not refreshed: %s", str(exc).splitlines()[0])


_open_lock = threading.Lock()
_open_stores: dict[tuple[str, str], Store] = {}


def open_store(config: AppConfig) -> Store:
    """The process-wide :class:`Store` for ``config``, created and migrated on first use.

    Safe to call from Dask workers and Streamlit threads alike.

    Raises:
        ConfigError: The data directory or database URL cannot be used.
        StoreError: The database refused the connection or the migration.
    """
    key = (str(config.data_dir), config.database_url)
    with _open_lock:
        store = _open_stores.get(key)
        if store is not None:
            return store
        _check_data_dir(config.data_dir)
        store = Store(config)
        try:
            migrate(store.engine)
        except SQLAlchemyError as exc:
            store.dispose()
            raise StoreError(
                f"Cannot open the store at {redact_url(config.database_url)}: "
                f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}. Check LOOM_DATABASE_URL, "
                "that the server is running and that the user may create tables."
            ) from exc
        refresh_statistics(store.engine)
        _log.info("store ready at %s", redact_url(config.database_url))
        _open_stores[key] = store
        return store


def _revisions(store: Store) -> tuple[str | None, bool, str]:
    """The store's Loom schema revision (None if it has none), whether it holds Loom's tables,
    and the newest revision this Loom knows."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        current = None
        if VERSION_TABLE in tables:
            current = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return current, "runs" in tables, head


def open_existing_store(config: AppConfig) -> Store:
    """The store for ``config`` when its schema is this Loom's; never migrates one that is not.

    For processes outside the app (a training script logging runs): an empty database is set
    up as :func:`open_store` would, but a store at another schema version is left untouched.

    Raises:
        SchemaMismatchError: The store was written by an older or newer Loom; nothing is written.
        ConfigError: The data directory or database URL cannot be used.
        StoreError: The database cannot be reached.
    """
    from core.errors import SchemaMismatchError

    _check_data_dir(config.data_dir)
    probe = Store(config)
    try:
        current, has_tables, head = _revisions(probe)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"Cannot read the store at {redact_url(config.database_url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}. Check LOOM_DATABASE_URL / LOOM_DATA_DIR and that the server "
            "is running."
        ) from exc
    finally:
        probe.dispose()
    if current != head and (current is not None or has_tables):
        where = redact_url(config.database_url)
        if current is not None and current > head:
            raise SchemaMismatchError(
                f"The store at {where} is at schema version {current}, newer than this Loom "
                f"({head}): install the Loom version the app runs (same checkout or package) in this "
                "script's environment. Nothing was written."
            )
        raise SchemaMismatchError(
            f"The store at {where} is at schema version {current or 'before 0003'}, older than "
            f"this Loom ({head}). Upgrade it first with `python -m core migrate` (with the same "
            "LOOM_DATA_DIR / LOOM_DATABASE_URL), or start the app once. Nothing was written."
        )
    return open_store(config)


def close_stores() -> None:
    """Dispose every cached store (tests, shutdown)."""
    with _open_lock:
        for store in _open_stores.values():
            store.dispose()
        _open_stores.clear()
