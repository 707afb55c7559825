"""Purge and gc keep what branches need: a parent run in the trash stays (rows, metrics and
checkpoints) while any branch of it is kept or still in the trash, and goes with the last one;
gc never expires its checkpoints. A purged study takes its Optuna rows with it. On SQLite and
PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import optuna
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from core.experiments import delete_runs
from core.ops import collect_garbage
from core.ops import delete_item
from core.ops import purge_trash
from core.store import SYSTEM
from core.store import Metric
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import create_run
from core.store import write_metrics

ALICE = Viewer(name="alice", teams=("t",))
LONG_AGO = datetime.now(UTC) - timedelta(days=31)


def _run(store: Store, parent_id: str | None = None) -> str:
    spec = {"type": "train"} | ({"branch": {"run": parent_id, "epoch": 2, "step": 20}} if parent_id else {})
    run = create_run(
        store,
        "train",
        spec,
        name="r",
        author="alice",
        team="t",
        parent_id=parent_id,
        parent_kind="branched" if parent_id else None,
    )
    with store.session(SYSTEM) as s:
        s.execute(
            update(Run)
            .where(Run.id == run.id)
            .values(status="succeeded", ended_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(300))
    store.path_for("checkpoints", run.id, ".e2.npz").write_bytes(os.urandom(400))
    write_metrics(store, run.id, [("loss", i, 1.0 / (i + 1), 0.0) for i in range(5)])
    return run.id


def _backdate(store: Store, *run_ids: str) -> None:
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id.in_(run_ids)).values(deleted_at=LONG_AGO))


def _exists(store: Store, run_id: str) -> bool:
    with store.session(SYSTEM) as s:
        return s.get(Run, run_id) is not None


def test_a_purged_parent_stays_while_a_branch_needs_its_history(store: Store) -> None:
    parent = _run(store)
    branch = _run(store, parent)
    twig = _run(store, branch)  # a branch of the branch
    checkpoint = store.path_for("checkpoints", parent, ".e2.npz")
    delete_runs(store, [parent], viewer=ALICE)
    _backdate(store, parent)

    result = purge_trash(store, days=30)
    assert result.purged == ()
    [(item, why)] = result.kept
    assert item.id == parent and "branch" in why and branch in why and "(kept)" in why
    assert _exists(store, parent) and checkpoint.exists()
    with store.session(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == parent)) == 5

    # The branch in the trash too, but its own branch kept: both stay (kept through the chain).
    delete_runs(store, [branch], viewer=ALICE)
    _backdate(store, branch)
    result = purge_trash(store, days=30)
    assert result.purged == () and {item.id for item, _ in result.kept} == {parent, branch}

    # Once no branch is kept, the whole lineage goes in one pass, with its files.
    delete_runs(store, [twig], viewer=ALICE)
    _backdate(store, twig)
    result = purge_trash(store, days=30)
    assert {item.id for item in result.purged} == {parent, branch, twig} and result.kept == ()
    assert not checkpoint.exists() and not any(_exists(store, r) for r in (parent, branch, twig))


def test_a_trashed_branch_not_yet_due_keeps_its_parent(store: Store) -> None:
    parent = _run(store)
    branch = _run(store, parent)
    delete_runs(store, [parent, branch], viewer=ALICE)
    _backdate(store, parent)  # the branch was deleted a moment ago: it may still come back
    result = purge_trash(store, days=30)
    [(item, why)] = result.kept
    assert item.id == parent and "still in the trash" in why


def test_gc_never_expires_the_checkpoints_a_branch_continues_from(store: Store) -> None:
    parent = _run(store)
    lone = _run(store)
    _run(store, parent)
    for run_id in (parent, lone):
        old = datetime(2020, 1, 1).timestamp()
        os.utime(store.path_for("checkpoints", run_id, ".e2.npz"), (old, old))
    expired = {i.relative for i in collect_garbage(store, checkpoint_days=30, min_age_s=0).items}
    assert f"checkpoints/{lone}.e2.npz" in expired
    assert not any(parent in r for r in expired)
    assert store.path_for("checkpoints", parent, ".e2.npz").exists()


def test_a_purged_study_takes_its_optuna_rows(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    storage = optuna.storages.RDBStorage(url)
    try:
        with store.session(SYSTEM) as s:
            row = Study(name="s", optuna_study_name="loom-s1", status="succeeded", author="alice", team="t")
            kept = Study(name="k", optuna_study_name="loom-s2", status="succeeded", author="alice", team="t")
            s.add_all([row, kept])
            s.flush()
            study_id = row.id
        for name in ("loom-s1", "loom-s2"):
            study = optuna.create_study(study_name=name, storage=storage)
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        delete_item(store, "study", study_id, viewer=ALICE)
        with store.session(SYSTEM) as s:
            s.execute(update(Study).where(Study.id == study_id).values(deleted_at=LONG_AGO))

        assert purge_trash(store, days=30, dry_run=True).purged[0].id == study_id
        assert {s.study_name for s in optuna.get_all_study_summaries(storage)} == {"loom-s1", "loom-s2"}
        result = purge_trash(store, days=30)
        assert [i.id for i in result.purged] == [study_id]
        assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["loom-s2"]
        with store.engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT COUNT(*) FROM trials")).scalar_one() == 3
    finally:
        storage.engine.dispose()


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
