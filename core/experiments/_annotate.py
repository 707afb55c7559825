"""Tags, notes, archiving and deletion of runs and studies."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.store import Note
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Tag
from core.store import Viewer
from core.store import audit
from core.store import can_see
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import owned
from core.store import through_grant_only
from core.store import utcnow

__all__ = [
    "NOTE_MAX_CHARS",
    "add_note",
    "add_tag",
    "delete_runs",
    "list_notes",
    "remove_tag",
    "set_archived",
    "set_team",
    "tags_of",
]

NOTE_MAX_CHARS = 10_000
_TAG = re.compile(r"^[\w][\w .:+-]{0,49}$")
_TARGETS = ("run", "study")


def _target(store: Store, kind: str, target_id: str, viewer: Viewer, write: bool = False) -> None:
    """Check the target exists and ``viewer`` may see it; writing (a note, a tag) also needs a
    signed-in (or local) user: a share-link visitor only reads."""
    if kind not in _TARGETS:
        raise SpecError(f"Notes and tags go on runs or studies, not {kind!r}.")
    model = Run if kind == "run" else Study
    with store.session(viewer) as s:
        fetch_visible(s, model, target_id, viewer)
    if write:
        viewer.require_create()


def _can_see(kind: str, target_id: str, viewer: Viewer):  # type: ignore[no-untyped-def]
    return can_see(Run if kind == "run" else Study, target_id, viewer)


def clean_tag(tag: str) -> str:
    tag = unicodedata.normalize("NFC", tag.strip())
    if not _TAG.match(tag):
        raise SpecError(
            f"Tag {tag[:60]!r} is not valid: 1 to 50 letters, digits, spaces or . : + - _, starting "
            "with a letter or digit."
        )
    return tag


def add_tag(store: Store, kind: str, target_id: str, tag: str, *, viewer: Viewer) -> str:
    """Tag a run or study ``viewer`` may see (owner or teammate)."""
    tag = clean_tag(tag)
    _target(store, kind, target_id, viewer, write=True)
    author = viewer.name
    with store.session(viewer) as s:
        exists = s.scalar(
            select(Tag.id).where(Tag.target_kind == kind, Tag.target_id == target_id, Tag.tag == tag)
        )
        if exists is None:
            s.add(Tag(target_kind=kind, target_id=target_id, tag=tag, author=author[:100]))
    return tag


def remove_tag(store: Store, kind: str, target_id: str, tag: str, *, viewer: Viewer) -> None:
    _target(store, kind, target_id, viewer, write=True)
    with store.session(viewer) as s:
        s.execute(delete(Tag).where(Tag.target_kind == kind, Tag.target_id == target_id, Tag.tag == tag))


def tags_of(store: Store, kind: str, target_id: str, *, viewer: Viewer) -> list[str]:
    """The tags of a run or study (none for one ``viewer`` may not see)."""
    with store.session(viewer) as s:
        return list(
            s.scalars(
                select(Tag.tag)
                .where(
                    Tag.target_kind == kind,
                    Tag.target_id == target_id,
                    _can_see(kind, target_id, viewer),
                )
                .order_by(Tag.tag)
            )
        )


def add_note(store: Store, kind: str, target_id: str, body: str, *, viewer: Viewer) -> Note:
    """A note with its author and time on a run or study ``viewer`` may see (owner or teammate).
    Plain text: pages render it as text, never markup."""
    author = viewer.name
    body = body.strip()
    if not body:
        raise SpecError("The note is empty.")
    if len(body) > NOTE_MAX_CHARS:
        raise SpecError(
            f"The note has {len(body):,} characters; the limit is {NOTE_MAX_CHARS:,}. Shorten it or "
            "attach the text as a file."
        )
    _target(store, kind, target_id, viewer, write=True)
    with store.session(viewer) as s:
        note = Note(target_kind=kind, target_id=target_id, author=author[:100], body=body)
        s.add(note)
        s.flush()
        s.expunge(note)
    return note


def list_notes(store: Store, kind: str, target_id: str, *, viewer: Viewer) -> list[Note]:
    """The notes on a run or study, oldest first (none for one ``viewer`` may not see).

    Raises:
        PermissionDeniedError: ``viewer`` sees it only through a share link that leaves notes
            out (a link shows its target's own data; "Include notes" is an option of the link).
    """
    grant = viewer.grant
    with store.session(viewer) as s:
        if (
            grant is not None
            and not grant.shows_notes(kind, target_id)
            and kind in _TARGETS
            and through_grant_only(s, Run if kind == "run" else Study, target_id, viewer)
        ):
            raise PermissionDeniedError(
                "This link does not include notes. Ask its owner for a link with “Include notes”."
            )
        return list(
            s.scalars(
                select(Note)
                .where(
                    Note.target_kind == kind,
                    Note.target_id == target_id,
                    _can_see(kind, target_id, viewer),
                )
                .order_by(Note.created_at, Note.id)
            )
        )


def set_team(store: Store, kind: str, target_id: str, team: str, *, viewer: Viewer) -> None:
    """Make a run or study private ("") or visible to one of the owner's teams; only the owner
    may. A study's trial runs follow it.

    Raises:
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own, or a team the viewer is not in.
    """
    if kind not in _TARGETS:
        raise SpecError(f"Runs and studies have a team, not {kind!r}.")
    viewer.require_create(team)
    model = Run if kind == "run" else Study
    with store.session(viewer) as s:
        fetch_owned(s, model, target_id, viewer, "change who sees").team = team
        audit(s, viewer.name, f"{kind}.visibility", kind, target_id, {"team": team})
        if kind == "study":
            s.execute(update(Run).where(Run.study_id == target_id).values(team=team))


def set_archived(store: Store, run_ids: list[str], archived: bool = True, *, viewer: Viewer) -> int:
    """Archive (or restore) the viewer's own runs among ``run_ids``; returns how many."""
    with store.session(viewer) as s:
        result = s.execute(
            update(Run).where(Run.id.in_(run_ids), owned(Run, viewer)).values(archived=archived)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_runs(store: Store, run_ids: list[str], *, viewer: Viewer) -> int:
    """Delete finished runs to the trash (core.ops): hidden from everyone, restorable for
    LOOM_TRASH_DAYS, then purged with their metrics, events, notes, tags and files. Only the
    runs the viewer may change are deleted; others' are left alone and not counted.

    Raises:
        SpecError: A run is still queued or running: stop it first.
    """
    from core.compute import TERMINAL

    with store.session(viewer) as s:
        runs = list(s.scalars(select(Run).where(Run.id.in_(run_ids), owned(Run, viewer))))
        active = [r.id for r in runs if r.status not in {t.value for t in TERMINAL}]
        if active:
            raise SpecError(f"Run(s) {active} are still queued or running: stop them before deleting.")
        now, by = utcnow(), viewer.name or "system"
        for run in runs:
            run.deleted_at, run.deleted_by = now, by
            audit(s, viewer.name, "run.delete", "run", run.id, {"name": run.name})
    return len(runs)
