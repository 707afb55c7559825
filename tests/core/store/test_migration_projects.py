"""Migration 0012 on a store with data, on SQLite and PostgreSQL: every item of 0011 lands in
its author's "Default" project with the author its admin, each keeps its team visibility, and
nothing is lost (metrics, notes, links)."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy import text

from core.config import AppConfig
from core.experiments import list_notes
from core.sharing import add_member
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import list_projects
from core.sharing import project_members
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import list_runs
from core.store import open_store

_ROWS = [
    ("datasets", "d1", "ann", "vision"),
    ("pipelines", "p1", "ann", ""),
    ("loom_studies", "s1", "ben", ""),
    ("runs", "r1", "ann", "vision"),
    ("runs", "r2", "ann", ""),
    ("runs", "r3", "ben", ""),
    ("reports", "t1", "ben", "vision"),
]


def _id(key: str) -> str:
    return key.ljust(32, "0")


def _seed_0011(config: AppConfig) -> None:
    from alembic import command

    from core.store._db import _alembic_config

    engine = create_engine(config.database_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
    at = "2026-01-01 00:00:00+00:00"
    with engine.begin() as conn:
        for table, key, author, team in _ROWS:
            values = {"id": _id(key), "author": author, "team": team, "at": at, "name": key}
            if table == "datasets":
                conn.execute(
                    text(
                        "INSERT INTO datasets (id, name, content_hash, n_rows, n_cols, size_bytes,"
                        " source_format, schema_json, read_options_json, profile_json, author, team,"
                        " created_at) VALUES"
                        " (:id, :name, :h, 1, 1, 1, 'csv', '{}', '{}', '{}', :author, :team, :at)"
                    ),
                    {**values, "h": "0" * 64},
                )
            elif table == "pipelines":
                conn.execute(
                    text(
                        "INSERT INTO pipelines (id, name, version, spec_json, spec_hash, author, team,"
                        " created_at) VALUES (:id, :name, 0, '{}', 'h', :author, :team, :at)"
                    ),
                    values,
                )
            elif table == "loom_studies":
                conn.execute(
                    text(
                        "INSERT INTO loom_studies (id, name, optuna_study_name, status, spec_json,"
                        " phases_json, author, team, archived, created_at)"
                        " VALUES (:id, :name, :name, 'done', '{}', '[]', :author, :team, false, :at)"
                    ),
                    values,
                )
            elif table == "runs":
                conn.execute(
                    text(
                        "INSERT INTO runs (id, kind, name, status, status_reason, stop_requested, spec_json,"
                        " spec_hash, parent_kind, author, team, archived, worker, attempts, progress,"
                        " result_json, created_at) VALUES (:id, 'smoke', :name, 'succeeded', '', false, '{}',"
                        " 'h', '', :author, :team, false, '', 1, 1.0, '{}', :at)"
                    ),
                    values,
                )
            else:
                conn.execute(
                    text(
                        "INSERT INTO reports (id, title, author, team, latest_version, created_at)"
                        " VALUES (:id, :name, :author, :team, 1, :at)"
                    ),
                    values,
                )
        conn.execute(
            text("INSERT INTO metrics (run_id, key, step, value, ts) VALUES (:r, 'loss', 1, 0.5, 1.0)"),
            {"r": _id("r1")},
        )
        conn.execute(
            text(
                "INSERT INTO notes (target_kind, target_id, author, body, created_at)"
                " VALUES ('run', :r, 'ben', 'kept', :at)"
            ),
            {"r": _id("r1"), "at": at},
        )
    engine.dispose()


def test_0012_puts_every_item_in_its_author_s_default_project(db_config: AppConfig) -> None:
    import dataclasses

    config = dataclasses.replace(db_config, auth=True)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    _seed_0011(config)
    store = open_store(config)  # migrates to head
    with store.session(SYSTEM) as s:
        projects = {
            row[0]: (row[1], row[2]) for row in s.execute(text("SELECT id, owner_user, name FROM projects"))
        }
        assert sorted(projects.values()) == [("ann", "Default"), ("ben", "Default")]
        for table, key, author, _team in _ROWS:
            project = s.execute(
                text(f"SELECT project_id FROM {table} WHERE id = :id"), {"id": _id(key)}
            ).scalar()
            assert projects[project] == (author, "Default"), (table, key)
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long")
    create_team(store, "vision")
    add_member(store, "vision", "ann")
    add_member(store, "vision", "ben")
    ann, ben, cat = (viewer_for(store, n) for n in ("ann", "ben", "cat"))
    mine = [p for p in list_projects(store, viewer=ann) if p.name == "Default"]
    assert [(m.user, m.role) for m in project_members(store, mine[0].id, viewer=ann)] == [("ann", "admin")]
    # Team visibility kept: ben sees ann's team run (not her private one), cat sees neither.
    assert {r.id for r in list_runs(store, viewer=ben)} == {_id("r1"), _id("r3")}
    assert {r.id for r in list_runs(store, viewer=cat)} == set()
    assert get_run(store, _id("r1"), viewer=ben).name == "r1"
    assert get_metrics(store, _id("r1"), viewer=ann)["loss"].values == [0.5]
    assert [n.body for n in list_notes(store, "run", _id("r1"), viewer=ann)] == ["kept"]
