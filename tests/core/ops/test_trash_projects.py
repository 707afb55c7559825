"""A project in the trash is purged after the retention like any item: everything in it (under
the trash's rules: what a kept run elsewhere uses stays), then its members, alert rules and the
project; until then its runs and datasets count in its team's trash figure. On SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from core.experiments import delete_runs
from core.ops import purge_trash
from core.ops import set_quota
from core.sharing import create_project
from core.sharing import create_team
from core.sharing import delete_project
from core.sharing import list_projects
from core.store import SYSTEM
from core.store import AlertRule
from core.store import AuditEvent
from core.store import Dataset
from core.store import Metric
from core.store import Project
from core.store import ProjectMember
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import check_quota
from core.store import create_run
from core.store import write_metrics
from tests.core.ops.test_quota import _dataset

ANN = Viewer(name="ann", teams=("vision",))
LONG_AGO = datetime.now(UTC) - timedelta(days=31)


def _run(store: Store, project_id: str, dataset_id: str | None = None) -> str:
    run = create_run(
        store,
        "train",
        {"type": "smoke"},
        author="ann",
        team="vision",
        project_id=project_id,
        dataset_id=dataset_id,
    )
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == run.id).values(status="succeeded"))
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(1500))
    write_metrics(store, run.id, [("loss", i, 1.0, time.time()) for i in range(20)])
    return run.id


def _team_project(store: Store, name: str) -> str:
    return create_project(store, name, viewer=ANN, team="vision")


def _backdate(store: Store, project_id: str) -> None:
    with store.session(SYSTEM) as s:
        s.execute(update(Project).where(Project.id == project_id).values(deleted_at=LONG_AGO))


def _count(store: Store, model, *where) -> int:  # type: ignore[no-untyped-def]
    with store.session(SYSTEM) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_project_in_the_trash_is_purged_with_everything_in_it_after_the_retention(store: Store) -> None:
    create_team(store, "vision")
    project = _team_project(store, "old work")
    dataset_id = _dataset(store, project)
    run_id = _run(store, project, dataset_id)
    with store.session(SYSTEM) as s:
        s.add(AlertRule(target_kind="run", target_id=run_id, kind="failed", author="ann", project_id=project))
    delete_project(store, project, viewer=ANN)

    assert purge_trash(store, days=30).purged == ()  # deleted a moment ago: restorable
    _backdate(store, project)
    dry = purge_trash(store, days=30, dry_run=True)
    assert {(i.kind, i.id) for i in dry.purged} == {
        ("run", run_id),
        ("dataset", dataset_id),
        ("project", project),
    }
    assert _count(store, Project, Project.id == project) == 1  # a dry run removes nothing

    result = purge_trash(store, days=30)
    assert {(i.kind, i.id) for i in result.purged} == {
        ("run", run_id),
        ("dataset", dataset_id),
        ("project", project),
    }
    assert result.kept == ()
    assert not store.path_for("models", run_id, ".keras").exists()
    assert not store.path_for("datasets", dataset_id, ".parquet").exists()
    for model, where in (
        (Project, Project.id == project),
        (ProjectMember, ProjectMember.project_id == project),
        (AlertRule, AlertRule.project_id == project),
        (Run, Run.id == run_id),
        (Metric, Metric.run_id == run_id),
        (Dataset, Dataset.id == dataset_id),
    ):
        assert _count(store, model, where) == 0, model
    assert (
        _count(store, AuditEvent, AuditEvent.action == "project.purge", AuditEvent.target_id == project) == 1
    )
    assert project not in {p.id for p in list_projects(store, viewer=ANN, trashed=True)}


def test_a_dataset_a_run_elsewhere_uses_keeps_it_and_its_project_until_that_run_goes(store: Store) -> None:
    create_team(store, "vision")
    project, elsewhere = _team_project(store, "old work"), _team_project(store, "new work")
    dataset_id = _dataset(store, project)
    user = _run(store, elsewhere, dataset_id)  # a fork into another project used the data
    delete_project(store, project, viewer=ANN)
    _backdate(store, project)

    result = purge_trash(store, days=30)
    assert result.purged == ()
    kept = {item.kind: why for item, why in result.kept}
    assert user in kept["dataset"] and "1 item(s) in it are kept" in kept["project"]
    assert _count(store, Project, Project.id == project) == 1

    delete_runs(store, [user], viewer=ANN)
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == user).values(deleted_at=LONG_AGO))
    result = purge_trash(store, days=30)
    assert {i.kind for i in result.purged} == {"run", "dataset", "project"} and result.kept == ()


def test_a_trashed_projects_runs_and_data_count_in_the_teams_trash_figure(store: Store) -> None:
    """A user who deleted a whole project to get under the quota is told its usage is in the
    trash, and when its purge brings the team under (the project's deletion dates it)."""
    from core.errors import QuotaExceededError
    from core.store import team_usage

    create_team(store, "vision")
    project, other = _team_project(store, "old work"), _team_project(store, "live work")
    _run(store, project, _dataset(store, project))
    _run(store, other)
    used = team_usage(store, "vision", max_age_s=0)
    delete_project(store, project, viewer=ANN)
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    with store.session(SYSTEM) as s:
        s.execute(update(Project).where(Project.id == project).values(deleted_at=ten_days_ago))
    set_quota(store, "vision", used - 100, actor="root")
    try:
        check_quota(store, other)
    except QuotaExceededError as exc:
        message = str(exc)
    else:
        raise AssertionError("the team is over its quota")
    day = (ten_days_ago + timedelta(days=30)).strftime("%Y-%m-%d")
    assert (
        "of it is in the trash: empty the trash (a site admin purges it on the Admin page) or wait "
        f"for its purge on {day}." in message
    ), message


def test_a_run_still_live_in_a_deleted_project_is_kept_with_its_project(store: Store) -> None:
    create_team(store, "vision")
    project = _team_project(store, "old work")
    live = create_run(store, "train", {"type": "smoke"}, author="ann", team="vision", project_id=project).id
    delete_project(store, project, viewer=ANN)  # asks it to stop; say it never did
    _backdate(store, project)
    result = purge_trash(store, days=30)
    kept = {item.kind: why for item, why in result.kept}
    assert result.purged == () and kept["run"] == "kept: still queued; stop it first", kept
    assert _count(store, Run, Run.id == live) == 1 and _count(store, Project, Project.id == project) == 1
