"""item trash: ``deleted_at`` and ``deleted_by`` on datasets, pipelines, studies, runs and
reports. Deleting one of them puts it in the trash (hidden from everyone, restorable by whoever
may change it) until it is purged after ``LOOM_TRASH_DAYS``.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ITEMS = ("datasets", "pipelines", "loom_studies", "runs", "reports")


def upgrade() -> None:
    for table in _ITEMS:
        # In place (a batch "move and copy" of runs would let SQLite's foreign keys delete every
        # run's metrics, notes and events).
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("deleted_by", sa.String(100), nullable=False, server_default=""))
        op.create_index(op.f(f"ix_{table}_deleted_at"), table, ["deleted_at"])


def downgrade() -> None:
    for table in _ITEMS:
        op.drop_index(op.f(f"ix_{table}_deleted_at"), table_name=table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("deleted_by")
            batch.drop_column("deleted_at")
