"""The store: SQLAlchemy models, migrations and queries. See ``_models`` for the schema."""

from core.store._access import ROLES
from core.store._access import SYSTEM
from core.store._access import Grant
from core.store._access import Viewer
from core.store._access import can_see
from core.store._access import fetch_owned
from core.store._access import fetch_visible
from core.store._access import in_project
from core.store._access import owned
from core.store._access import projects_with_role
from core.store._access import through_grant_only
from core.store._access import visible
from core.store._audit import audit
from core.store._audit import audit_origin
from core.store._curve_reads import metric_view
from core.store._curve_reads import metrics_since
from core.store._curves import MetricView
from core.store._curves import downsample
from core.store._curves import extend_view
from core.store._db import Store
from core.store._db import close_stores
from core.store._db import open_existing_store
from core.store._db import open_store
from core.store._db import redact_url
from core.store._db import sqlite_pragmas
from core.store._lease import hold_lease
from core.store._lease import lease_holder
from core.store._lease import lease_holder_id
from core.store._lease import release_lease
from core.store._models import AlertRule
from core.store._models import AuditEvent
from core.store._models import Base
from core.store._models import Dataset
from core.store._models import Evaluation
from core.store._models import Lease
from core.store._models import Metric
from core.store._models import MetricBlock
from core.store._models import Note
from core.store._models import Pipeline
from core.store._models import Project
from core.store._models import ProjectMember
from core.store._models import Report
from core.store._models import ReportVersion
from core.store._models import Run
from core.store._models import RunEvent
from core.store._models import RunSummary
from core.store._models import ShareLink
from core.store._models import SignInFailure
from core.store._models import SignInHandoff
from core.store._models import Study
from core.store._models import Tag
from core.store._models import Team
from core.store._models import TeamMember
from core.store._models import User
from core.store._models import UserSession
from core.store._models import new_id
from core.store._models import utcnow
from core.store._projects import DEFAULT_PROJECT
from core.store._projects import default_project
from core.store._projects import role_of
from core.store._queries import MetricSeries
from core.store._queries import check_integrity
from core.store._queries import child_runs
from core.store._queries import count_rows
from core.store._queries import create_run
from core.store._queries import get_events
from core.store._queries import get_metrics
from core.store._queries import get_run
from core.store._queries import list_runs
from core.store._queries import seconds_since
from core.store._queries import summarize_run
from core.store._queries import write_metrics
from core.store._quota import QUOTA_CACHE_S
from core.store._quota import check_quota
from core.store._quota import database_sizes
from core.store._quota import decimal_bytes
from core.store._quota import forget_usage
from core.store._quota import set_team_quota
from core.store._quota import team_quotas
from core.store._quota import team_usage
from core.store._records import ColumnProfile
from core.store._records import DatasetRecord
from core.store._records import PipelineRecord
from core.store._records import PredictionResult
from core.store._records import Profile
from core.store._records import RunRecord
from core.store._records import RunResult
from core.store._records import StudyRecord
from core.store._records import thaw
from core.store._scope import PARTS_OF_SCOPED_ITEMS
from core.store._scope import sorting_discouraged

__all__ = [
    "DEFAULT_PROJECT",
    "PARTS_OF_SCOPED_ITEMS",
    "sorting_discouraged",
    "QUOTA_CACHE_S",
    "ROLES",
    "SYSTEM",
    "AlertRule",
    "AuditEvent",
    "Base",
    "ColumnProfile",
    "Dataset",
    "DatasetRecord",
    "Evaluation",
    "Grant",
    "Lease",
    "Metric",
    "MetricBlock",
    "MetricSeries",
    "MetricView",
    "Note",
    "Pipeline",
    "PipelineRecord",
    "PredictionResult",
    "Project",
    "ProjectMember",
    "Profile",
    "Report",
    "ReportVersion",
    "Run",
    "RunEvent",
    "RunRecord",
    "RunResult",
    "RunSummary",
    "ShareLink",
    "SignInFailure",
    "SignInHandoff",
    "Store",
    "Study",
    "StudyRecord",
    "Tag",
    "Team",
    "TeamMember",
    "User",
    "UserSession",
    "Viewer",
    "audit",
    "audit_origin",
    "check_integrity",
    "child_runs",
    "close_stores",
    "count_rows",
    "create_run",
    "default_project",
    "downsample",
    "extend_view",
    "fetch_owned",
    "fetch_visible",
    "get_events",
    "get_metrics",
    "get_run",
    "in_project",
    "list_runs",
    "metric_view",
    "metrics_since",
    "new_id",
    "open_existing_store",
    "open_store",
    "owned",
    "projects_with_role",
    "role_of",
    "redact_url",
    "seconds_since",
    "sqlite_pragmas",
    "summarize_run",
    "thaw",
    "through_grant_only",
    "can_see",
    "utcnow",
    "visible",
    "write_metrics",
    "check_quota",
    "database_sizes",
    "decimal_bytes",
    "forget_usage",
    "set_team_quota",
    "team_quotas",
    "team_usage",
    "hold_lease",
    "lease_holder",
    "lease_holder_id",
    "release_lease",
]
