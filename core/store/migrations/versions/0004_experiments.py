"""experiments: run authors and archiving, tags, per-run metric summaries, share-link owners,
optional user accounts

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("runs", "loom_studies"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("author", sa.String(100), nullable=False, server_default=""))
            batch_op.add_column(sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.create_index("ix_runs_created_at", ["created_at"])
        batch_op.create_index("ix_runs_kind", ["kind"])
    with op.batch_alter_table("share_links") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("label", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_kind", sa.String(30), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(50), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("target_kind", "target_id", "tag", name=op.f("uq_tags_target_kind")),
    )
    op.create_index("ix_tags_tag", "tags", ["tag"])
    op.create_index("ix_tags_target_id", "tags", ["target_id"])
    op.create_table(
        "run_summaries",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_summaries_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_summaries")),
    )
    op.create_index("ix_run_summaries_key_last", "run_summaries", ["key", "last"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_run_summaries_key_last", "run_summaries")
    op.drop_table("run_summaries")
    op.drop_index("ix_tags_target_id", "tags")
    op.drop_index("ix_tags_tag", "tags")
    op.drop_table("tags")
    with op.batch_alter_table("share_links") as batch_op:
        batch_op.drop_column("label")
        batch_op.drop_column("owner")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_kind")
        batch_op.drop_index("ix_runs_created_at")
    for table in ("loom_studies", "runs"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("archived")
            batch_op.drop_column("author")
