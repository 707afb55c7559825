"""Reports in the store: each save a new version; owned, team-visible and shared like runs.

Who may see a report, and which runs and studies inside it, is decided here and in core.store's
access rule, in the queries themselves: a page never filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update

from core.errors import NotFoundError
from core.errors import SpecError
from core.reports._spec import ReportSpec
from core.store import SYSTEM
from core.store import Grant
from core.store import Report
from core.store import ReportVersion
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import audit
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import in_project
from core.store import utcnow
from core.store import visible

__all__ = [
    "ReportRecord",
    "ReportRow",
    "delete_report",
    "get_report",
    "list_reports",
    "reader_of",
    "save_report",
    "set_report_team",
]


@dataclass(frozen=True)
class ReportRow:
    """A report in a list: its newest title and version."""

    id: str
    title: str
    author: str
    team: str
    latest_version: int
    created_at: datetime


@dataclass(frozen=True)
class ReportRecord:
    """One version of a report, as a reader sees it.

    Attributes:
        versions: Every version's (number, saved at, by whom), oldest first.
    """

    id: str
    author: str
    team: str
    version: int
    latest_version: int
    spec: ReportSpec
    spec_hash: str
    saved_at: datetime
    versions: tuple[tuple[int, datetime, str], ...]
    project_id: str = ""


def _not_found(report_id: str) -> NotFoundError:
    return NotFoundError(
        f"There is no report {str(report_id)[:64]!r}. It may have been deleted, or it is not shared "
        "with you; pick one from the list."
    )


def save_report(
    store: Store, spec: ReportSpec, *, report_id: str | None = None, team: str | None = None, viewer: Viewer
) -> tuple[str, int]:
    """Save ``spec`` as a new report (version 1), or as the next version of ``report_id``.
    Saving exactly what the newest version holds writes nothing and returns that version.

    Args:
        spec: The report.
        report_id: The report to add a version to. Defaults to None (a new report).
        team: Who sees it: "" only its owner, else one of the owner's teams. Defaults to None
            (private for a new report, unchanged for an existing one).
        viewer: Who saves; only the owner may save a version.

    Returns:
        (report ID, version number).

    Raises:
        PermissionDeniedError: Not signed in, not a member of ``team``, or not the owner.
        NotFoundError: No such report visible to ``viewer``.
    """
    viewer.require_create(team or "")
    data, digest = spec.to_dict(), spec.hash
    with store.session(viewer) as s:
        if report_id is None:
            row = Report(
                title=spec.title,
                author=viewer.name[:100],
                team=team or "",
                latest_version=1,
                project_id=viewer.project or None,
            )
            s.add(row)
            s.flush()
            s.add(
                ReportVersion(
                    report_id=row.id, version=1, spec_json=data, spec_hash=digest, author=row.author
                )
            )
            return row.id, 1
        try:
            row = fetch_owned(s, Report, report_id, viewer, "change")
        except NotFoundError as exc:
            raise _not_found(report_id) from exc
        latest = s.get(ReportVersion, (row.id, row.latest_version))
        if team is not None:
            row.team = team
        if latest is not None and latest.spec_hash == digest:
            return row.id, row.latest_version
        # The number comes from one UPDATE that increments it: two saves at once get two
        # numbers (the second waits for the first's row lock), never the same one.
        version = s.execute(
            update(Report)
            .where(Report.id == row.id)
            .values(latest_version=Report.latest_version + 1, title=spec.title)
            .returning(Report.latest_version)
        ).scalar_one()
        s.add(
            ReportVersion(
                report_id=row.id,
                version=version,
                spec_json=data,
                spec_hash=digest,
                author=viewer.name[:100],
                created_at=utcnow(),
            )
        )
        return row.id, int(version)


def get_report(store: Store, report_id: str, version: int | None = None, *, viewer: Viewer) -> ReportRecord:
    """One version of a report ``viewer`` may see.

    Args:
        report_id: The report.
        version: Which version. Defaults to None (the newest).
        viewer: Who reads.

    Raises:
        NotFoundError: No such report visible to ``viewer``, or no such version.
    """
    with store.session(viewer) as s:
        try:
            row = fetch_visible(s, Report, report_id, viewer)
        except NotFoundError as exc:
            raise _not_found(report_id) from exc
        versions = s.execute(
            select(ReportVersion.version, ReportVersion.created_at, ReportVersion.author)
            .where(ReportVersion.report_id == row.id)
            .order_by(ReportVersion.version)
        ).all()
        wanted = row.latest_version if version is None else version
        stored = s.get(ReportVersion, (row.id, wanted))
        if stored is None:
            raise NotFoundError(
                f"Report {row.title!r} has no version {wanted}; it has versions 1 to {row.latest_version}."
            )
        return ReportRecord(
            id=row.id,
            author=row.author,
            team=row.team,
            version=stored.version,
            latest_version=row.latest_version,
            spec=ReportSpec.from_dict(stored.spec_json),
            spec_hash=stored.spec_hash,
            saved_at=stored.created_at,
            versions=tuple((v, at, by) for v, at, by in versions),
            project_id=row.project_id or "",
        )


def list_reports(store: Store, *, viewer: Viewer, limit: int = 200) -> list[ReportRow]:
    """The reports ``viewer`` may see, newest first."""
    query = (
        select(Report)
        .where(visible(Report, viewer), in_project(Report, viewer))
        .order_by(Report.created_at.desc())
        .limit(limit)
    )
    with store.session(viewer) as s:
        return [
            ReportRow(r.id, r.title, r.author, r.team, r.latest_version, r.created_at)
            for r in s.scalars(query)
        ]


def delete_report(store: Store, report_id: str, *, viewer: Viewer) -> None:
    """Delete a report to the trash (core.ops; purged with every version after LOOM_TRASH_DAYS);
    whoever may change it may; the runs it shows are untouched.

    Raises:
        NotFoundError: No such report visible to ``viewer``.
        PermissionDeniedError: A teammate's report.
    """
    with store.session(viewer) as s:
        try:
            row = fetch_owned(s, Report, report_id, viewer, "delete")
        except NotFoundError as exc:
            raise _not_found(report_id) from exc
        row.deleted_at, row.deleted_by = utcnow(), viewer.name or "system"
        audit(s, viewer.name, "report.delete", "report", row.id, {"title": row.title})


def set_report_team(store: Store, report_id: str, team: str, *, viewer: Viewer) -> None:
    """Who sees a report: "" only its owner, else one of the owner's teams (owner only).

    Raises:
        NotFoundError: No such report visible to ``viewer``.
        PermissionDeniedError: Not the owner, or not a member of ``team``.
    """
    if not viewer.may_use_team(team):
        raise SpecError(f"You are not a member of team {team[:100]!r}. Pick one of your teams.")
    with store.session(viewer) as s:
        try:
            row = fetch_owned(s, Report, report_id, viewer, "share")
        except NotFoundError as exc:
            raise _not_found(report_id) from exc
        row.team = team
        audit(s, viewer.name, "report.visibility", "report", row.id, {"team": team})


def reader_of(store: Store, record: ReportRecord, viewer: Viewer) -> Viewer:
    """The viewer to read ``record``'s runs and studies as.

    Through the report's own share link, the link opens (read only) exactly the runs and studies
    of this version that the report's owner owns, as a run's link opens that run; everything
    else is read with the reader's own rights. Any other viewer reads with their own rights.
    """
    grant = viewer.grant
    if grant is None or grant.kind != "report" or grant.target_id != record.id:
        return viewer
    run_ids, study_ids = record.spec.run_ids, record.spec.study_ids
    # Deciding what the link opens reads ownership as Loom itself: the link is the credential.
    with store.session(SYSTEM) as s:
        runs: list[str] = []
        studies: list[str] = []
        if run_ids:
            runs = list(s.scalars(select(Run.id).where(Run.id.in_(run_ids), Run.author == record.author)))
        if study_ids:
            query = select(Study.id).where(Study.id.in_(study_ids), Study.author == record.author)
            studies = list(s.scalars(query))
        opened = Grant(
            "report",
            record.id,
            run_ids=tuple(runs),
            permission="view",
            study_ids=tuple(studies),
        )
    return viewer.with_grant(opened)
