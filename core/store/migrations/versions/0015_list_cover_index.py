"""list cover index: the Experiments list of 1,000,000 runs checks each matching run's filters
and its access rule (trash, project, author, team) from one index beside its ID, never the
(wide) row; it replaces 0007's ``ix_runs_id_filters``, whose columns it starts with.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_COLUMNS = ["id", "archived", "kind", "status", "deleted_at", "project_id", "author", "team"]


def upgrade() -> None:
    op.drop_index("ix_runs_id_filters", "runs")
    op.create_index("ix_runs_list_filters", "runs", _COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_runs_list_filters", "runs")
    op.create_index("ix_runs_id_filters", "runs", ["id", "archived", "kind", "status"])
