"""The audit log: who did what, when. :func:`audit` adds one row to ``audit_events`` inside the
caller's session, so the row commits (or rolls back) with the change it records. Nothing in Loom
updates or deletes these rows; on PostgreSQL a trigger refuses it (migration 0013)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from core.store._models import AuditEvent

__all__ = ["audit", "audit_origin"]

# Where the request came from (the browser's address, a short prefix of its session token's hash,
# and who acts when a function is not told: the CLI's "cli:<account>"), set around a request.
_ORIGIN: contextvars.ContextVar[tuple[str, str, str]] = contextvars.ContextVar(
    "loom_audit_origin", default=("", "", "")
)


@contextmanager
def audit_origin(ip: str = "", session: str = "", actor: str = "") -> Iterator[None]:
    """Tags the audit rows written inside the block with the request's address and session.

    Args:
        ip: The client's address. Defaults to "".
        session: A short, non-secret prefix of the session token's hash. Defaults to "".
        actor: Who acts where a row names no actor (the CLI's operator). Defaults to "".
    """
    token = _ORIGIN.set((ip[:64], session[:16], actor[:100]))
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def audit(
    session: Session,
    actor: str,
    action: str,
    target_kind: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Adds one audit row to ``session`` (committed with the change it records).

    Args:
        session: The store session that makes the change.
        actor: Who did it (a user name); "" for the actor of :func:`audit_origin`, if any.
        action: What, as ``noun.verb`` (``user.create``, ``link.revoke``, ``run.delete``).
        target_kind: What kind of thing it was done to. Defaults to "".
        target_id: Its ID or name. Defaults to "".
        detail: Anything else worth keeping (never a secret). Defaults to None.
    """
    ip, sid, default_actor = _ORIGIN.get()
    session.add(
        AuditEvent(
            actor=(actor or default_actor)[:100],
            action=action[:60],
            target_kind=target_kind[:30],
            target_id=str(target_id)[:200],
            detail_json=detail or None,
            ip=ip,
            session=sid,
        )
    )
