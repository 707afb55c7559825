"""Backup and restore (SQLite and PostgreSQL, also SQLite into PostgreSQL), gc and disk use,
on real databases and real files."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.config import AppConfig
from core.errors import BackupError
from core.ops import backup
from core.ops import collect_garbage
from core.ops import disk_use
from core.ops import restore
from core.ops import verify_backup
from core.store import SYSTEM
from core.store import Dataset
from core.store import Metric
from core.store import MetricBlock
from core.store import Store
from core.store import check_integrity
from core.store import create_run
from core.store import list_runs
from core.store import new_id
from core.store import open_existing_store
from core.store import open_store
from core.store import write_metrics

_OLD = time.time() - 3 * 86_400  # three days ago


def _dataset(store: Store, author: str, team: str = "", rows: int = 50) -> str:
    dataset_id = new_id()
    path = store.path_for("datasets", dataset_id, ".parquet")
    pd.DataFrame({"x": range(rows), "y": [i % 3 for i in range(rows)]}).to_parquet(path)
    with store.session(SYSTEM) as s:
        s.add(
            Dataset(
                id=dataset_id,
                name=f"d-{author}",
                content_hash="0" * 64,
                n_rows=rows,
                n_cols=2,
                size_bytes=path.stat().st_size,
                source_format="csv",
                author=author,
                team=team,
            )
        )
    return dataset_id


def _run(store: Store, author: str, dataset_id: str, team: str = "", files: int = 1000) -> str:
    run = create_run(
        store, "train", {"type": "smoke"}, name="r", dataset_id=dataset_id, author=author, team=team
    )
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(files))
    store.path_for("checkpoints", run.id, ".keras").write_bytes(os.urandom(files * 2))
    write_metrics(store, run.id, [("loss", i, 1.0 / (i + 1), time.time()) for i in range(120)])
    return run.id


def _authors(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(Dataset.author)).scalars())


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            "metrics": conn.execute(select(func.count()).select_from(Metric)).scalar_one(),
            "blocks_n": conn.execute(select(func.coalesce(func.sum(MetricBlock.n), 0))).scalar_one(),
        }


class _Writer(threading.Thread):
    """Keeps appending metric points to a run, as a streaming run does, until stopped."""

    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__(daemon=True)
        self.store, self.run_id = store, run_id
        self.stop = threading.Event()
        self.step = 1000
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                rows = [("loss", self.step + i, 0.5, time.time()) for i in range(20)]
                write_metrics(self.store, self.run_id, rows)
                self.step += 20
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def _restored_config(tmp_path: Path, db_config: AppConfig, request: pytest.FixtureRequest) -> AppConfig:
    if db_config.database_url.startswith("sqlite"):
        return AppConfig.for_data_dir(tmp_path / "restored")
    url = request.getfixturevalue("postgres").new_database()
    return AppConfig.for_data_dir(tmp_path / "restored", database_url=url)


def test_backup_while_a_run_streams_restores_a_consistent_store(
    db_config: AppConfig, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_store(db_config)
    dataset_id = _dataset(store, "ann")
    run_id = _run(store, "ann", dataset_id)
    writer = _Writer(store, run_id)
    writer.start()
    try:
        from tests.waiting import wait_until

        wait_until(lambda: writer.step > 1200, timeout=30, what="the writer to stream points")
        made = backup(store, tmp_path / "backup")
        wait_until(lambda: _counts(store)["metrics"] > made.tables["metrics"], timeout=30, what="more points")
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None
    manifest = verify_backup(made.path)
    assert manifest["schema_version"] and manifest["loom_version"]
    assert {e["path"] for e in manifest["files"]} >= {
        f"files/datasets/{dataset_id}.parquet",
        f"files/models/{run_id}.keras",
        f"files/checkpoints/{run_id}.keras",
    }
    target = _restored_config(tmp_path, db_config, request)
    result = restore(
        made.path, target.data_dir, None if target.database_url.endswith("loom.db") else target.database_url
    )
    restored = open_existing_store(target)
    # The snapshot is one moment: every count as the backup counted it, points and blocks agree.
    for table, n in made.tables.items():
        assert result.tables[table] == n, table
    counts = _counts(restored)
    assert counts["metrics"] == counts["blocks_n"] == made.tables["metrics"]
    assert check_integrity(restored) == []
    assert [r.id for r in list_runs(restored, viewer=SYSTEM)] == [run_id]
    source = store.path_for("models", run_id, ".keras").read_bytes()
    assert restored.path_for("models", run_id, ".keras").read_bytes() == source
    # Again over it: refused, then replaced with --force (pg_restore into a database emptied first).
    url = None if target.database_url.endswith("loom.db") else target.database_url
    with pytest.raises(BackupError, match="Refusing to restore"):
        restore(made.path, target.data_dir, url)
    assert restore(made.path, target.data_dir, url, force=True).tables == result.tables


def test_a_restored_store_holds_no_lease_of_the_processes_it_was_backed_up_from(
    config: AppConfig, tmp_path: Path
) -> None:
    """A lease names a process of the backed-up store: restored, the store's own purger would
    wait for that holder until the lease expired. Restore drops leases (and unredeemed sign-in
    codes); everything else is kept."""
    from core.store import hold_lease

    store = open_store(config)
    _run(store, "ann", _dataset(store, "ann"))
    assert hold_lease(store, "trash-purger", "host-a:123", seconds=3600)
    made = backup(store, tmp_path / "backup")
    assert made.tables["leases"] == 1
    result = restore(made.path, tmp_path / "restored")
    assert result.tables["leases"] == 0 and result.tables["runs"] == made.tables["runs"] == 1
    restored = open_existing_store(AppConfig.for_data_dir(tmp_path / "restored"))
    assert hold_lease(restored, "trash-purger", "host-b:456", seconds=60)


@pytest.fixture
def sqlite_backup(tmp_path: Path, config: AppConfig) -> tuple[Store, Path, str]:
    store = open_store(config)
    dataset_id = _dataset(store, "ann")
    _run(store, "ann", dataset_id)
    key = config.data_dir / "secret_key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    return store, backup(store, tmp_path / "backup").path, dataset_id


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_backup_is_refused_naming_the_file_and_nothing_is_written(
    sqlite_backup: tuple[Store, Path, str], tmp_path: Path, damage: str
) -> None:
    _, path, dataset_id = sqlite_backup
    bad = path / "files" / "datasets" / f"{dataset_id}.parquet"
    data = bad.read_bytes()
    if damage == "flip":
        bad.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        bad.write_bytes(data[:-10])
    else:
        bad.unlink()
    target = tmp_path / "target"
    with pytest.raises(BackupError, match=f"datasets/{dataset_id}.parquet") as info:
        restore(path, target)
    assert "Nothing was restored" in str(info.value)
    assert not target.exists()


def test_a_manifest_that_points_outside_the_backup_is_refused(
    sqlite_backup: tuple[Store, Path, str], tmp_path: Path
) -> None:
    _, path, _ = sqlite_backup
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../../etc/passwd"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="outside the backup"):
        restore(path, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_a_backup_kept_in_the_data_directory_is_not_backed_up_again(config: AppConfig) -> None:
    store = open_store(config)
    dataset_id = _dataset(store, "ann")
    first = backup(store, config.data_dir / "backups" / "one")
    second = backup(store, config.data_dir / "backups" / "two")
    paths = [e["path"] for e in verify_backup(second.path)["files"]]
    assert paths == [f"files/datasets/{dataset_id}.parquet"]
    assert first.n_files == second.n_files == 1
    assert collect_garbage(store, dry_run=True, min_age_s=0).items == ()


def test_a_sqlite_store_of_another_name_in_the_data_directory_is_not_copied_as_a_file(tmp_path: Path) -> None:
    config = AppConfig.for_data_dir(
        tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'data' / 'team.db'}"
    )
    store = open_store(config)
    _dataset(store, "ann")
    made = backup(store, tmp_path / "backup")
    assert [e["path"].split("/")[1] for e in verify_backup(made.path)["files"]] == ["datasets"]
    assert made.tables["datasets"] == 1


def test_a_non_empty_target_is_refused_unless_forced(
    sqlite_backup: tuple[Store, Path, str], tmp_path: Path
) -> None:
    _, path, dataset_id = sqlite_backup
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match="not empty.*--force"):
        restore(path, target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    result = restore(path, target, force=True)
    assert result.tables["datasets"] == 1
    assert (target / "datasets" / f"{dataset_id}.parquet").exists()
    assert (target / "notes.txt").read_text() == "mine"  # not Loom's: left alone
    key = target / "secret_key"
    assert key.read_bytes() == (sqlite_backup[0].data_dir / "secret_key").read_bytes()
    assert key.stat().st_mode & 0o777 == 0o600
    # Over a store this process has open, with rows the backup does not have: the backup's rows.
    opened = open_store(AppConfig.for_data_dir(target))
    _dataset(opened, "bob")
    assert restore(path, target, force=True).tables["datasets"] == 1
    reopened = open_store(AppConfig.for_data_dir(target))
    assert _authors(reopened) == ["ann"]


def test_a_backup_into_an_existing_directory_or_a_full_disk_leaves_no_backup(
    config: AppConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from core.ops import _backup

    store = open_store(config)
    _dataset(store, "ann")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(BackupError, match="already exists"):
        backup(store, tmp_path / "taken")

    def full(*_args: object) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_backup, "copy_hashed", full)
    with pytest.raises(BackupError, match="No space left"):
        backup(store, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "taken"]
    assert check_integrity(store) == []


@pytest.mark.slow
def test_a_sqlite_backup_restores_into_postgresql(
    config: AppConfig, tmp_path: Path, postgres: object
) -> None:
    import optuna

    store = open_store(config)
    dataset_id = _dataset(store, "ann", team="lab")
    run_id = _run(store, "ann", dataset_id, team="lab")
    with store.session(SYSTEM) as s:  # SQLite keeps NaN in JSON text; PostgreSQL's json refuses it
        from core.store import Run

        s.get(Run, run_id).result_json = {"val_loss": float("nan"), "epochs": 3}
    study = optuna.create_study(storage=config.database_url, study_name="s", direction="minimize")
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
    made = backup(store, tmp_path / "backup")

    url = postgres.new_database()  # type: ignore[attr-defined]
    result = restore(made.path, tmp_path / "pg-data", url)
    for table, n in made.tables.items():
        if table not in ("alembic_version", "version_info", "loom_schema_version"):
            assert result.tables[table] == n, table
    target = AppConfig.for_data_dir(tmp_path / "pg-data", database_url=url)
    restored = open_existing_store(target)
    assert restored.engine.dialect.name == "postgresql"
    assert check_integrity(restored) == []
    [run] = list_runs(restored, viewer=SYSTEM)
    assert (run.id, run.team, run.created_at.tzinfo is not None) == (run_id, "lab", True)
    with restored.engine.connect() as conn:
        from core.store import Run

        assert conn.execute(select(Run.result_json)).scalar_one() == {"val_loss": None, "epochs": 3}
    loaded = optuna.load_study(study_name="s", storage=url)
    assert [t.state.name for t in loaded.trials] == ["COMPLETE"] * 3
    assert loaded.best_value == study.best_value
    # The sequences moved past the copied IDs: new rows get new IDs.
    write_metrics(restored, run_id, [("loss", 10_000, 0.1, time.time())])
    loaded.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=1)
    assert _counts(restored)["metrics"] == made.tables["metrics"] + 1
    # Into a PostgreSQL database that has tables: refused, then forced.
    with pytest.raises(BackupError, match="has .* tables"):
        restore(made.path, tmp_path / "pg-data-2", url)
    again = restore(made.path, tmp_path / "pg-data-2", url, force=True)
    assert again.tables["metrics"] == made.tables["metrics"]
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 3


def _plant(store: Store, kind: str, name: str, size: int = 100, old: bool = True) -> Path:
    path = store.data_dir / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if old:
        os.utime(path, (_OLD, _OLD))
    return path


def test_gc_removes_orphans_and_keeps_every_referenced_file(config: AppConfig) -> None:
    from core.compute import RunStatus

    store = open_store(config)
    dataset_id = _dataset(store, "ann")
    run_id = _run(store, "ann", dataset_id)
    bundle = new_id()
    create_run(store, "predict", {"type": "predict", "bundle": bundle}, author="ann")
    kept = [
        store.path_for("datasets", dataset_id, ".parquet"),
        store.path_for("models", run_id, ".keras"),
        store.path_for("checkpoints", run_id, ".keras"),
        _plant(store, "bundles", f"{bundle}.zip"),  # a predict run names it
        _plant(store, "uploads", f"{new_id()}.csv", old=False),  # fresh: may be ingested now
        _plant(store, "datasets", f"{new_id()}.parquet", old=False),  # fresh: its row may be coming
        _plant(store, "datasets", "readme.txt"),  # not named by an ID: not Loom's
    ]
    for path in kept[:3]:
        os.utime(path, (_OLD, _OLD))
    orphans = {
        _plant(store, "datasets", f"{new_id()}.parquet", 1000): "datasets",
        _plant(store, "models", f"{new_id()}.keras", 2000): "models",
        _plant(store, "checkpoints", f"{new_id()}.keras", 3000): "checkpoints",
        _plant(store, "bundles", f"{new_id()}.zip", 400): "bundles",
        _plant(store, "uploads", f"{new_id()}.csv", 500): "uploads",
        _plant(store, "tmp", f"{new_id()}-dp0.log", 600): "tmp",
        _plant(store, "datasets", f"{new_id()}.parquet.tmp", 700): "datasets",
    }
    dry = collect_garbage(store, dry_run=True)
    assert {store.data_dir / i.relative for i in dry.items} == set(orphans)
    assert dry.by_kind["datasets"] == (2, 1700)
    assert dry.freed_bytes == sum(p.stat().st_size for p in orphans)
    assert all(p.exists() for p in [*orphans, *kept])

    done = collect_garbage(store)
    assert done.by_kind == dry.by_kind
    assert not any(p.exists() for p in orphans)
    assert all(p.exists() for p in kept)
    assert check_integrity(store) == []

    # Checkpoints expire only when asked, and only those of runs that ended long enough ago.
    with store.session(SYSTEM) as s:
        from core.store import Run

        row = s.get(Run, run_id)
        row.status, row.ended_at = (
            RunStatus.SUCCEEDED.value,
            pd.Timestamp("2020-01-01", tz="UTC").to_pydatetime(),
        )
    assert collect_garbage(store, dry_run=True).items == ()
    resumed = create_run(store, "train", {"type": "train", "resume_from": run_id}, author="ann")
    assert collect_garbage(store, checkpoint_days=30).items == ()  # a queued run resumes from it
    with store.session(SYSTEM) as s:
        s.get(Run, resumed.id).status = RunStatus.STOPPED.value
    expired = collect_garbage(store, checkpoint_days=30)
    assert [i.relative for i in expired.items] == [f"checkpoints/{run_id}.keras"]
    assert store.path_for("models", run_id, ".keras").exists()


def test_disk_use_per_user_team_and_project_equals_the_files(config: AppConfig) -> None:
    store = open_store(config)
    ann_data = _dataset(store, "ann", rows=500)
    bob_data = _dataset(store, "bob", team="lab", rows=50)
    ann_run = _run(store, "ann", ann_data, files=3000)
    bob_run = _run(store, "bob", bob_data, team="lab", files=1000)
    _plant(store, "datasets", f"{new_id()}.parquet", 777)  # an orphan: nobody's
    use = disk_use(store)

    def size(kind: str, object_id: str, suffix: str) -> int:
        return store.path_for(kind, object_id, suffix).stat().st_size

    users, teams, projects = use.scope("user"), use.scope("team"), use.scope("project")
    assert users["ann"].bytes["datasets"] == size("datasets", ann_data, ".parquet")
    assert users["ann"].bytes["models"] == 3000 and users["ann"].bytes["checkpoints"] == 6000
    assert users["bob"].bytes["checkpoints"] == size("checkpoints", bob_run, ".keras") == 2000
    assert teams["lab"].bytes["datasets"] == size("datasets", bob_data, ".parquet")
    assert "lab" not in {n for n, r in teams.items() if r.bytes["datasets"] == 0}
    assert projects["Default (ann)"].bytes["models"] == size("models", ann_run, ".keras")
    assert use.unowned == {"datasets": 777}
    assert use.metric_rows == 240
    assert users["ann"].bytes["metrics"] == users["bob"].bytes["metrics"] > 0
    total_files = sum(r.total - r.bytes["metrics"] for r in users.values())
    assert total_files == sum(
        size(k, i, s)
        for k, i, s in [
            ("datasets", ann_data, ".parquet"),
            ("datasets", bob_data, ".parquet"),
            ("models", ann_run, ".keras"),
            ("models", bob_run, ".keras"),
            ("checkpoints", ann_run, ".keras"),
            ("checkpoints", bob_run, ".keras"),
        ]
    )


def test_the_cli_backs_up_restores_collects_and_reports(
    config: AppConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    store = open_store(config)
    dataset_id = _dataset(store, "ann")
    _run(store, "ann", dataset_id)
    orphan = _plant(store, "models", f"{new_id()}.keras", 2048)
    monkeypatch.setenv("LOOM_DATA_DIR", str(config.data_dir))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)

    assert main(["backup", str(tmp_path / "b")]) == 0
    assert "backup of the sqlite store" in capsys.readouterr().out
    assert main(["gc", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"would remove models/{orphan.name} (2.0 KiB): no run has this ID" in printed
    assert "models: 1 file(s), 2.0 KiB" in printed and orphan.exists()
    assert main(["du"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == [
        "scope",
        "name",
        "datasets",
        "checkpoints",
        "models",
        "predictions",
        "bundles",
        "metrics",
        "total",
    ]
    assert any(line.startswith("user") and " ann " in line for line in printed.splitlines())
    target = tmp_path / "restored"
    assert main(["restore", str(tmp_path / "b"), "--data-dir", str(target)]) == 0
    assert "files: 4" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "b"), "--data-dir", str(target)]) == 2
    assert capsys.readouterr().err.startswith("error: Refusing to restore")
    (tmp_path / "b" / "manifest.json").unlink()
    assert main(["restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "other")]) == 2
    assert "is not a Loom backup" in capsys.readouterr().err
    assert main(["gc", "--upload-days", "-1"]) == 2
    assert capsys.readouterr().err == "error: `upload_days >= 0` must hold, but got upload_days=-1.0.\n"


def _store_at_0011(config: AppConfig) -> Store:
    """A store written by the Loom before projects (schema 0011), with one run of ann's."""
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy import text

    from core.store._db import _alembic_config

    config.data_dir.mkdir(parents=True)
    engine = create_engine(config.database_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, kind, name, status, status_reason, stop_requested, spec_json,"
                " spec_hash, parent_kind, author, team, archived, worker, attempts, progress, result_json,"
                " created_at) VALUES (:id, 'smoke', 'old', 'succeeded', 'done', 0, '{}', :h, '', 'ann', '',"
                " 0, '', 0, 1.0, '{}', '2026-01-01 00:00:00+00:00')"
            ),
            {"id": "a" * 32, "h": "0" * 64},
        )
    engine.dispose()
    return Store(config)  # not opened through open_store: left at 0011


@pytest.mark.parametrize("into", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_a_backup_from_an_older_loom_is_migrated_as_it_is_restored(
    config: AppConfig, tmp_path: Path, request: pytest.FixtureRequest, into: str
) -> None:
    old = _store_at_0011(config)
    made = backup(old, tmp_path / "backup")
    old.dispose()
    assert made.schema_version == "0011"
    url = request.getfixturevalue("postgres").new_database() if into == "postgresql" else None
    restore(made.path, tmp_path / "restored", url)
    target = AppConfig.for_data_dir(tmp_path / "restored", database_url=url)
    restored = open_existing_store(target)  # at this Loom's schema: nothing left to migrate
    [run] = list_runs(restored, viewer=SYSTEM)
    assert (run.id, run.name, bool(run.project_id)) == ("a" * 32, "old", True)
