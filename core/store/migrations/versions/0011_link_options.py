"""share link options: share_links.include_notes and share_links.allow_download (a link shows
the run's own data only, unless its owner chose to include notes or allow the model download)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing links keep showing nothing more than the run's own data (the new default).
    with op.batch_alter_table("share_links") as batch:
        batch.add_column(sa.Column("include_notes", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("allow_download", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("share_links", recreate="never") as batch:
        batch.drop_column("allow_download")
        batch.drop_column("include_notes")
