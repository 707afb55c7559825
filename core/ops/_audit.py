"""Reading the audit log (``audit_events``, written by :func:`core.store.audit`): the Admin
page's table and ``python -m core audit``. Reading only: nothing in Loom updates or deletes
these rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select

from core.errors import SpecError
from core.store import SYSTEM
from core.store import AuditEvent

__all__ = ["AUDIT_FORMATS", "AuditEntry", "count_audit", "export_audit", "parse_moment", "read_audit"]

AUDIT_FORMATS = ("jsonl", "csv")
_FIELDS = ("id", "ts", "actor", "action", "target_kind", "target_id", "detail", "ip", "session")


@dataclass(frozen=True)
class AuditEntry:
    """One audit row: who (``actor``) did what (``action``) to what (``target_kind``/``target_id``), when."""

    id: int
    ts: datetime
    actor: str
    action: str
    target_kind: str
    target_id: str
    detail: dict[str, Any]
    ip: str
    session: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "detail": self.detail,
            "ip": self.ip,
            "session": self.session,
        }


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time (``2026-12-05`` or ``2026-12-05T08:00``), UTC unless it says.

    Raises:
        SpecError: Not an ISO date.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SpecError(
            f"{text[:40]!r} is not an ISO date. Use e.g. 2026-12-05 or 2026-12-05T08:00."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _query(since: datetime | None, until: datetime | None, actor: str, action: str) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if since is not None:
        query = query.where(AuditEvent.ts >= since)
    if until is not None:
        query = query.where(AuditEvent.ts < until)
    if actor:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    if action:
        # "user" matches every user.* action; "user.create" only itself.
        action = action.strip()
        query = query.where(
            AuditEvent.action == action if "." in action else AuditEvent.action.startswith(f"{action}.")
        )
    return query


def _entry(row: AuditEvent) -> AuditEntry:
    ts = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=UTC)
    return AuditEntry(
        row.id, ts, row.actor, row.action, row.target_kind, row.target_id, dict(row.detail_json or {}),
        row.ip, row.session,
    )  # fmt: skip


def read_audit(
    store: Any,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str = "",
    action: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[AuditEntry]:
    """Audit rows, newest first. The caller checks that its viewer is a site admin
    (:func:`core.sharing.is_site_admin`).

    Args:
        store: The store.
        since: Rows at or after this moment. Defaults to None (from the first).
        until: Rows before this moment. Defaults to None (to now).
        actor: Only this actor's rows. Defaults to "" (everyone's).
        action: Only this action (``user.create``), or every action of a kind (``user``).
            Defaults to "" (all).
        limit: At most this many rows. Defaults to 50.
        offset: Skip this many of the newest first (paging). Defaults to 0.

    Returns:
        The rows as :class:`AuditEntry`, newest first.
    """
    query = _query(since, until, actor, action).order_by(AuditEvent.ts.desc(), AuditEvent.id.desc())
    with store.session(SYSTEM) as s:
        rows = s.scalars(query.limit(max(0, limit)).offset(max(0, offset))).all()
        return [_entry(r) for r in rows]


def count_audit(
    store: Any,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str = "",
    action: str = "",
) -> int:
    """How many audit rows :func:`read_audit` would page through with the same filters."""
    query = _query(since, until, actor, action)
    with store.session(SYSTEM) as s:
        return int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)


def export_audit(
    store: Any, *, since: datetime | None = None, actor: str = "", action: str = "", fmt: str = "jsonl"
) -> Iterator[str]:
    """The audit log, oldest first, as JSON lines or CSV (a header, then one line per row).

    Args:
        store: The store.
        since: Rows at or after this moment. Defaults to None (all).
        actor: Only this actor's rows. Defaults to "" (everyone's).
        action: As in :func:`read_audit`. Defaults to "".
        fmt: ``jsonl`` or ``csv``. Defaults to "jsonl".

    Raises:
        SpecError: An unknown format.
    """
    if fmt not in AUDIT_FORMATS:
        raise SpecError(
            f"The audit export's format must be one of {', '.join(AUDIT_FORMATS)}, but got {fmt!r}."
        )
    query = _query(since, None, actor, action).order_by(AuditEvent.ts, AuditEvent.id)
    if fmt == "csv":
        yield _csv_line(_FIELDS)
    with store.session(SYSTEM) as s:
        for row in s.scalars(query.execution_options(yield_per=500)):
            entry = _entry(row).to_dict()
            if fmt == "jsonl":
                yield json.dumps(entry, sort_keys=False)
            else:
                entry["detail"] = json.dumps(entry["detail"]) if entry["detail"] else ""
                yield _csv_line([str(entry[f]) for f in _FIELDS])


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()
