"""list indexes: the Experiments list of 100,000 runs answers a metric filter from indexes (the
summaries by key and value carry the run's ID; the runs' filter columns sit beside their ID)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_run_summaries_key_last", "run_summaries")
    op.create_index("ix_run_summaries_key_last_run", "run_summaries", ["key", "last", "run_id"])
    op.create_index("ix_runs_id_filters", "runs", ["id", "archived", "kind", "status"])


def downgrade() -> None:
    op.drop_index("ix_runs_id_filters", "runs")
    op.drop_index("ix_run_summaries_key_last_run", "run_summaries")
    op.create_index("ix_run_summaries_key_last", "run_summaries", ["key", "last"])
