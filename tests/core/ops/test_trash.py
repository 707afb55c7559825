"""The trash: deleted runs, studies, datasets, pipelines and reports leave every list, get and
link for everyone, come back when restored, and are purged with their files after the retention,
except what a kept run still uses. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from core.config import AppConfig
from core.data import delete_dataset
from core.data import get_dataset
from core.data import list_datasets
from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.experiments import delete_runs
from core.ops import delete_item
from core.ops import list_trash
from core.ops import purge_trash
from core.ops import restore_item
from core.reports import delete_report
from core.reports import list_reports
from core.store import SYSTEM
from core.store import Dataset
from core.store import Grant
from core.store import Metric
from core.store import Note
from core.store import Pipeline
from core.store import Report
from core.store import ReportVersion
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import create_run
from core.store import get_run
from core.store import list_runs
from core.store import new_id
from core.store import open_store
from core.store import write_metrics

ALICE = Viewer(name="alice", teams=("t",))
BOB = Viewer(name="bob", teams=("t",))
LOCAL = Viewer.local("me")
LONG_AGO = datetime.now(UTC) - timedelta(days=31)


def _dataset(store: Store, author: str = "alice", team: str = "t") -> str:
    dataset_id = new_id()
    path = store.path_for("datasets", dataset_id, ".parquet")
    pd.DataFrame({"x": range(20), "y": [i % 2 for i in range(20)]}).to_parquet(path)
    with store.session(SYSTEM) as s:
        s.add(
            Dataset(
                id=dataset_id,
                name="d",
                content_hash="0" * 64,
                n_rows=20,
                n_cols=2,
                size_bytes=path.stat().st_size,
                author=author,
                team=team,
            )
        )
    return dataset_id


def _run(store: Store, dataset_id: str | None = None, **kw: Any) -> str:
    run = create_run(
        store, "train", {"type": "smoke"}, name="r", dataset_id=dataset_id, author="alice", team="t", **kw
    )
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == run.id).values(status="succeeded"))
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(500))
    store.path_for("checkpoints", run.id, ".keras").write_bytes(os.urandom(700))
    write_metrics(store, run.id, [("loss", i, 1.0 / (i + 1), time.time()) for i in range(10)])
    with store.session(SYSTEM) as s:
        s.add(Note(target_kind="run", target_id=run.id, author="alice", body="a note"))
    return run.id


def _pipeline(store: Store, dataset_id: str) -> str:
    with store.session(SYSTEM) as s:
        row = Pipeline(
            name="p", spec_json={}, spec_hash="0" * 64, dataset_id=dataset_id, author="alice", team="t"
        )
        s.add(row)
        s.flush()
        return row.id


def _study(store: Store) -> str:
    with store.session(SYSTEM) as s:
        row = Study(name="s", optuna_study_name=new_id(), status="succeeded", author="alice", team="t")
        s.add(row)
        s.flush()
        return row.id


def _report(store: Store) -> str:
    with store.session(SYSTEM) as s:
        row = Report(title="rep", author="alice", team="t", latest_version=1)
        s.add(row)
        s.flush()
        s.add(ReportVersion(report_id=row.id, version=1, spec_json={}, spec_hash="0" * 64, author="alice"))
        return row.id


def _sees(store: Store, model: Any, item_id: str, viewer: Viewer) -> bool:
    with store.session(viewer) as s:
        return s.scalar(select(model.id).where(model.id == item_id)) is not None


def _backdate(store: Store, model: Any, item_id: str, when: datetime = LONG_AGO) -> None:
    with store.session(SYSTEM) as s:
        s.execute(update(model).where(model.id == item_id).values(deleted_at=when))


def test_deleted_items_leave_every_list_get_and_link_and_come_back_restored(store: Store) -> None:
    dataset_id = _dataset(store)
    run_id = _run(store, dataset_id)
    study_id = _study(store)
    trial = _run(store, dataset_id, study_id=study_id)
    pipeline_id = _pipeline(store, dataset_id)
    report_id = _report(store)
    link = Viewer().with_grant(Grant("run", run_id))
    assert get_run(store, run_id, viewer=link).id == run_id
    for who in (ALICE, BOB, LOCAL):
        assert run_id in {r.id for r in list_runs(store, viewer=who)}

    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        delete_dataset(store, dataset_id, viewer=BOB)
    assert delete_runs(store, [run_id], viewer=BOB) == 0  # a teammate's: left alone
    assert delete_runs(store, [run_id], viewer=ALICE) == 1
    delete_dataset(store, dataset_id, viewer=ALICE)
    delete_report(store, report_id, viewer=ALICE)
    delete_item(store, "pipeline", pipeline_id, viewer=ALICE)
    delete_item(store, "study", study_id, viewer=ALICE)

    for who in (ALICE, BOB, LOCAL):
        assert {run_id, trial}.isdisjoint(r.id for r in list_runs(store, viewer=who))
        assert dataset_id not in {d.id for d in list_datasets(store, viewer=who)}
        assert report_id not in {r.id for r in list_reports(store, viewer=who)}
        with pytest.raises(NotFoundError):
            get_run(store, run_id, viewer=who)
        with pytest.raises(NotFoundError):
            get_dataset(store, dataset_id, viewer=who)
        for model, item_id in ((Pipeline, pipeline_id), (Study, study_id), (Report, report_id)):
            assert not _sees(store, model, item_id, who)
    with pytest.raises(NotFoundError):
        get_run(store, run_id, viewer=link)
    assert _sees(store, Run, run_id, SYSTEM)  # Loom's own processes still find it (gc keeps its files)

    mine = {(i.kind, i.id) for i in list_trash(store, viewer=ALICE)}
    expected = {
        ("run", run_id),
        ("dataset", dataset_id),
        ("report", report_id),
        ("pipeline", pipeline_id),
        ("study", study_id),
    }
    assert mine == expected  # the study's trial goes and comes back with it
    assert list_trash(store, viewer=BOB) == []
    with pytest.raises(NotFoundError, match="in the trash that you may restore"):
        restore_item(store, "run", run_id, viewer=BOB)

    for kind, item_id in expected:
        restore_item(store, kind, item_id, viewer=ALICE)
    for who in (ALICE, BOB, LOCAL):
        assert {run_id, trial} <= {r.id for r in list_runs(store, viewer=who)}
        assert get_dataset(store, dataset_id, viewer=who).id == dataset_id
        assert report_id in {r.id for r in list_reports(store, viewer=who)}
        assert _sees(store, Pipeline, pipeline_id, who) and _sees(store, Study, study_id, who)
    assert get_run(store, run_id, viewer=link).id == run_id
    assert list_trash(store, viewer=ALICE) == []


def _parts_seen(store: Store, run_id: str, study_id: str, viewer: Viewer) -> dict[str, object]:
    """What ``viewer`` reads of a run's and a study's parts through every read by ID."""
    from core.experiments import list_notes
    from core.experiments import tags_of
    from core.reports import metric_keys
    from core.store import get_events
    from core.store import get_metrics
    from core.store import metric_view
    from core.store import metrics_since
    from core.training import list_evaluations

    return {
        "run notes": [n.body for n in list_notes(store, "run", run_id, viewer=viewer)],
        "run tags": tags_of(store, "run", run_id, viewer=viewer),
        "study notes": [n.body for n in list_notes(store, "study", study_id, viewer=viewer)],
        "study tags": tags_of(store, "study", study_id, viewer=viewer),
        "events": [e.kind for e in get_events(store, run_id, viewer=viewer)],
        "metrics": sorted(get_metrics(store, run_id, viewer=viewer)),
        "metric view": sorted(metric_view(store, run_id, viewer=viewer).series),
        "new points": sorted(metrics_since(store, run_id, 0, viewer=viewer)[0]),
        "evaluations": [e.id for e in list_evaluations(store, run_id, viewer=viewer)],
        "report metric keys": metric_keys(store, [run_id], viewer=viewer),
    }


@pytest.mark.parametrize("how", ["deleted", "project deleted"])
def test_a_trashed_items_parts_are_unread_by_id_whoever_asks(store: Store, how: str) -> None:
    from core.experiments import compare_runs
    from core.sharing import create_link
    from core.sharing import resolve_link
    from core.store import Evaluation
    from core.store import Project
    from core.store import RunEvent
    from core.store import Tag

    run_id, study_id = _run(store), _study(store)
    with store.session(SYSTEM) as s:
        s.add(RunEvent(run_id=run_id, kind="status", from_status="running", to_status="succeeded"))
        s.add(Evaluation(id=new_id(), run_id=run_id, dataset_name="d", author="alice"))
        s.add(Tag(target_kind="run", target_id=run_id, tag="paper", author="alice"))
        s.add(Tag(target_kind="study", target_id=study_id, tag="paper", author="alice"))
        s.add(Note(target_kind="study", target_id=study_id, author="alice", body="a study note"))
    links = [
        create_link(store, "run", run_id, include_notes=True, viewer=ALICE),
        create_link(store, "study", study_id, viewer=ALICE),
        create_link(store, "compare", "", query={"runs": run_id}, viewer=ALICE),
    ]
    seen_before = _parts_seen(store, run_id, study_id, LOCAL)
    assert all(seen_before.values()), seen_before  # each read finds something before the trash
    for who in (ALICE, BOB):
        assert _parts_seen(store, run_id, study_id, who) == seen_before

    if how == "deleted":
        delete_runs(store, [run_id], viewer=ALICE)
        delete_item(store, "study", study_id, viewer=ALICE)
    else:
        with store.session(SYSTEM) as s:
            project = Project(name="doomed", owner_team="t")
            s.add(project)
            s.flush()
            s.execute(update(Run).where(Run.id == run_id).values(project_id=project.id))
            s.execute(update(Study).where(Study.id == study_id).values(project_id=project.id))
            project.deleted_at = datetime.now(UTC)

    for who in (LOCAL, ALICE, BOB):
        seen = _parts_seen(store, run_id, study_id, who)
        assert not any(seen.values()), (who.name, seen)
        with pytest.raises(NotFoundError):
            compare_runs(store, [run_id], viewer=who)
    for token in links:
        with pytest.raises(NotFoundError):
            resolve_link(store, token)
    # Loom's own processes still read them (purge, gc, the trash view's restore).
    assert _parts_seen(store, run_id, study_id, SYSTEM) == seen_before


def test_a_live_run_is_stopped_before_it_is_deleted(store: Store) -> None:
    run = create_run(store, "train", {"type": "smoke"}, author="alice")
    with pytest.raises(SpecError, match="still queued or running: stop them before deleting"):
        delete_runs(store, [run.id], viewer=ALICE)
    with pytest.raises(SpecError, match="still queued or running"):
        delete_item(store, "run", run.id, viewer=ALICE)
    assert get_run(store, run.id, viewer=ALICE).id == run.id
    study_id = _study(store)
    with store.session(SYSTEM) as s:
        s.execute(update(Study).where(Study.id == study_id).values(status="running"))
    with pytest.raises(SpecError, match="Study 's' is still running: stop it before deleting"):
        delete_item(store, "study", study_id, viewer=ALICE)


def test_purge_after_the_retention_removes_rows_parts_and_files(store: Store) -> None:
    dataset_id = _dataset(store)
    old, recent = _run(store, dataset_id), _run(store, dataset_id)
    report_id = _report(store)
    delete_runs(store, [old, recent], viewer=ALICE)
    delete_report(store, report_id, viewer=ALICE)
    _backdate(store, Run, old)
    _backdate(store, Report, report_id)
    files = [store.path_for("models", old, ".keras"), store.path_for("checkpoints", old, ".keras")]

    dry = purge_trash(store, days=30, dry_run=True)
    assert {(i.kind, i.id) for i in dry.purged} == {("run", old), ("report", report_id)}
    assert dry.freed_bytes == 1200 and all(f.exists() for f in files)
    assert _sees(store, Run, old, SYSTEM)

    result = purge_trash(store, days=30)
    assert {(i.kind, i.id) for i in result.purged} == {("run", old), ("report", report_id)}
    assert sorted(result.files) == sorted(f"{f.parent.name}/{f.name}" for f in files)
    assert result.freed_bytes == 1200 and not any(f.exists() for f in files)
    assert not _sees(store, Run, old, SYSTEM) and not _sees(store, Report, report_id, SYSTEM)
    with store.session(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == old)) == 0
        assert s.scalar(select(func.count()).select_from(Note).where(Note.target_id == old)) == 0
        assert s.scalar(select(func.count()).where(ReportVersion.report_id == report_id)) == 0
    # Deleted a moment ago: still in the trash, and restorable.
    assert [i.id for i in list_trash(store, viewer=ALICE)] == [recent]
    assert store.path_for("models", recent, ".keras").exists()
    with pytest.raises(SpecError, match="`days >= 0` must hold"):
        purge_trash(store, days=-1)


def test_a_dataset_a_kept_run_used_is_not_purged_and_the_message_names_the_run(store: Store) -> None:
    dataset_id = _dataset(store)
    run_id = _run(store, dataset_id)
    delete_dataset(store, dataset_id, viewer=ALICE)
    _backdate(store, Dataset, dataset_id)
    parquet = store.path_for("datasets", dataset_id, ".parquet")

    result = purge_trash(store, days=30)
    assert result.purged == ()
    [(item, why)] = result.kept
    assert item.id == dataset_id and run_id in why and "delete those runs first" in why
    assert parquet.exists() and _sees(store, Dataset, dataset_id, SYSTEM)

    delete_runs(store, [run_id], viewer=ALICE)  # the run too, but only just: it may come back
    [(_, why)] = purge_trash(store, days=30).kept
    assert run_id in why and "still in the trash" in why

    _backdate(store, Run, run_id)  # both due: the run goes first, then what it used
    result = purge_trash(store, days=30)
    assert {(i.kind, i.id) for i in result.purged} == {("run", run_id), ("dataset", dataset_id)}
    assert result.kept == () and not parquet.exists()


def test_a_pipeline_version_a_kept_run_used_is_not_purged(store: Store) -> None:
    dataset_id = _dataset(store)
    pipeline_id = _pipeline(store, dataset_id)
    run_id = _run(store, dataset_id, pipeline_id=pipeline_id)
    delete_item(store, "pipeline", pipeline_id, viewer=ALICE)
    delete_dataset(store, dataset_id, viewer=ALICE)
    _backdate(store, Pipeline, pipeline_id)
    _backdate(store, Dataset, dataset_id)
    result = purge_trash(store, days=30)
    kept = {item.kind: why for item, why in result.kept}
    assert run_id in kept["pipeline"] and run_id in kept["dataset"]


def test_the_cli_lists_restores_and_purges_the_trash(
    config: AppConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    store = open_store(config)
    dataset_id = _dataset(store)
    kept, gone = _run(store, dataset_id), _run(store, dataset_id)
    delete_runs(store, [kept, gone], viewer=ALICE)
    _backdate(store, Run, gone)
    monkeypatch.setenv("LOOM_DATA_DIR", str(config.data_dir))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)

    assert main(["trash", "list"]) == 0
    printed = capsys.readouterr().out
    assert f"run      {kept}" in printed and "2 item(s) in the trash" in printed
    assert main(["trash", "restore", "run", kept]) == 0
    assert f"restored run 'r' ({kept})" in capsys.readouterr().out
    assert main(["trash", "restore", "run", kept]) == 2
    assert "in the trash that you may restore" in capsys.readouterr().err
    assert main(["trash", "purge", "--dry-run"]) == 0
    assert f"would purge run 'r' ({gone})" in capsys.readouterr().out
    assert main(["gc"]) == 0
    printed = capsys.readouterr().out
    assert f"purged run 'r' ({gone})" in printed and "trash: purged 1 item(s), kept 0" in printed
    assert not store.path_for("models", gone, ".keras").exists()
    assert store.path_for("models", kept, ".keras").exists()
    assert main(["gc", "--trash-days", "-1"]) == 2
    assert capsys.readouterr().err == "error: `trash_days >= 0` must hold, but got trash_days=-1.0.\n"
    assert main(["trash", "delete", "dataset", dataset_id]) == 0
    assert "is in the trash" in capsys.readouterr().out
    assert main(["trash", "purge", "--days", "0"]) == 0
    assert f"kept dataset 'd' ({dataset_id}) in the trash: kept: used by train run 'r' ({kept})" in (
        capsys.readouterr().out
    )
