"""team quotas: the bytes a team's projects may hold (None: no quota); an upload or launch into
a project of a team over its quota is refused (core.store's ``check_quota``).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams", recreate="never") as batch:
        batch.add_column(sa.Column("quota_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("quota_bytes")
