"""Sharing: links that reproduce a view for a teammate, with a permission and an expiry.

A link carries an unguessable token (256 bits from :mod:`secrets`); the store keeps only the
token's SHA-256, so reading the database does not yield working links. An unknown, revoked or
expired token and a link to something deleted all get the same not-found answer, so links cannot
be enumerated or probed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import false
from sqlalchemy import select
from sqlalchemy import update

from core.errors import NotFoundError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import Grant
from core.store import Report
from core.store import Run
from core.store import ShareLink
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import audit
from core.store import fetch_owned

__all__ = [
    "NOT_FOUND",
    "PERMISSIONS",
    "TARGETS",
    "create_link",
    "describe_grant",
    "grant_of",
    "link_params",
    "list_links",
    "resolve_grant",
    "resolve_link",
    "revoke_link",
    "token_hash",
]

PERMISSIONS = ("view", "fork")
TARGETS = ("run", "study", "compare", "report")
NOT_FOUND = (
    "Not found: nothing exists at this link. It may have been deleted, or the link revoked or expired."
)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_QUERY_VALUE = re.compile(r"^[\w.,:/ +-]{0,2000}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_owned(store: Store, kind: str, target_id: str, query: dict[str, str], viewer: Viewer) -> None:
    """The target exists, ``viewer`` may see it and owns it. A missing target and another user's
    answer alike (the access rule's not-found): the message must not tell them apart."""
    with store.session(viewer) as s:
        if kind == "run":
            fetch_owned(s, Run, target_id, viewer, "share")
        elif kind == "study":
            fetch_owned(s, Study, target_id, viewer, "share")
        elif kind == "report":
            fetch_owned(s, Report, target_id, viewer, "share")
        else:
            run_ids = [i for i in query.get("runs", "").split(",") if i]
            if not run_ids:
                raise NotFoundError("A comparison link names its runs: pick them on the Experiments page.")
            for run_id in run_ids:
                fetch_owned(s, Run, run_id, viewer, "share")


# Whether a link's target exists is asked as someone who sees every item but the trash (the
# local user's rule): a link to a run, study, report or compare set in the trash opens nothing.
_ANY_LIVE_ITEM = Viewer.local("share-link check")


def _exists(store: Store, kind: str, target_id: str, query: dict[str, str]) -> bool:
    with store.session(_ANY_LIVE_ITEM) as s:
        if kind == "run":
            return s.get(Run, target_id) is not None
        if kind == "study":
            return s.get(Study, target_id) is not None
        if kind == "report":
            return s.get(Report, target_id) is not None
        ids = [i for i in query.get("runs", "").split(",") if i]
        found = set(s.scalars(select(Run.id).where(Run.id.in_(ids)))) if ids else set()
        return bool(ids) and found == set(ids)


def create_link(
    store: Store,
    target_kind: str,
    target_id: str,
    *,
    permission: str = "view",
    query: dict[str, str] | None = None,
    expires_in: timedelta | None = None,
    label: str = "",
    include_notes: bool = False,
    allow_download: bool = False,
    viewer: Viewer,
) -> str:
    """A new share link; returns its token (shown once: only its hash is stored). Only the owner
    of what it shows may make one (for a compare set: of every run in it).

    Args:
        target_kind: "run", "study", "compare" or "report".
        target_id: The run, study or report ID ("" for a compare set, whose runs are in ``query``).
        permission: "view" (read only) or "fork" (may also start a tweaked copy).
        query: The view's query parameters (metric, smoothing, chart...), so the link
            reproduces exactly what its owner saw.
        expires_in: How long it works. Defaults to forever (until revoked).
        label: A note for the owner's list.
        include_notes: The link shows the notes (and their authors' names). Defaults to False:
            a link shows the target's own data only.
        allow_download: A run's link offers its trained model ("Download bundle"). Defaults to
            False.
        viewer: Who makes it; its owner in lists and revocation.

    Raises:
        SpecError: Unknown permission or target kind, or unusable query values.
        NotFoundError: The target does not exist or is not visible to ``viewer``.
        PermissionDeniedError: The target is a teammate's, not the viewer's own.
    """
    query = {str(k): str(v) for k, v in (query or {}).items()}
    if permission not in PERMISSIONS:
        raise SpecError(f"Permission must be one of {PERMISSIONS}, but got {permission!r}.")
    if target_kind not in TARGETS:
        raise SpecError(f"Links point at one of {TARGETS}, not {target_kind!r}.")
    bad = [k for k, v in query.items() if not _QUERY_VALUE.match(k) or not _QUERY_VALUE.match(v)]
    if bad or "share" in query or "token" in query:
        raise SpecError(f"These view settings cannot go in a link: {bad or ['share']}.")
    if expires_in is not None and expires_in.total_seconds() <= 0:
        raise SpecError("A link's lifetime must be positive.")
    _check_owned(store, target_kind, target_id, query, viewer)
    token = secrets.token_urlsafe(32)
    with store.session(viewer) as s:
        s.add(
            ShareLink(
                token=token_hash(token),
                target_kind=target_kind,
                target_id=target_id,
                permission=permission,
                query_json=query,
                expires_at=datetime.now(UTC) + expires_in if expires_in else None,
                revoked=False,
                owner=viewer.name[:100],
                label=label[:200],
                include_notes=bool(include_notes),
                allow_download=bool(allow_download) and target_kind == "run",
            )
        )
        audit(
            s,
            viewer.name,
            "link.create",
            target_kind,
            target_id,
            {"link": token_hash(token)[:12], "permission": permission, "label": label[:200]},
        )
    return token


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_link(store: Store, token: str) -> ShareLink:
    """The link a token opens.

    Raises:
        NotFoundError: :data:`NOT_FOUND`, whatever the reason (malformed, unknown, revoked,
            expired, or its target deleted).
    """
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise NotFoundError(NOT_FOUND)
    with store.session(SYSTEM) as s:
        link = s.get(ShareLink, token_hash(token))
    if (
        link is None
        or link.revoked
        or (link.expires_at is not None and _aware(link.expires_at) <= datetime.now(UTC))
        or not _exists(store, link.target_kind, link.target_id, link.query_json or {})
    ):
        raise NotFoundError(NOT_FOUND)
    return link


def grant_of(link: ShareLink) -> Grant:
    """What a resolved link opens, as the access rule's :class:`Grant`."""
    runs = tuple(i for i in (link.query_json or {}).get("runs", "").split(",") if i)
    return Grant(
        link.target_kind,
        link.target_id,
        runs if link.target_kind == "compare" else (),
        link.permission,
        include_notes=bool(link.include_notes),
        allow_download=bool(link.allow_download),
    )


def describe_grant(grant: Grant) -> str:
    """What a link includes, in words, for the page it opens ("This link shows ...")."""
    what = {"run": "this run's own data", "study": "this study", "compare": "these runs side by side"}
    parts = [what.get(grant.kind, "this report")]
    parts.append("its notes" if grant.include_notes else "no notes")
    if grant.kind == "run":
        parts.append("the model download" if grant.allow_download else "no model download")
    mode = "read only; you may fork it into your own copy" if grant.can_fork else "read only"
    return f"This link shows {', '.join(parts[:-1])} and {parts[-1]} ({mode})."


def resolve_grant(store: Store, token: str) -> Grant:
    """The grant a token gives, checked now (a revoked link stops at the next request).

    Raises:
        NotFoundError: :data:`NOT_FOUND`, whatever the reason.
    """
    return grant_of(resolve_link(store, token))


def list_links(store: Store, *, viewer: Viewer) -> list[ShareLink]:
    """The links ``viewer`` made, newest first (every link for a viewer that sees everything)."""
    query = select(ShareLink).order_by(ShareLink.created_at.desc())
    if not viewer.everything:
        query = query.where(ShareLink.owner == viewer.name) if viewer.name else query.where(false())
    with store.session(viewer) as s:
        return list(s.scalars(query))


def revoke_link(store: Store, hashed: str, *, viewer: Viewer) -> None:
    """Revoke by the stored hash (the owner's list shows links by hash, never by token).

    Raises:
        NotFoundError: No such link among the viewer's own.
    """
    query = update(ShareLink).where(ShareLink.token == hashed)
    if not viewer.everything:
        query = query.where(ShareLink.owner == viewer.name) if viewer.name else query.where(false())
    with store.session(viewer) as s:
        if not s.execute(query.values(revoked=True)).rowcount:  # type: ignore[attr-defined]
            raise NotFoundError("No such link among yours. It may have been revoked already.")
        audit(s, viewer.name, "link.revoke", "link", hashed[:12])


def link_params(link: ShareLink, token: str) -> dict[str, Any]:
    """The query parameters of the view a link opens (the token rides along as ``share``)."""
    params = dict(link.query_json or {})
    if link.target_kind == "run":
        params["run"] = link.target_id
    elif link.target_kind == "study":
        params["study"] = link.target_id
    elif link.target_kind == "report":
        params["report"] = link.target_id
    return {**params, "share": token}
