"""runs: lineage (parent run and how it was derived); studies: search-space phases

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("parent_kind", sa.String(20), nullable=False, server_default=""))
        batch_op.create_index("ix_runs_parent_id", ["parent_id"])
        batch_op.create_index("ix_runs_study_id", ["study_id"])
    with op.batch_alter_table("studies") as batch_op:
        batch_op.add_column(sa.Column("phases_json", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch_op:
        batch_op.drop_column("phases_json")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_study_id")
        batch_op.drop_index("ix_runs_parent_id")
        batch_op.drop_column("parent_kind")
        batch_op.drop_column("parent_id")
