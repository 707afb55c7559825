"""Alembic environment: Loom always passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from core.store._models import VERSION_TABLE
from core.store._models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached if someone runs `alembic` by hand
    raise RuntimeError(
        "Run migrations through core.store.open_store(); it passes the connection and the lock."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # Optuna keeps its own schema version in `alembic_version` of the same database.
    version_table=context.config.attributes.get("version_table", VERSION_TABLE),
)
with context.begin_transaction():
    context.run_migrations()
