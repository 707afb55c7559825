"""seed groups and alerts: runs.group_id (runs launched together, identical but for their seed)
and alert_rules (rules on a run or a study that fire once, with an atomic fired_at marker)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("group_id", sa.String(32), nullable=True))
    op.create_index(op.f("ix_runs_group_id"), "runs", ["group_id"])
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("minutes", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fired_run_id", sa.String(32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(op.f("ix_alert_rules_target_id"), "alert_rules", ["target_id"])
    op.create_index(op.f("ix_alert_rules_fired_at"), "alert_rules", ["fired_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_rules_fired_at"), "alert_rules")
    op.drop_index(op.f("ix_alert_rules_target_id"), "alert_rules")
    op.drop_table("alert_rules")
    op.drop_index(op.f("ix_runs_group_id"), "runs")
    # In place (SQLite >= 3.35 drops a column itself): a batch "move and copy" would drop the runs
    # table, and SQLite's foreign keys would then delete every run's metrics, notes and events.
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("group_id")
