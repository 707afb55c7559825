"""projects: projects and project_members, and project_id on datasets, pipelines, runs,
studies, reports and alert rules. Every existing item moves into a "Default" project of its
author (its owner, an admin of it); each item keeps its team visibility.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ITEMS = ("datasets", "pipelines", "loom_studies", "runs", "reports", "alert_rules")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner_user", sa.String(100), nullable=False, server_default=""),
        sa.Column("owner_team", sa.String(100), nullable=False, server_default=""),
        sa.Column("team_role", sa.String(10), nullable=False, server_default="member"),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index("ix_projects_owner", "projects", ["owner_user", "owner_team"])
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user", name=op.f("pk_project_members")),
    )
    op.create_index(op.f("ix_project_members_user"), "project_members", ["user"])
    for table in _ITEMS:
        # In place (a batch "move and copy" of runs would let SQLite's foreign keys delete every
        # run's metrics, notes and events). No foreign key: a project in the trash keeps its
        # items, and purging one decides what happens to them (core.sharing).
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("project_id", sa.String(32), nullable=True))
        op.create_index(op.f(f"ix_{table}_project_id"), table, ["project_id"])
    _default_projects(op.get_bind())


def _default_projects(bind: sa.Connection) -> None:
    """Today's items into a "Default" project per author."""
    authors: set[str] = set()
    for table in _ITEMS:
        authors.update(row[0] for row in bind.execute(sa.text(f"SELECT DISTINCT author FROM {table}")))
    now = datetime.now(UTC)
    projects = sa.table(
        "projects",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("owner_user", sa.String),
        sa.column("owner_team", sa.String),
        sa.column("team_role", sa.String),
        sa.column("deleted_by", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    members = sa.table(
        "project_members",
        sa.column("project_id", sa.String),
        sa.column("user", sa.String),
        sa.column("role", sa.String),
    )
    for author in sorted(authors):
        project_id = uuid.uuid4().hex
        bind.execute(
            projects.insert().values(
                id=project_id,
                name="Default",
                owner_user=author,
                owner_team="",
                team_role="member",
                deleted_by="",
                created_at=now,
            )
        )
        if author:
            bind.execute(members.insert().values(project_id=project_id, user=author, role="admin"))
        for table in _ITEMS:
            bind.execute(
                sa.text(f"UPDATE {table} SET project_id = :project WHERE author = :author"),
                {"project": project_id, "author": author},
            )


def downgrade() -> None:
    for table in _ITEMS:
        op.drop_index(op.f(f"ix_{table}_project_id"), table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("project_id")
    op.drop_index(op.f("ix_project_members_user"), "project_members")
    op.drop_table("project_members")
    op.drop_index("ix_projects_owner", "projects")
    op.drop_table("projects")
