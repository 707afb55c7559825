"""The store: SQLAlchemy models, migrations and queries. See ``_models`` for the schema."""

from core.store._db import Store
from core.store._db import close_stores
from core.store._db import open_store
from core.store._db import redact_url
from core.store._models import Base
from core.store._models import Dataset
from core.store._models import Metric
from core.store._models import Note
from core.store._models import Pipeline
from core.store._models import Run
from core.store._models import RunEvent
from core.store._models import RunSummary
from core.store._models import ShareLink
from core.store._models import Study
from core.store._models import Tag
from core.store._models import User
from core.store._models import new_id
from core.store._models import utcnow
from core.store._queries import MetricSeries
from core.store._queries import check_integrity
from core.store._queries import count_rows
from core.store._queries import create_run
from core.store._queries import get_events
from core.store._queries import get_metrics
from core.store._queries import get_run
from core.store._queries import list_runs
from core.store._queries import seconds_since
from core.store._queries import write_metrics

__all__ = [
    "Base",
    "Dataset",
    "Metric",
    "MetricSeries",
    "Note",
    "Pipeline",
    "Run",
    "RunEvent",
    "RunSummary",
    "ShareLink",
    "Store",
    "Study",
    "Tag",
    "User",
    "close_stores",
    "check_integrity",
    "count_rows",
    "create_run",
    "get_events",
    "get_metrics",
    "get_run",
    "list_runs",
    "new_id",
    "open_store",
    "redact_url",
    "seconds_since",
    "utcnow",
    "write_metrics",
]
