"""audit and site admins: ``users.is_admin`` and the append-only ``audit_events`` table (who did
what, when). On PostgreSQL a trigger refuses UPDATE and DELETE on ``audit_events``.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_REFUSE = """
CREATE OR REPLACE FUNCTION loom_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False, server_default=""),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_kind", sa.String(30), nullable=False, server_default=""),
        sa.Column("target_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("detail_json", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("session", sa.String(16), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_ts", "audit_events", ["ts"])
    op.create_index("ix_audit_events_actor_ts", "audit_events", ["actor", "ts"])
    op.create_index("ix_audit_events_action_ts", "audit_events", ["action", "ts"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REFUSE)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION loom_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS loom_audit_append_only()")
    op.drop_index("ix_audit_events_action_ts", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_ts", table_name="audit_events")
    op.drop_index("ix_audit_events_ts", table_name="audit_events")
    op.drop_table("audit_events")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("is_admin")
