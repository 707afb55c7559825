"""The audit log (issue 29): every kind of change writes one row in the same transaction, on
SQLite and PostgreSQL; rows are never updated or deleted (read from the source, and refused by
PostgreSQL's trigger); site admins; the CLI's export."""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import json
import sys
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy import update

from core.cli import main
from core.config import AppConfig
from core.config import get_config
from core.errors import AppError
from core.errors import SpecError
from core.errors import StoreError
from core.experiments import set_team
from core.ops import count_audit
from core.ops import export_audit
from core.ops import read_audit
from core.sharing import add_member
from core.sharing import create_link
from core.sharing import create_project
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import delete_project
from core.sharing import end_session
from core.sharing import is_site_admin
from core.sharing import local_viewer
from core.sharing import remove_member
from core.sharing import remove_user
from core.sharing import rename_project
from core.sharing import restore_project
from core.sharing import revoke_link
from core.sharing import set_admin
from core.sharing import set_password
from core.sharing import set_project_role
from core.sharing import sign_in
from core.sharing import token_hash
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import AuditEvent
from core.store import Store
from core.store import audit
from core.store import audit_origin
from core.store import create_run
from core.store import open_store

ROOT = Path(__file__).resolve().parents[3]
SMOKE = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


@pytest.fixture
def store(db_config: AppConfig) -> Store:
    return open_store(dataclasses.replace(db_config, auth=True))


def _actions(store: Store) -> list[tuple[str, str, str, str]]:
    rows = read_audit(store, limit=1000)
    return [(e.actor, e.action, e.target_kind, e.target_id) for e in reversed(rows)]


def test_each_kind_of_change_writes_one_row(store: Store) -> None:
    with audit_origin(actor="cli:op"):
        create_user(store, "ann", "ann-password-long", admin=True)
        create_user(store, "ben", "ben-password-long")
        set_password(store, "ben", "ben-password-new1")
        create_team(store, "lab")
        add_member(store, "lab", "ben")
        remove_member(store, "lab", "ben")
        set_admin(store, "ben", True)
        set_admin(store, "ben", False)
    with pytest.raises(SpecError):
        sign_in(store, "ann", "wrong-password!")
    with audit_origin(ip="10.0.0.7", session="abc123"):
        signed = sign_in(store, "ann", "ann-password-long")
    ann = viewer_for(store, "ann")
    project = create_project(store, "Vision", viewer=ann)
    rename_project(store, project, "Vision 2", viewer=ann)
    set_project_role(store, project, "ben", "viewer", viewer=ann)
    run = create_run(store, "smoke", SMOKE, name="r", author="ann").id
    token = create_link(store, "run", run, viewer=ann)
    revoke_link(store, token_hash(token), viewer=ann)
    add_member(store, "lab", "ann", actor="ann")
    set_team(store, "run", run, "lab", viewer=viewer_for(store, "ann"))
    delete_project(store, project, viewer=ann)
    restore_project(store, project, viewer=ann)
    end_session(store, signed.token)
    remove_user(store, "ben", actor="cli:op")

    assert _actions(store) == [
        ("cli:op", "user.create", "user", "ann"),
        ("cli:op", "user.create", "user", "ben"),
        ("cli:op", "user.set_password", "user", "ben"),
        ("cli:op", "team.create", "team", "lab"),
        ("cli:op", "team.add_member", "team", "lab"),
        ("cli:op", "team.remove_member", "team", "lab"),
        ("cli:op", "user.admin_grant", "user", "ben"),
        ("cli:op", "user.admin_revoke", "user", "ben"),
        ("ann", "signin.failure", "user", "ann"),
        ("ann", "signin.success", "user", "ann"),
        ("ann", "project.create", "project", project),
        ("ann", "project.rename", "project", project),
        ("ann", "project.role", "project", project),
        ("ann", "link.create", "run", run),
        ("ann", "link.revoke", "link", token_hash(token)[:12]),
        ("ann", "team.add_member", "team", "lab"),
        ("ann", "run.visibility", "run", run),
        ("ann", "project.delete", "project", project),
        ("ann", "project.restore", "project", project),
        ("ann", "signin.signout", "user", "ann"),
        ("cli:op", "user.remove", "user", "ben"),
    ]
    rows = {e.action: e for e in read_audit(store, limit=1000)}
    assert (rows["signin.success"].ip, rows["signin.success"].session) == ("10.0.0.7", "abc123")
    assert rows["project.rename"].detail == {"from": "Vision", "to": "Vision 2"}
    assert rows["project.role"].detail == {"user": "ben", "role": "viewer"}
    assert rows["run.visibility"].detail == {"team": "lab"}
    assert "token" not in json.dumps(rows["link.create"].detail)  # only a prefix of the hash
    assert all(e.ts.tzinfo is not None for e in rows.values())


def test_a_change_that_fails_writes_no_row(store: Store) -> None:
    create_team(store, "lab")
    with pytest.raises(AppError):
        create_team(store, "lab")
    with pytest.raises(AppError):
        add_member(store, "lab", "nobody")
    with store.session(SYSTEM) as s:  # the row rolls back with the change it records
        with pytest.raises(RuntimeError):
            with s.begin_nested():
                audit(s, "x", "user.create", "user", "ghost")
                raise RuntimeError("the change failed")
    assert [e.action for e in read_audit(store)] == ["team.create"]


def test_filters_paging_and_export(store: Store) -> None:
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long", actor="op")
    create_team(store, "lab", actor="root")
    assert count_audit(store) == 4
    assert [e.target_id for e in read_audit(store, limit=2)] == ["lab", "cat"]  # newest first
    assert [e.target_id for e in read_audit(store, limit=2, offset=2)] == ["ben", "ann"]
    assert count_audit(store, actor="op") == 3 and count_audit(store, action="team") == 1
    assert count_audit(store, action="user.create") == 3 and count_audit(store, action="user.remove") == 0
    future = datetime.now(UTC) + timedelta(hours=1)
    assert count_audit(store, since=future) == 0
    lines = [json.loads(line) for line in export_audit(store, actor="op")]
    assert [line["target_id"] for line in lines] == ["ann", "ben", "cat"]  # oldest first
    table = list(csv.DictReader(io.StringIO("\n".join(export_audit(store, fmt="csv")))))
    assert [r["action"] for r in table] == ["user.create"] * 3 + ["team.create"]
    with pytest.raises(SpecError, match="jsonl, csv"):
        list(export_audit(store, fmt="xml"))


def test_site_admins(store: Store) -> None:
    create_user(store, "ann", "ann-password-long", admin=True)
    create_user(store, "ben", "ben-password-long")
    assert is_site_admin(store, viewer_for(store, "ann"))
    assert not is_site_admin(store, viewer_for(store, "ben"))
    assert is_site_admin(store, local_viewer())  # accounts off: the one user is admin
    set_admin(store, "ben", True)
    assert is_site_admin(store, viewer_for(store, "ben"))
    set_admin(store, "ann", False)
    assert not is_site_admin(store, viewer_for(store, "ann"))


def test_postgresql_refuses_to_update_or_delete_audit_rows(store: Store) -> None:
    create_team(store, "lab")
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite relies on no code path writing them")
    for statement in (update(AuditEvent).values(actor="someone-else"), delete(AuditEvent)):
        with pytest.raises(StoreError, match="append-only"):
            with store.session(SYSTEM) as s:
                s.execute(statement)
    assert [e.actor for e in read_audit(store)] == [""]


def test_no_module_updates_or_deletes_audit_rows() -> None:
    """Append-only for everyone: no ``update(AuditEvent)``, ``delete(AuditEvent)``, no
    ``session.delete`` or attribute write on an audit row, and no SQL text naming the table
    outside its migration."""
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text()
        if "migrations/" in rel:
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("update", "delete")
                and any(isinstance(a, ast.Name) and a.id == "AuditEvent" for a in node.args)
            ):
                found.append(f"{rel}:{node.lineno}")
        lowered = source.lower()
        for verb in ("update audit_events", "delete from audit_events", "truncate audit_events"):
            if verb in lowered:
                found.append(f"{rel}: {verb}")
    assert found == []
    # The only writer adds rows.
    writer = (ROOT / "core" / "store" / "_audit.py").read_text()
    assert "session.add(" in writer and ".delete(" not in writer and "update(" not in writer


def test_the_cli_grants_admin_and_exports_the_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOOM_AUTH", "on")
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("ann-password-long\n"))
    assert main(["user", "add", "ann", "--admin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("ben-password-long\n"))
    assert main(["user", "add", "ben"]) == 0
    assert main(["user", "grant-admin", "ben"]) == 0
    assert main(["user", "revoke-admin", "ann"]) == 0
    assert "ben is a site admin" in capsys.readouterr().out
    store = open_store(get_config())
    assert is_site_admin(store, viewer_for(store, "ben")) and not is_site_admin(
        store, viewer_for(store, "ann")
    )
    with pytest.raises(SpecError):
        sign_in(store, "ben", "not-the-password")

    assert main(["audit"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["action"] for line in lines] == [
        "user.create",
        "user.create",
        "user.admin_grant",
        "user.admin_revoke",
        "signin.failure",
    ]
    assert lines[0]["actor"].startswith("cli:") and lines[0]["detail"]["admin"] is True
    assert lines[-1]["actor"] == "ben"
    assert main(["audit", "--actor", "ben", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["actor"], r["action"]) for r in rows] == [("ben", "signin.failure")]
    assert main(["audit", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", "--since", "yesterday"]) == 2
    assert "is not an ISO date" in capsys.readouterr().err


def test_a_single_sign_on_is_audited_as_a_sign_in(store: Store) -> None:
    """An identity from the app's OIDC sign-in (st.login) is a sign-in like a password's: audited
    once when it first arrives (the page calls ``sso_sign_in`` once per browser session; each
    rerun resolves it with ``sso_viewer``, which records nothing), and an e-mail that maps to no
    account is a failure, the e-mail kept so the operator can add it."""
    from core.sharing import sso_sign_in
    from core.sharing import sso_viewer

    create_user(store, "ann", "ann-password-long", email="Ann@Example.org")
    before = count_audit(store)
    found = sso_sign_in(store, "ann@example.org")
    assert found is not None and found.name == "ann"
    assert sso_viewer(store, "ann@example.org") == found
    assert sso_sign_in(store, "nobody@example.org") is None
    rows = read_audit(store, limit=2)
    assert count_audit(store) == before + 2
    assert [(e.actor, e.action, e.detail) for e in reversed(rows)] == [
        ("ann", "signin.success", {"via": "sso"}),
        ("nobody@example.org", "signin.failure", {"via": "sso", "reason": "no account has this e-mail"}),
    ]
