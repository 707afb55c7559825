from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy import text

from core.config import AppConfig
from core.errors import ConfigError
from core.errors import NotFoundError
from core.errors import StoreError
from core.specs import spec_hash
from core.store import SYSTEM
from core.store import Base
from core.store import Store
from core.store import count_rows
from core.store import create_run
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from core.store import redact_url
from core.store import write_metrics
from core.store._models import VERSION_TABLE

EXPECTED_TABLES = {
    "datasets",
    "projects",
    "project_members",
    "pipelines",
    "runs",
    "run_events",
    "metrics",
    "loom_studies",
    "share_links",
    "notes",
    "loom_schema_version",
    "tags",
    "run_summaries",
    "metric_blocks",
    "evaluations",
    "reports",
    "report_versions",
    "alert_rules",
    "users",
    "teams",
    "team_members",
    "user_sessions",
    "sign_in_failures",
    "audit_events",
    "sign_in_handoffs",
    "leases",
}


def test_open_creates_every_table(store: Store) -> None:
    assert set(inspect(store.engine).get_table_names()) == EXPECTED_TABLES


def test_migrations_match_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE}),
            Base.metadata,
        )
    assert diff == [], "models changed without a migration: add one in core/store/migrations/versions"


def test_run_round_trip(store: Store) -> None:
    spec = {"type": "smoke", "steps": 3}
    run = create_run(store, "smoke", spec, name="first")
    got = get_run(store, run.id, viewer=SYSTEM)
    assert (got.kind, got.name, got.status, got.spec_json) == ("smoke", "first", "queued", spec)
    assert got.spec_hash == spec_hash(spec)
    assert [e.to_status for e in get_events(store, run.id, viewer=SYSTEM)] == ["queued"]
    assert [r.id for r in list_runs(store, viewer=SYSTEM)] == [run.id]
    assert list_runs(store, statuses=["running"], viewer=SYSTEM) == []
    assert count_rows(store, viewer=SYSTEM)["runs"] == 1


def test_metrics_grouped_and_ordered(store: Store) -> None:
    run = create_run(store, "smoke", {})
    write_metrics(store, run.id, [("loss", 2, 0.5, 1.0), ("loss", 1, 0.9, 1.0), ("acc", 1, 0.1, 1.0)])
    write_metrics(store, run.id, [])
    metrics = get_metrics(store, run.id, viewer=SYSTEM)
    assert metrics["loss"].steps == [1, 2]
    assert metrics["loss"].values == [0.9, 0.5]
    assert metrics["acc"].values == [0.1]


def test_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No run with ID 'nope'"):
        get_run(store, "nope", viewer=SYSTEM)


def test_metric_of_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="failed: IntegrityError"):
        write_metrics(store, "f" * 32, [("loss", 0, 1.0, 0.0)])


def test_open_twice_returns_same_store(db_config: AppConfig) -> None:
    assert open_store(db_config) is open_store(db_config)


def test_sqlite_runs_in_wal_mode_with_busy_timeout(config: AppConfig) -> None:
    store = open_store(config)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (config.data_dir / "loom.db").exists()


@pytest.mark.parametrize("object_id", ["../x", "..\\x", "/etc/passwd", "%2e%2e%2fx", "A" * 32, "a" * 31, ""])
def test_path_for_refuses_anything_but_an_id(config: AppConfig, object_id: str) -> None:
    store = open_store(config)
    with pytest.raises(StoreError, match="is not a Loom ID"):
        store.path_for("datasets", object_id, ".parquet")


def test_path_for_stays_in_data_dir(config: AppConfig) -> None:
    store = open_store(config)
    path = store.path_for("datasets", "0" * 32, ".parquet")
    assert path.parent == config.data_dir / "datasets"


def test_bad_url_says_what_to_do(tmp_path: Path) -> None:
    cfg = AppConfig.for_data_dir(tmp_path, database_url="not a url")
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL.*postgresql\\+psycopg://"):
        open_store(cfg)


def test_missing_driver_says_what_to_install(tmp_path: Path) -> None:
    cfg = AppConfig.for_data_dir(tmp_path, database_url="nosuchdb://u:secret@h/db")
    with pytest.raises(ConfigError, match="No driver") as info:
        open_store(cfg)
    assert "secret" not in str(info.value)


def test_unreachable_server_is_a_store_error_without_password(tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"postgresql+psycopg://loom:hunter2@127.0.0.1:{free_port()}/loom"
    with pytest.raises(StoreError, match="Cannot open the store") as info:
        open_store(AppConfig.for_data_dir(tmp_path, database_url=url))
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere, so permissions cannot be tested")
def test_unwritable_data_dir(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="not writable"):
        open_store(AppConfig.for_data_dir(locked))


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="Cannot create the data directory.*LOOM_DATA_DIR"):
        open_store(AppConfig.for_data_dir(blocker / "data"))


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_url("::") == "<unparseable URL>"


def _open_in_child(config: AppConfig, barrier, results) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    try:
        store = open_store(config)
        with store.session(SYSTEM) as s:
            results.put(s.execute(text("SELECT version_num FROM loom_schema_version")).scalar())
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        results.put(repr(exc))


@pytest.mark.slow
def test_two_processes_migrate_at_once(db_config: AppConfig) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_open_in_child, args=(db_config, barrier, results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert outcomes == [_head_revision()] * 3


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from core.store._db import _alembic_config

    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


def test_a_store_from_before_0003_moves_its_version_out_of_optunas_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Loom <= 0002 wrote its version to `alembic_version`, which Optuna owns in the same database:
    opening such a store moves it, keeps the data, and Optuna can then create its tables."""
    import optuna
    from sqlalchemy import create_engine
    from sqlalchemy import select

    from core.config import AppConfig
    from core.store import Dataset
    from core.store._db import _alembic_config

    config = AppConfig.for_data_dir(tmp_path / "data")
    config.data_dir.mkdir(parents=True)
    engine = create_engine(config.database_url)
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:  # build the 0002 schema the old way
        cfg.attributes["connection"] = conn
        cfg.attributes["version_table"] = "alembic_version"
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:  # a dataset as Loom 0002 wrote it
        conn.execute(
            text(
                "INSERT INTO datasets (id, name, content_hash, n_rows, n_cols, size_bytes, source_format,"
                " schema_json, created_at) VALUES (:id, 'old', :h, 0, 0, 0, 'csv', '{}', '2025-01-01')"
            ),
            {"id": "a" * 32, "h": "0" * 64},
        )
    engine.dispose()
    store = open_store(config)
    with store.session(SYSTEM) as s:
        assert s.execute(text("SELECT version_num FROM loom_schema_version")).scalar() == _head_revision()
        assert [d.name for d in s.scalars(select(Dataset))] == ["old"]
        assert (
            s.execute(text("SELECT count(*) FROM sqlite_master WHERE name='alembic_version'")).scalar() == 0
        )
    optuna.create_study(study_name="after", storage=config.database_url)
