"""SQLAlchemy models: the one source of truth for everything Loom knows.

Large payloads (Parquet datasets, checkpoints, saved models) are files under the data
directory named by the row's ID; no row ever stores a user-supplied path.
Schema changes go through Alembic migrations in ``core/store/migrations``.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import false
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

__all__ = [
    "AlertRule",
    "AuditEvent",
    "Base",
    "Dataset",
    "Evaluation",
    "Lease",
    "Metric",
    "MetricBlock",
    "Note",
    "Pipeline",
    "Report",
    "ReportVersion",
    "Run",
    "RunEvent",
    "ShareLink",
    "SignInFailure",
    "SignInHandoff",
    "Study",
    "Team",
    "TeamMember",
    "User",
    "UserSession",
    "new_id",
    "utcnow",
]

# Named constraints so that Alembic migrations are deterministic on every backend.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A random 32-hex-digit ID; safe to use as a file name."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


# Loom's Alembic version table; `alembic_version` belongs to Optuna, which shares the database.
VERSION_TABLE = "loom_schema_version"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class _Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class _Trashable:
    """Deleting an item puts it in the trash: hidden from everyone (core.store's access rule)
    until its owner restores it, or Loom purges it after ``LOOM_TRASH_DAYS`` (core.ops)."""

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    deleted_by: Mapped[str] = mapped_column(String(100), default="", server_default="")


class Dataset(_Trashable, _Timestamped, Base):
    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_author_team", "author", "team"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    n_rows: Mapped[int] = mapped_column(Integer, default=0)
    n_cols: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    source_format: Mapped[str] = mapped_column(String(20), default="")
    schema_json: Mapped[dict] = mapped_column(JSON, default=dict)
    # How the source was read (delimiter, encoding...): same bytes read differently is another dataset.
    read_options_json: Mapped[dict] = mapped_column(JSON, default=dict)
    # Computed on the worker at ingest, so pages never scan the data to show it.
    profile_json: Mapped[dict] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(100), default="", server_default="")
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class Pipeline(_Trashable, _Timestamped, Base):
    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_author_team", "author", "team"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    spec_json: Mapped[dict] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="RESTRICT"), nullable=True
    )
    author: Mapped[str] = mapped_column(String(100), default="", server_default="")
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class Study(_Trashable, _Timestamped, Base):
    __tablename__ = "loom_studies"  # `studies` is Optuna's, in the same database
    __table_args__ = (Index("ix_loom_studies_author_team", "author", "team"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    optuna_study_name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    spec_json: Mapped[dict] = mapped_column(JSON, default=dict)
    # The search space over time: [{"phase": 1, "space": {...}, "at": iso time, "why": "..."}].
    phases_json: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    author: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # "" = private to its author; else the one team that may view and fork it.
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class Run(_Trashable, _Timestamped, Base):
    """One job on the cluster: a smoke job, a training run or a tuning trial."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_author_team", "author", "team"),
        # The Experiments list's sorts: its page read in (key, id) order, stopping at the page.
        Index("ix_runs_created_id", "created_at", "id"),
        Index("ix_runs_name_id", "name", "id"),
        Index("ix_runs_status_id", "status", "id"),
        # The Experiments list's filters and access rule answered from the index, not the (wide)
        # row: a filter on a metric finds its runs through run_summaries, then checks each here.
        Index(
            "ix_runs_list_filters",
            "id",
            "archived",
            "kind",
            "status",
            "deleted_at",
            "project_id",
            "author",
            "team",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    spec_json: Mapped[dict] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="RESTRICT"), nullable=True
    )
    pipeline_id: Mapped[str | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="RESTRICT"), nullable=True
    )
    study_id: Mapped[str | None] = mapped_column(
        ForeignKey("loom_studies.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # Lineage: the run this one came from, and how ("resumed", "forked", "promoted").
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    parent_kind: Mapped[str] = mapped_column(String(20), default="", server_default="")
    # A seed group: runs launched together, identical but for their seed (None: in no group).
    group_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    author: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # "" = private to its author; else the one team that may view and fork it.
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    worker: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    result_json: Mapped[dict] = mapped_column(JSON, default=dict)


class RunEvent(Base):
    """An append-only log of what happened to a run (status changes, controls, notes)."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20), default="")
    message: Mapped[str] = mapped_column(Text, default="")


class Metric(Base):
    """One scalar at one step of one run (``loss`` at batch 12, ``val_accuracy`` at epoch 3)."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    ts: Mapped[float] = mapped_column(Float)


class MetricBlock(Base):
    """A summary of one metric's points in one block of ``BLOCK_STEPS`` steps: how many, the
    first and last, the lowest and highest (with their steps). Written with the points, in the
    same transaction, so a chart of a run with a million points reads a hundredth of them and
    keeps every extreme; the points themselves stay in ``metrics``, every one."""

    __tablename__ = "metric_blocks"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(Integer)
    first_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_value: Mapped[float | None] = mapped_column(Float, nullable=True)


class Evaluation(_Timestamped, Base):
    """A finished run scored on another dataset through its fitted pipeline, unchanged: the
    metrics, confusion matrix and per-class table (or predicted-vs-actual) in ``metrics_json``.
    Its ID is the ``evaluate`` job's run ID; it is visible exactly when its run is."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dataset_name: Mapped[str] = mapped_column(String(200), default="")
    author: Mapped[str] = mapped_column(String(100), default="")
    metrics_json: Mapped[dict] = mapped_column(JSON, default=dict)


class ShareLink(_Timestamped, Base):
    __tablename__ = "share_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str] = mapped_column(String(32))
    permission: Mapped[str] = mapped_column(String(20), default="view")
    query_json: Mapped[dict] = mapped_column(JSON, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(100), default="", server_default="")
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # What a run's link shows beside the run's own data (0011): notes with their authors, and
    # the "Download bundle" button (the trained model).
    include_notes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    allow_download: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Note(_Timestamped, Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_kind: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str] = mapped_column(String(32), index=True)
    author: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text)


class Tag(Base):
    """A label on a run or a study (``baseline``, ``paper``); unique per target."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("target_kind", "target_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_kind: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str] = mapped_column(String(32), index=True)
    tag: Mapped[str] = mapped_column(String(50), index=True)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunSummary(Base):
    """Each metric of a finished run in one row (last, min, max), so lists filter and sort by a
    metric in the database instead of scanning every point."""

    __tablename__ = "run_summaries"
    __table_args__ = (Index("ix_run_summaries_key_last_run", "key", "last", "run_id"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    last: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column(Integer)


class User(Base):
    """An account, when accounts are on (``LOOM_AUTH=on``); the password as a scrypt hash."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # For single sign-on: the identity provider's e-mail that maps to this account.
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # A site admin reads the audit log and every user's, team's and project's disk use.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_users_email", "email", unique=True),)


class Team(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The bytes its projects may hold (core.store's check_quota); None: no quota.
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TeamMember(Base):
    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True)
    user: Mapped[str] = mapped_column(
        ForeignKey("users.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class UserSession(Base):
    """A signed-in browser: the cookie holds the token, the store only its SHA-256, so signing
    out (deleting the row) ends the session on the server at the next request."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who did what, when: one row per change worth answering for (sign-ins, accounts, links,
    visibility, deletions). Append-only: Loom inserts rows and never updates or deletes them (on
    PostgreSQL a trigger refuses both). ``session`` is a short prefix of the session token's hash."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_ts", "ts"),
        Index("ix_audit_events_actor_ts", "actor", "ts"),
        Index("ix_audit_events_action_ts", "action", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), default="", server_default="")
    action: Mapped[str] = mapped_column(String(60))
    target_kind: Mapped[str] = mapped_column(String(30), default="", server_default="")
    target_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    detail_json: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="", server_default="")
    session: Mapped[str] = mapped_column(String(16), default="", server_default="")


class SignInHandoff(Base):
    """A one-time sign-in hand-off code (valid a minute), in the store so any replica can redeem
    it: only the code's SHA-256 is kept, and the session token sealed with a key derived from the
    code, so reading the table yields neither a code nor a session (core.sharing's hand-off)."""

    __tablename__ = "sign_in_handoffs"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(100))
    sealed: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Lease(Base):
    """Who runs a once-per-store periodic job (the trash purger) now: the holder renews it while
    alive; another process takes it over once ``expires_at`` has passed (core.store's leases)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInFailure(Base):
    """One failed sign-in, by the name tried (rate limiting; the password is never kept)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_name_ts", "name", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Project(_Timestamped, Base):
    """Where a team's work is organised: every dataset, pipeline, run, study, report and alert
    rule belongs to one project. A project belongs to a user (``owner_user``) or a team
    (``owner_team``); who may do what in it is a role (:class:`ProjectMember`): ``viewer`` (read,
    note), ``member`` (create, fork, launch) or ``admin`` (members, delete, settings). Every member
    of the owning team has ``team_role`` unless a member row says otherwise. ``deleted_at`` puts
    the project, and everything in it, in the trash until it is restored or purged."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_owner", "owner_user", "owner_team"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    owner_user: Mapped[str] = mapped_column(String(100), default="", server_default="")
    owner_team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    team_role: Mapped[str] = mapped_column(String(10), default="member", server_default="member")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleted_by: Mapped[str] = mapped_column(String(100), default="", server_default="")


class ProjectMember(Base):
    """One person's role in one project (``viewer``, ``member`` or ``admin``)."""

    __tablename__ = "project_members"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10))


class Report(_Trashable, _Timestamped, Base):
    """A report people compose from Markdown, run charts, compare tables and study plots. Its
    content lives in :class:`ReportVersion` rows (one per save); it is owned and shared exactly
    like a run (``author``, ``team``, share links)."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_author_team", "author", "team"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # "" = private to its author; else the one team that may view it.
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class ReportVersion(Base):
    """One saved version of a report: its spec (blocks as JSON) and the spec's hash; never
    changed after it is written."""

    __tablename__ = "report_versions"

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_json: Mapped[dict] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertRule(_Timestamped, Base):
    """A rule on a run or a study that fires once: ``failed``, ``finished``, ``threshold`` (a
    metric above or below a value), ``stalled`` (no new point for ``minutes``) or ``best``
    (the study's best value improves on ``baseline``). ``fired_at`` is set by one atomic UPDATE,
    so a rule fires exactly once however many app processes evaluate it."""

    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    target_kind: Mapped[str] = mapped_column(String(10))  # "run" or "study"
    target_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(100), default="")
    op: Mapped[str] = mapped_column(String(10), default="")  # "above" or "below"
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    # An Apprise URL for this rule alone, beside the operator's (LOOM_ALERT_URLS); "" for none.
    url: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100), default="")
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    fired_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    # Why its notifications could not be sent (malformed or unreachable URL); "" when fine.
    error: Mapped[str] = mapped_column(Text, default="")
    # The project it belongs to (core.sharing's projects); None only for rows from before 0012.
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
