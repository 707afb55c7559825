"""Copy a whole store from one database to another, table by table, through SQLAlchemy Core:
the way a team moves off the laptop default (SQLite) onto PostgreSQL.

The target's schema is made first by the target itself (Loom's migrations, and Optuna's own
tables when the source has a study), then reflected; each table is read from the source with
the target's column types, so SQLite's text datetimes, 0/1 booleans and JSON text arrive as
values, and written in dependency order (``MetaData.sorted_tables``). Timestamps SQLite kept
without a zone are UTC, as Loom wrote them. Last, PostgreSQL's sequences are moved past the
largest copied ID, so the next insert does not collide. JSON values PostgreSQL's json type
refuses (NaN, Infinity: SQLite's JSON text may hold them) arrive as null.

From PostgreSQL (into SQLite: the portable copy a PostgreSQL backup carries), each table is read
with the source's own column types (PostgreSQL hands back datetimes, dicts and booleans, not
text), optionally inside an exported snapshot (``snapshot``: the one ``pg_dump`` reads), and
zoned datetimes are written to SQLite as UTC, as Loom writes them there.
"""

from __future__ import annotations

import math
from datetime import UTC
from datetime import datetime
from typing import Any

from core.errors import BackupError

__all__ = ["copy_database"]

_BATCH = 5_000
# Made by the target's own schema set-up; copying them would duplicate their one row.
_VERSION_TABLES = {"loom_schema_version", "alembic_version", "version_info"}
_OPTUNA_MARKERS = {"studies", "trials", "version_info"}


def _create_optuna_schema(url: str) -> None:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    storage.engine.dispose()


def _finite(value: Any) -> Any:
    """JSON as PostgreSQL accepts it: SQLite's JSON text may hold NaN or Infinity (Python's
    json writes them), which PostgreSQL's json type refuses; they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def copy_database(source_url: str, target_engine: Any, *, snapshot: str | None = None) -> dict[str, int]:
    """Copy every row of the store at ``source_url`` into ``target_engine``'s database, whose
    Loom tables already exist (an opened, empty store). Returns rows copied per table.
    ``snapshot``: a PostgreSQL source's exported snapshot (``pg_export_snapshot()``) to read.

    Raises:
        BackupError: A table could not be copied (names it); the target is left as the
            transaction found it.
    """
    from sqlalchemy import JSON
    from sqlalchemy import DateTime
    from sqlalchemy import Integer
    from sqlalchemy import MetaData
    from sqlalchemy import create_engine
    from sqlalchemy import inspect
    from sqlalchemy import select
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    source = create_engine(source_url)
    try:
        with source.connect() as probe:
            source_columns = {
                name: {c["name"] for c in inspect(probe).get_columns(name)}
                for name in inspect(probe).get_table_names()
            }
        if _OPTUNA_MARKERS & set(source_columns) and "studies" in source_columns:
            _create_optuna_schema(target_engine.url.render_as_string(hide_password=False))
        meta = MetaData()
        meta.reflect(bind=target_engine)
        strict_json = target_engine.dialect.name == "postgresql"
        into_sqlite = target_engine.dialect.name == "sqlite"
        # A SQLite source is read with the target's types (its text becomes values); any other
        # with its own (its driver already hands back values).
        source_meta: Any = None
        if source.dialect.name != "sqlite":
            source_meta = MetaData()
            source_meta.reflect(bind=source)
        copied: dict[str, int] = {}
        with target_engine.begin() as dst, source.connect() as src:
            if snapshot is not None:
                src = src.execution_options(isolation_level="REPEATABLE READ")
                src.begin()
                if not all(part.isalnum() for part in snapshot.split("-")):
                    raise BackupError(f"Not a PostgreSQL snapshot ID: {snapshot!r}.")
                src.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            for table in meta.sorted_tables:
                if table.name in _VERSION_TABLES or table.name not in source_columns:
                    continue
                columns = [c for c in table.columns if c.name in source_columns[table.name]]
                read = columns
                if source_meta is not None:
                    read = [source_meta.tables[table.name].c[c.name] for c in columns]
                zoned = [c.name for c in columns if isinstance(c.type, DateTime) and c.type.timezone]
                jsons = [c.name for c in columns if isinstance(c.type, JSON)] if strict_json else []
                n = 0
                try:
                    result = src.execution_options(yield_per=_BATCH).execute(select(*read))
                    for rows in result.partitions():
                        batch = [dict(row._mapping) for row in rows]
                        for row in batch:
                            for name in zoned:
                                value = row[name]
                                if isinstance(value, datetime) and value.tzinfo is None:
                                    row[name] = value.replace(tzinfo=UTC)
                            if into_sqlite:
                                for name, value in row.items():
                                    if isinstance(value, datetime) and value.tzinfo is not None:
                                        row[name] = value.astimezone(UTC).replace(tzinfo=None)
                            for name in jsons:
                                row[name] = _finite(row[name])
                        dst.execute(table.insert(), batch)
                        n += len(batch)
                except SQLAlchemyError as exc:
                    raise BackupError(
                        f"Could not copy table {table.name!r}: {exc.__class__.__name__}: "
                        f"{str(exc).splitlines()[0]}. The target database was left unchanged."
                    ) from exc
                copied[table.name] = n
            if target_engine.dialect.name == "postgresql":
                for table in meta.sorted_tables:
                    pk = list(table.primary_key.columns)
                    if len(pk) != 1 or not isinstance(pk[0].type, Integer):
                        continue
                    column = pk[0].name
                    dst.execute(
                        text(
                            "SELECT setval(pg_get_serial_sequence(:t, :c), "
                            f'COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table.name}"'
                        ),
                        {"t": f'"{table.name}"', "c": pk[0].name},
                    )
        return copied
    finally:
        source.dispose()
