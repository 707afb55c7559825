"""Leases: one process at a time runs a periodic job that must run once per store.

Two app processes (replicas) on one store each start the same background threads. A job that
must not run twice at once (the trash purger: it would purge, audit and delete files twice)
first holds a lease: a row ``(name, holder, expires_at)`` in the store. The holder renews it on
every run; another process takes it over only once it has expired (its holder died or hung).

Why a row and not ``pg_try_advisory_lock``: an advisory lock belongs to one database connection,
so the job would have to pin a pooled connection for as long as it leads, and the lock vanishes
silently when that connection drops; and SQLite has none, so it would need a second mechanism
(a file lock, on one machine only). A lease row with an expiry is the one mechanism that works
the same on both backends and across machines — Kubernetes' ``Lease`` objects and client-go's
leader election work this way — and each take-over is one conditional UPDATE, atomic on both.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core.store._access import SYSTEM
from core.store._db import Store
from core.store._models import Lease
from core.store._models import utcnow

__all__ = ["hold_lease", "lease_holder", "lease_holder_id", "release_lease"]


def lease_holder_id(job: str) -> str:
    """A holder name unique to this process and job: host, process ID and a random suffix (a
    restarted process with a reused PID is still someone else)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{job[:40]}:{uuid.uuid4().hex[:12]}"


def hold_lease(store: Store, name: str, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the lease ``name`` for ``seconds``.

    Args:
        store: The store.
        name: The job's lease, e.g. ``"trash-purger"``.
        holder: Who asks (:func:`lease_holder_id`).
        seconds: How long the lease lasts unless renewed; longer than the job's interval, so a
            live holder keeps it.
        now: The time. Defaults to now.

    Returns:
        True if ``holder`` holds the lease now (it was free, expired or already theirs).
    """
    now = now or utcnow()
    until = now + timedelta(seconds=seconds)
    with store.session(SYSTEM) as s:
        # One conditional UPDATE: of two processes racing for an expired lease, one matches.
        done = s.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=until)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if s.scalar(select(Lease.name).where(Lease.name == name)) is not None:
            return False  # someone else holds it
        try:
            s.add(Lease(name=name, holder=holder, expires_at=until))
            s.flush()
        except IntegrityError:  # another process made the row first: theirs
            s.rollback()
            return False
    return True


def release_lease(store: Store, name: str, holder: str) -> None:
    """Give the lease up (a process that stops), if ``holder`` holds it; a no-op otherwise."""
    with store.session(SYSTEM) as s:
        s.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def lease_holder(store: Store, name: str, now: datetime | None = None) -> str | None:
    """Who holds the lease ``name`` now; None if nobody does (free or expired)."""
    now = now or utcnow()
    with store.session(SYSTEM) as s:
        return s.scalar(select(Lease.holder).where(Lease.name == name, Lease.expires_at > now))
