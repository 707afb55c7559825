"""Finding runs: filters, sorting and pages computed by the database, never in pandas.

A query is data (:class:`ExperimentQuery`) built from the page's URL, so a link reproduces the
list; tampered parameters give a clear error instead of a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from core.errors import SpecError
from core.store import PARTS_OF_SCOPED_ITEMS
from core.store import Dataset
from core.store import Run
from core.store import RunSummary
from core.store import Store
from core.store import Study
from core.store import Tag
from core.store import Viewer
from core.store import in_project
from core.store import sorting_discouraged
from core.store import visible

__all__ = [
    "SORTS",
    "STATUSES",
    "ExperimentQuery",
    "ExperimentRow",
    "StudyRow",
    "list_experiments",
    "list_studies",
]

SORTS = ("created", "name", "status", "metric")
STATUSES = ("queued", "running", "succeeded", "failed", "stopped", "interrupted")
_KINDS = ("train", "external", "study", "predict", "smoke", "ingest")
_ID = re.compile(r"^[0-9a-f]{32}$")
_METRIC = re.compile(r"^[A-Za-z0-9_./-]{1,100}$")


@dataclass(frozen=True)
class ExperimentQuery:
    """What the Experiments page lists.

    Args:
        text: Words in the run's name, or the start of its ID. Defaults to "".
        statuses: Only these statuses; empty means all. Defaults to all.
        kinds: Only these kinds. Defaults to training runs, Loom's and scripts' (``external``).
        tag: Only runs with this tag. Defaults to "".
        dataset: Only runs on this dataset ID. Defaults to "".
        metric: The key metric shown and filtered (its last value). Defaults to "epoch/val_loss".
        metric_min: Keep runs whose metric is >= this. Defaults to None.
        metric_max: Keep runs whose metric is <= this. Defaults to None.
        sort: One of :data:`SORTS`. Defaults to "created".
        descending: Defaults to True.
        page: 1-based. Defaults to 1.
        page_size: Rows per page, 1 to 500. Defaults to 50.
        archived: List archived runs instead of live ones. Defaults to False.
    """

    text: str = ""
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("train", "external")
    tag: str = ""
    dataset: str = ""
    metric: str = "epoch/val_loss"
    metric_min: float | None = None
    metric_max: float | None = None
    sort: str = "created"
    descending: bool = True
    page: int = 1
    page_size: int = 50
    archived: bool = False

    def __post_init__(self) -> None:
        if len(self.text) > 200:
            raise SpecError("The search text is over 200 characters. Shorten it.")
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad:
            raise SpecError(f"Unknown status(es) {bad}. Valid: {', '.join(STATUSES)}.")
        bad = [k for k in self.kinds if k not in _KINDS]
        if bad:
            raise SpecError(f"Unknown kind(s) {bad}. Valid: {', '.join(_KINDS)}.")
        if self.dataset and not _ID.match(self.dataset):
            raise SpecError(f"dataset={self.dataset!r} is not a dataset ID (32 hex digits).")
        if not _METRIC.match(self.metric):
            raise SpecError(f"metric={self.metric!r} is not a metric name such as epoch/val_loss.")
        if len(self.tag) > 50:
            raise SpecError("A tag is at most 50 characters.")
        if self.sort not in SORTS:
            raise SpecError(f"Unknown sort {self.sort!r}. Valid: {', '.join(SORTS)}.")
        if not 1 <= self.page_size <= 500:
            raise SpecError(f"`1 <= page_size <= 500` must hold, but got page_size={self.page_size}.")
        if self.page < 1:
            raise SpecError(f"`page >= 1` must hold, but got page={self.page}.")
        if self.metric_min is not None and self.metric_max is not None and self.metric_min > self.metric_max:
            raise SpecError(
                f"`metric_min <= metric_max` must hold, but got metric_min={self.metric_min}, "
                f"metric_max={self.metric_max}."
            )

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ExperimentQuery:
        """From URL query parameters (strings); unknown parameters are ignored."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in params.items():
            if name not in known:
                continue
            try:
                if name in ("statuses", "kinds"):
                    values[name] = tuple(p for p in raw.split(",") if p)
                elif name in ("page", "page_size"):
                    values[name] = int(raw)
                elif name in ("metric_min", "metric_max"):
                    values[name] = float(raw) if raw != "" else None
                elif name in ("descending", "archived"):
                    values[name] = raw.lower() in ("1", "true", "yes")
                else:
                    values[name] = raw
            except ValueError:
                raise SpecError(f"The link's {name}={raw!r} is not valid: expected a number.") from None
        return cls(**values)

    def to_params(self) -> dict[str, str]:
        """The non-default settings as URL query parameters."""
        out = {}
        default = ExperimentQuery()
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            out[f.name] = (
                ",".join(value)
                if isinstance(value, tuple)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
        return out


@dataclass(frozen=True)
class ExperimentRow:
    id: str
    name: str
    kind: str
    status: str
    dataset: str
    metric: float | None
    author: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    parent_id: str | None
    study_id: str | None
    tags: list[str] = field(default_factory=list)
    team: str = ""
    backend: str = ""  # what a training run trains on (run_backend); "" for other kinds
    model: str = ""  # a training run's model kind (run_model): "MLP", "random forest"...

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def run_backend(kind: str, spec: Any) -> str:
    """What a run trains on, for lists and comparisons: a training run's Keras backend
    (``TrainSpec.backend``; specs stored before it existed trained on TensorFlow), or
    ``"scikit-learn"`` for an estimator; "" for other kinds of run."""
    if kind != "train" or not isinstance(spec, dict):
        return ""
    model = spec.get("model")
    if isinstance(model, dict) and model.get("type") == "estimator":
        return "scikit-learn"
    return str(spec.get("backend") or "tensorflow")


def run_model(kind: str, spec: Any) -> str:
    """A training run's model kind for lists and comparisons (``MLP``, ``CNN``, ``random
    forest``...); "" for other kinds of run."""
    from core.models import model_label

    if kind != "train" or not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        return ""
    return model_label(spec["model"])


def _filtered(q: ExperimentQuery, metric_value: Any, viewer: Viewer) -> Select[Any]:
    stmt = select(Run.id).where(Run.archived.is_(q.archived), visible(Run, viewer), in_project(Run, viewer))
    if q.kinds:
        stmt = stmt.where(Run.kind.in_(q.kinds))
    if q.statuses:
        stmt = stmt.where(Run.status.in_(q.statuses))
    if q.dataset:
        stmt = stmt.where(Run.dataset_id == q.dataset)
    if q.text:
        words = q.text.split()
        conditions = [Run.name.ilike(f"%{_escape_like(w)}%", escape="\\") for w in words]
        stmt = stmt.where(or_(and_(*conditions), Run.id.startswith(q.text.strip().lower(), autoescape=True)))
    if q.tag:
        stmt = stmt.where(Run.id.in_(select(Tag.target_id).where(Tag.target_kind == "run", Tag.tag == q.tag)))
    if q.metric_min is not None:
        stmt = stmt.where(metric_value >= q.metric_min)
    if q.metric_max is not None:
        stmt = stmt.where(metric_value <= q.metric_max)
    return stmt


def _page_ids(
    s: Any,
    q: ExperimentQuery,
    matches: Select[Any],
    summary: Any,
    bounded: bool,
    offset: int,
    size: int,
    parts: Any,
) -> list[str]:
    """The IDs of ``size`` runs from ``offset`` in the sort's order; ties (and runs without the
    metric) in the ID's order, in the sort's direction so that one index walk reads them.

    PostgreSQL charges the access rule's hashed subplans to every probe of a walk, so for a
    signed-in viewer it hashed and sorted every match (1.6 s at 1,000,000 runs) instead of
    walking the sort's index to the page (40 ms): unless a filter that may match few runs (text,
    tag, dataset) is set, the page's statement runs with sorting discouraged (``enable_sort``)."""
    if q.text or q.tag or q.dataset:
        return _ordered_ids(s, q, matches, summary, bounded, offset, size, parts)
    with sorting_discouraged(s):
        return _ordered_ids(s, q, matches, summary, bounded, offset, size, parts)


def _ordered_ids(
    s: Any,
    q: ExperimentQuery,
    matches: Select[Any],
    summary: Any,
    bounded: bool,
    offset: int,
    size: int,
    parts: Any,
) -> list[str]:

    def direction(column: Any) -> Any:
        return column.desc() if q.descending else column.asc()

    if q.sort != "metric":
        key = {"created": Run.created_at, "name": Run.name, "status": Run.status}[q.sort]
        page = matches.order_by(direction(key), direction(Run.id)).limit(size).offset(offset)
        return list(s.scalars(page, execution_options=parts))
    ranked = matches if bounded else matches.join(summary, summary.c.run_id == Run.id)
    page = ranked.order_by(direction(summary.c.last), direction(summary.c.run_id)).limit(size).offset(offset)
    ids = list(s.scalars(page, execution_options=parts))
    if bounded or len(ids) == size:
        return ids
    # Past the runs with the metric: those without it follow, by ID. How many have it is known
    # from this page when it holds some; counted when the page starts past them all.
    with_metric = offset + len(ids)
    if not ids:
        with_metric = s.scalar(select(func.count()).select_from(ranked.subquery()), execution_options=parts)
    has_metric = select(RunSummary.run_id).where(RunSummary.run_id == Run.id, RunSummary.key == q.metric)
    rest = (
        matches.where(~has_metric.exists())
        .order_by(direction(Run.id))
        .limit(size - len(ids))
        .offset(max(0, offset - with_metric))
    )
    return ids + list(s.scalars(rest, execution_options=parts))


def _tags(s: Any, kind: str, ids: list[str]) -> dict[str, list[str]]:
    """The tags of these runs or studies (already filtered by who may see them), by target."""
    tags: dict[str, list[str]] = {}
    if ids:
        query = (
            select(Tag.target_id, Tag.tag)
            .where(Tag.target_kind == kind, Tag.target_id.in_(ids))
            .order_by(Tag.tag)
        )
        for target, tag in s.execute(query):
            tags.setdefault(target, []).append(tag)
    return tags


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_experiments(
    store: Store, q: ExperimentQuery, *, viewer: Viewer, count_limit: int | None = None
) -> tuple[list[ExperimentRow], int]:
    """One page of the runs ``viewer`` may see matching ``q``, and how many match in all.

    Args:
        count_limit: Count the matches only up to this many: the count returned is then at most
            ``count_limit + 1``, which means "more than ``count_limit``". Defaults to None (an
            exact count, which reads every match: seconds for 1,000,000 runs). Up to the page's
            last row (``page * page_size``) the page itself counts: one row more than the page
            is read, and no count query runs unless the page is past the last match.

    Two steps, so that 1,000,000 runs list as fast as 1,000: the page's IDs from the runs table
    alone (joined to the metric's summaries only when the query filters or sorts by it), read in
    the sort's order from its index (``ORDER BY key, id`` with a LIMIT: the database stops at the
    page instead of sorting every match), then the rows with everything shown about them.
    """
    summary = select(RunSummary.run_id, RunSummary.last).where(RunSummary.key == q.metric).subquery("summary")
    matches = _filtered(q, summary.c.last, viewer)
    bounded = q.metric_min is not None or q.metric_max is not None
    if bounded:
        matches = matches.join(summary, summary.c.run_id == Run.id)  # a bound drops runs without it
    offset = (q.page - 1) * q.page_size
    # The summaries and tags read here are those of runs the same statement reads (or of IDs it
    # found): the runs' access rule scopes them, once.
    parts = {PARTS_OF_SCOPED_ITEMS: True}
    counted = matches if count_limit is None else matches.limit(count_limit + 1)
    count = select(func.count()).select_from(counted.subquery())
    with store.session(viewer) as s:
        ids: list[str] = []
        if count_limit is not None and count_limit <= offset + q.page_size:
            ids = _page_ids(s, q, matches, summary, bounded, offset, q.page_size + 1, parts)
            if ids:  # a row past the page means more; a short page ends the matches
                total = min(offset + len(ids), count_limit + 1)
                ids = ids[: q.page_size]
            else:  # past the last match: how many there are
                total = s.scalar(count, execution_options=parts) or 0
        else:
            total = s.scalar(count, execution_options=parts) or 0
            if offset < total or (count_limit is not None and total > count_limit):
                ids = _page_ids(s, q, matches, summary, bounded, offset, q.page_size, parts)
        stmt = (
            select(Run, summary.c.last, Dataset.name)
            .outerjoin(summary, summary.c.run_id == Run.id)
            .outerjoin(Dataset, (Dataset.id == Run.dataset_id) & visible(Dataset, viewer))
            .where(Run.id.in_(ids))
        )
        place = {run_id: i for i, run_id in enumerate(ids)}
        rows = sorted(s.execute(stmt, execution_options=parts).all(), key=lambda r: place[r[0].id])
        tags = _tags(s, "run", ids)
    out = [
        ExperimentRow(
            id=run.id,
            name=run.name,
            kind=run.kind,
            status=run.status,
            dataset=dataset or "",
            metric=last,
            author=run.author,
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
            parent_id=run.parent_id,
            study_id=run.study_id,
            tags=tags.get(run.id, []),
            team=run.team,
            backend=run_backend(run.kind, run.spec_json),
            model=run_model(run.kind, run.spec_json),
        )
        for run, last, dataset in rows
    ]
    return out, total


@dataclass(frozen=True)
class StudyRow:
    id: str
    name: str
    status: str
    author: str
    team: str
    created_at: datetime
    tags: list[str] = field(default_factory=list)


def list_studies(store: Store, *, viewer: Viewer, limit: int = 200) -> list[StudyRow]:
    """The studies ``viewer`` may see, newest first, with their tags."""
    with store.session(viewer) as s:
        rows = s.execute(
            select(Study.id, Study.name, Study.status, Study.author, Study.team, Study.created_at)
            .where(visible(Study, viewer), in_project(Study, viewer), Study.archived.is_(False))
            .order_by(Study.created_at.desc())
            .limit(limit)
        ).all()
        tags = _tags(s, "study", [r[0] for r in rows])
    return [StudyRow(*r, tags=tags.get(r[0], [])) for r in rows]
