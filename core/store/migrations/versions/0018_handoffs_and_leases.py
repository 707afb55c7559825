"""sign-in hand-offs and leases, so two app processes (replicas) on one store agree:

* ``sign_in_handoffs``: the one-time code that trades a fresh sign-in for the session cookie,
  redeemable on any replica (it lived in one process's memory). Only the code's SHA-256 is
  kept, with the session token sealed by a key derived from the code, the user and an expiry.
* ``leases``: which process runs a once-per-store periodic job (the trash purger) now.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_handoffs",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("sealed", sa.String(600), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_sign_in_handoffs")),
    )
    op.create_index("ix_sign_in_handoffs_expires_at", "sign_in_handoffs", ["expires_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_sign_in_handoffs_expires_at", "sign_in_handoffs")
    op.drop_table("sign_in_handoffs")
