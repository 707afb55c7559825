"""runs: lineage (parent run and how it was derived); studies: search-space phases, and the
table renamed to loom_studies (Optuna, sharing the database, owns `studies`)

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
    op.rename_table("studies", "loom_studies")
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE loom_studies RENAME CONSTRAINT pk_studies TO pk_loom_studies")
    with op.batch_alter_table("loom_studies") as batch_op:
        batch_op.drop_constraint("uq_studies_optuna_study_name", type_="unique")
        batch_op.create_unique_constraint("uq_loom_studies_optuna_study_name", ["optuna_study_name"])
        batch_op.add_column(sa.Column("phases_json", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_constraint("fk_runs_study_id_studies", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_runs_study_id_loom_studies", "loom_studies", ["study_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("parent_kind", sa.String(20), nullable=False, server_default=""))
        batch_op.create_index("ix_runs_parent_id", ["parent_id"])
        batch_op.create_index("ix_runs_study_id", ["study_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_study_id")
        batch_op.drop_index("ix_runs_parent_id")
        batch_op.drop_column("parent_kind")
        batch_op.drop_column("parent_id")
        batch_op.drop_constraint("fk_runs_study_id_loom_studies", type_="foreignkey")
    with op.batch_alter_table("loom_studies") as batch_op:
        batch_op.drop_column("phases_json")
        batch_op.drop_constraint("uq_loom_studies_optuna_study_name", type_="unique")
        batch_op.create_unique_constraint("uq_studies_optuna_study_name", ["optuna_study_name"])
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE loom_studies RENAME CONSTRAINT pk_loom_studies TO pk_studies")
    op.rename_table("loom_studies", "studies")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.create_foreign_key(
            "fk_runs_study_id_studies", "studies", ["study_id"], ["id"], ondelete="CASCADE"
        )
