"""list sort indexes: the Experiments list of 1,000,000 runs reads its page in the sort's order
from an index on (sort key, id) and stops at the page (``ORDER BY key, id LIMIT``), instead of
sorting every match; the metric's order comes from 0007's summaries index (key, last, run_id).
``ix_runs_created_id`` replaces ``ix_runs_created_at``, whose column it starts with.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_runs_created_id": ["created_at", "id"],
    "ix_runs_name_id": ["name", "id"],
    "ix_runs_status_id": ["status", "id"],
}


def upgrade() -> None:
    op.drop_index("ix_runs_created_at", "runs")
    for name, columns in _INDEXES.items():
        op.create_index(name, "runs", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, "runs")
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
