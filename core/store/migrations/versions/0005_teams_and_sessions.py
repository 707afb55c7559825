"""teams and sessions: owners and team visibility on datasets, pipelines, runs and studies;
teams with members; server-side sign-in sessions; failed sign-ins for rate limiting; an e-mail
per user for single sign-on

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("datasets", "pipelines"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("author", sa.String(100), nullable=False, server_default=""))
    for table in ("datasets", "pipelines", "runs", "loom_studies"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("team", sa.String(100), nullable=False, server_default=""))
            batch_op.create_index(f"ix_{table}_author_team", ["author", "team"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch_op.create_index("ix_users_email", ["email"], unique=True)
    op.create_table(
        "teams",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_teams")),
    )
    op.create_table(
        "team_members",
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["team"], ["teams.name"], name="fk_team_members_team_teams", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user"], ["users.name"], name="fk_team_members_user_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team", "user", name=op.f("pk_team_members")),
    )
    op.create_index("ix_team_members_user", "team_members", ["user"])
    op.create_table(
        "user_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_user_sessions_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_sessions")),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index("ix_sign_in_failures_name_ts", "sign_in_failures", ["name", "ts"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_name_ts", "sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_user_sessions_user", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("ix_team_members_user", "team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_email")
        batch_op.drop_column("email")
    for table in ("datasets", "pipelines", "runs", "loom_studies"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_author_team")
            batch_op.drop_column("team")
    for table in ("datasets", "pipelines"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("author")
