"""The store's access layer scopes every query, whoever built it (core.store._scope).

One contract over SQLite and PostgreSQL, in the manner of Optuna's storage tests: for every
table the hook scopes, a session opened as a user sees, updates and deletes only what the
access rule lets them; a session that does not say who is asking refuses to query; and, read
from the source, no module reaches the database around the hook.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from core.errors import StoreError
from core.experiments import add_note
from core.experiments import add_tag
from core.sharing import add_member
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import Dataset
from core.store import Metric
from core.store import Note
from core.store import Pipeline
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import Study
from core.store import Tag
from core.store import Viewer
from core.store import create_run
from core.store import list_runs
from core.store import open_store
from core.store import write_metrics
from core.store._scope import SCOPED

ROOT = Path(__file__).resolve().parents[3]
SPEC = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


@pytest.fixture
def store(db_config) -> Store:  # type: ignore[no-untyped-def]
    store = open_store(dataclasses.replace(db_config, auth=True))
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long")
    create_team(store, "vision")
    add_member(store, "vision", "ann")
    add_member(store, "vision", "ben")
    ann = viewer_for(store, "ann")
    for team in ("", "vision"):
        run = create_run(store, "smoke", SPEC, name=f"ann-{team or 'private'}", author="ann", team=team).id
        write_metrics(store, run, [("loss", 1, 0.5, 1.0)])
        add_note(store, "run", run, "a note", viewer=ann)
        add_tag(store, "run", run, "a-tag", viewer=ann)
    with store.session(SYSTEM) as s:
        s.add(Study(name="ann-study", optuna_study_name="ann-study", author="ann"))
        s.add(Dataset(name="ann-data", content_hash="0" * 64, source_format="csv", author="ann"))
        s.add(Pipeline(name="ann-pipe", version=0, spec_json={}, spec_hash="h", author="ann"))
    return store


def _count(store: Store, model: type, viewer) -> int:  # type: ignore[no-untyped-def]
    with store.session(viewer) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("model", "ann", "ben", "cat"),
    [
        (Run, 2, 1, 0),
        (Metric, 2, 1, 0),
        (RunEvent, 2, 1, 0),
        (Note, 2, 1, 0),
        (Tag, 2, 1, 0),
        (Study, 1, 0, 0),
        (Dataset, 1, 0, 0),
        (Pipeline, 1, 0, 0),
    ],
)
def test_a_plain_select_sees_only_what_its_viewer_may(
    store: Store, model: type, ann: int, ben: int, cat: int
) -> None:
    """``select(model)`` with no WHERE of its own: the hook alone scopes it."""
    found = [_count(store, model, viewer_for(store, who)) for who in ("ann", "ben", "cat")]
    # RunEvent: every run has its first event (queued); Metric: one point per run.
    assert found == [ann, ben, cat]
    assert _count(store, model, SYSTEM) >= ann


def test_updates_and_deletes_are_scoped_too(store: Store) -> None:
    cat = viewer_for(store, "cat")
    with store.session(cat) as s:
        assert s.execute(update(Run).values(name="taken")).rowcount == 0  # type: ignore[attr-defined]
        assert s.execute(delete(Metric)).rowcount == 0  # type: ignore[attr-defined]
    with store.session(SYSTEM) as s:
        assert "taken" not in set(s.scalars(select(Run.name)))
        assert s.scalar(select(func.count()).select_from(Metric)) == 2


def test_a_get_by_primary_key_is_scoped(store: Store) -> None:
    with store.session(SYSTEM) as s:
        private = s.scalar(select(Run.id).where(Run.name == "ann-private"))
    with store.session(viewer_for(store, "ben")) as s:
        assert s.get(Run, private) is None
    with store.session(viewer_for(store, "ann")) as s:
        assert s.get(Run, private) is not None


@pytest.mark.parametrize("auth", [False, True])
def test_one_person_in_two_projects_one_after_the_other(db_config, auth: bool) -> None:  # type: ignore[no-untyped-def]
    """The same list, asked by the same person in project A then B then A, answers each
    project's items: nothing of one view's criteria carries over to the next."""
    from core.sharing import create_project

    store = open_store(dataclasses.replace(db_config, auth=auth))
    if auth:
        create_user(store, "ann", "ann-password-long")
        ann = viewer_for(store, "ann")
    else:
        ann = Viewer.local("ann")
    a = create_project(store, "A", viewer=ann)
    b = create_project(store, "B", viewer=ann)
    for name, project in (("A", a), ("B", b)):
        create_run(store, "smoke", SPEC, name=f"in-{name}", author="ann", project_id=project)

    def names(project: str) -> set[str]:
        return {r.name for r in list_runs(store, viewer=ann.in_project(project))}

    assert [names(a), names(b), names(a)] == [{"in-A"}, {"in-B"}, {"in-A"}]


def test_a_session_that_does_not_say_who_asks_refuses_to_query(store: Store) -> None:
    with store._sessions() as s:  # what a module would get around Store.session
        with pytest.raises(StoreError, match="without saying who is asking"):
            s.execute(select(Run))


# --- read from the source ------------------------------------------------------------------------

# Modules that open sessions as Loom itself (workers, the reaper, accounts, links by token,
# the admin CLI, operations). A new one is a decision to review, not an accident.
SYSTEM_SESSIONS = {
    "core/alerts/_evaluate.py",
    "core/compute/_context.py",
    "core/compute/_jobs.py",
    "core/compute/_reaper.py",
    "core/compute/_transition.py",
    "core/data/_ingest.py",
    "core/experiments/_fork.py",
    "core/reports/_store.py",
    "core/sharing/_accounts.py",
    "core/sharing/_links.py",
    "core/store/_lease.py",
    "core/store/_queries.py",
    "core/store/_quota.py",
    "core/training/_checkpoints.py",
    "core/training/_evaluate.py",
    "core/tuning/_driver.py",
    "core/tuning/_handruns.py",
    "core/tuning/_pbt.py",
    "core/tuning/_steering.py",
}
# Reaching the database around the ORM session (raw connections, SQL text) skips the hook.
_AROUND = {"text", "connect", "raw_connection", "exec_driver_sql", "connection"}
# The store builds its own schema; operations tooling copies whole databases as Loom itself;
# Optuna's storage holds Optuna's own tables (trials), behind Optuna's interface.
_AROUND_ALLOWED = ("core/store/", "core/ops/", "core/tuning/_storage.py")


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "core").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py"))


def test_every_session_says_who_is_asking() -> None:
    bare, system = [], set()
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "session"
            ):
                if not node.args and not node.keywords:
                    bare.append(f"{rel}:{node.lineno}")
                elif node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "SYSTEM":
                    system.add(rel)
    assert bare == [], "store.session() needs the viewer (or SYSTEM in Loom's own processes)"
    assert system <= SYSTEM_SESSIONS | {r for r in system if r.startswith(("core/cli/", "core/ops/"))}, (
        f"new modules opening SYSTEM sessions: {sorted(system - SYSTEM_SESSIONS)}"
    )


def test_no_module_reaches_the_database_around_the_scoped_session() -> None:
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(_AROUND_ALLOWED):
            continue
        tree = ast.parse(path.read_text())
        sql_text = any(
            isinstance(n, ast.ImportFrom)
            and (n.module or "").startswith("sqlalchemy")
            and "text" in {a.name for a in n.names}
            for n in ast.walk(tree)
        )
        for node in ast.walk(tree):
            called = None
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name):
                    called = node.func.id
                elif isinstance(node.func, ast.Attribute):
                    called = node.func.attr
            if called in _AROUND and (called != "text" or sql_text):
                found.append(f"{rel}:{node.lineno} {called}()")
            if isinstance(node, ast.Attribute) and node.attr in ("engine", "_sessions"):
                found.append(f"{rel}:{node.lineno} .{node.attr}")
    assert found == []


def test_the_hook_covers_every_table_with_an_owner() -> None:
    """A new table of items or of their parts must be added to the hook (or said to be outside)."""
    from core.store import Base

    outside = {
        "projects",
        "project_members",
        "users",
        "teams",
        "team_members",
        "user_sessions",
        "sign_in_failures",
        "share_links",
        "audit_events",  # append-only; read by site admins through core.ops
        "sign_in_handoffs",  # a code's hash and sealed token, read only by whoever holds the code
        "leases",  # which process runs a once-per-store job; no user's data
    }
    scoped = {m.__tablename__ for m in SCOPED}
    assert {t.name for t in Base.metadata.sorted_tables} == scoped | outside
