"""A PostgreSQL backup restores into SQLite: the backup carries a portable SQLite copy of the
same snapshot as its dump, verified with the rest; an older backup without it is refused with
what to do. Needs the `postgres` fixture (a local PostgreSQL server)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC
from pathlib import Path

import optuna
import pandas as pd
import pytest
from sqlalchemy import select

from core.config import AppConfig
from core.errors import BackupError
from core.ops import backup
from core.ops import restore
from core.ops import verify_backup
from core.store import SYSTEM
from core.store import Dataset
from core.store import Run
from core.store import check_integrity
from core.store import create_run
from core.store import list_runs
from core.store import new_id
from core.store import open_existing_store
from core.store import open_store
from core.store import write_metrics

pytestmark = pytest.mark.slow


def _pg_store(tmp_path: Path, postgres: object):  # type: ignore[no-untyped-def]
    url = postgres.new_database()  # type: ignore[attr-defined]
    config = AppConfig.for_data_dir(tmp_path / "pg-data", database_url=url)
    store = open_store(config)
    dataset_id = new_id()
    path = store.path_for("datasets", dataset_id, ".parquet")
    pd.DataFrame({"x": range(30)}).to_parquet(path)
    with store.session(SYSTEM) as s:
        s.add(
            Dataset(
                id=dataset_id,
                name="d",
                content_hash="0" * 64,
                n_rows=30,
                n_cols=1,
                size_bytes=path.stat().st_size,
                author="ann",
                team="lab",
            )
        )
    run = create_run(store, "train", {"type": "smoke"}, dataset_id=dataset_id, author="ann", team="lab")
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).result_json = {"val_loss": 0.25, "epochs": 3, "flags": [True, None]}
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(800))
    write_metrics(store, run.id, [("loss", i, 1.0 / (i + 1), time.time()) for i in range(40)])
    study = optuna.create_study(storage=url, study_name="s", direction="minimize")
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
    return store, run.id, study.best_value


def test_a_postgresql_backup_restores_into_sqlite(tmp_path: Path, postgres: object) -> None:
    store, run_id, best = _pg_store(tmp_path, postgres)
    made = backup(store, tmp_path / "backup")
    manifest = verify_backup(made.path)
    assert manifest["database"]["dialect"] == "postgresql"
    assert manifest["portable"]["path"] == "database.portable.sqlite"

    result = restore(made.path, tmp_path / "laptop")  # no --database-url: SQLite loom.db there
    assert result.database_url.startswith("sqlite")
    for table, n in made.tables.items():
        if table not in ("alembic_version", "version_info", "loom_schema_version"):
            assert result.tables[table] == n, table
    restored = open_existing_store(AppConfig.for_data_dir(tmp_path / "laptop"))
    assert restored.engine.dialect.name == "sqlite"
    assert check_integrity(restored) == []
    [run] = list_runs(restored, viewer=SYSTEM)
    assert (run.id, run.team) == (run_id, "lab")
    with store.engine.connect() as conn:
        created = conn.execute(select(Run.created_at).where(Run.id == run_id)).scalar_one()
    # The same moment, whatever the server's time zone (SQLite keeps UTC without a zone).
    assert run.created_at.replace(tzinfo=run.created_at.tzinfo or UTC) == created
    with restored.engine.connect() as conn:
        assert conn.execute(select(Run.result_json)).scalar_one() == {
            "val_loss": 0.25,
            "epochs": 3,
            "flags": [True, None],
        }
    source = store.path_for("models", run_id, ".keras").read_bytes()
    assert restored.path_for("models", run_id, ".keras").read_bytes() == source
    loaded = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'laptop' / 'loom.db'}")
    assert [t.state.name for t in loaded.trials] == ["COMPLETE"] * 3 and loaded.best_value == best
    # New rows get new IDs in the restored store.
    write_metrics(restored, run_id, [("loss", 10_000, 0.1, time.time())])


def test_a_damaged_portable_copy_is_refused_naming_it(tmp_path: Path, postgres: object) -> None:
    store, _, _ = _pg_store(tmp_path, postgres)
    made = backup(store, tmp_path / "backup")
    with (made.path / "database.portable.sqlite").open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff\x00")
    with pytest.raises(BackupError, match="database.portable.sqlite does not match"):
        restore(made.path, tmp_path / "laptop")
    assert not (tmp_path / "laptop").exists()


def test_a_postgresql_backup_without_the_portable_copy_says_how_to_move(
    tmp_path: Path, postgres: object
) -> None:
    store, _, _ = _pg_store(tmp_path, postgres)
    made = backup(store, tmp_path / "backup")
    manifest = json.loads((made.path / "manifest.json").read_text())
    del manifest["portable"]  # as an older Loom wrote it
    (made.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="no portable SQLite copy .* restores into PostgreSQL only"):
        restore(made.path, tmp_path / "laptop")
    assert not (tmp_path / "laptop").exists()
