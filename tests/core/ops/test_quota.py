"""Team quotas: a site admin sets or clears one (human units), audited; a team's usage is what
disk use counts for its projects; an upload or a launch into a project of a team over its quota
is refused before anything is written, with the figures. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import time

import pandas as pd
import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.compute import submit_run
from core.data import save_upload
from core.errors import QuotaExceededError
from core.errors import SpecError
from core.ops import clear_quota
from core.ops import disk_use
from core.ops import list_quotas
from core.ops import parse_bytes
from core.ops import set_quota
from core.sharing import create_project
from core.sharing import create_team
from core.store import SYSTEM
from core.store import AuditEvent
from core.store import Dataset
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import check_quota
from core.store import create_run
from core.store import decimal_bytes
from core.store import new_id
from core.store import team_usage
from core.store import write_metrics

ANN = Viewer(name="ann", teams=("vision",))


def _team_project(store: Store) -> tuple[str, Viewer]:
    create_team(store, "vision")
    project = create_project(store, "p", viewer=ANN, team="vision")
    return project, ANN.in_project(project)


def _dataset(store: Store, project_id: str | None, rows: int = 200) -> str:
    dataset_id = new_id()
    path = store.path_for("datasets", dataset_id, ".parquet")
    pd.DataFrame({"x": range(rows)}).to_parquet(path)
    with store.session(SYSTEM) as s:
        s.add(
            Dataset(
                id=dataset_id,
                name="d",
                content_hash="0" * 64,
                n_rows=rows,
                n_cols=1,
                size_bytes=path.stat().st_size,
                author="ann",
                team="vision",
                project_id=project_id,
            )
        )
    return dataset_id


def _run(store: Store, project_id: str | None, kind: str = "train", spec: dict | None = None) -> str:
    run = create_run(
        store, kind, spec or {"type": "smoke"}, author="ann", team="vision", project_id=project_id
    )
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(1500))
    store.path_for("checkpoints", run.id, ".e1.npz").write_bytes(os.urandom(2500))
    write_metrics(store, run.id, [("loss", i, 1.0, time.time()) for i in range(50)])
    return run.id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50GB", 50 * 10**9), ("50 GB", 50 * 10**9), ("1.5 tb", 1_500_000_000_000), ("500 MiB", 500 * 2**20)]
    + [("1234", 1234), (4096, 4096), ("2k", 2000)],
)
def test_sizes_take_human_units(text: str | int, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "50 parsecs", "-5GB", "0", "1e3"])
def test_a_size_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(SpecError, match="must"):
        parse_bytes(text)


def test_figures_read_in_decimal_units() -> None:
    assert decimal_bytes(51_200_000_000) == "51.2 GB"
    assert decimal_bytes(50 * 10**9) == "50 GB"
    assert decimal_bytes(999) == "999 B"


def test_a_teams_usage_is_what_disk_use_counts_for_its_projects(store: Store) -> None:
    project, _ = _team_project(store)
    own = create_project(store, "mine", viewer=ANN)  # ann's own project: not the team's
    _run(store, project)
    _dataset(store, project)
    bundle = new_id()
    store.path_for("bundles", bundle, ".zip").write_bytes(os.urandom(900))
    _run(store, project, "predict", {"type": "predict", "bundle": bundle})
    _run(store, own)
    _dataset(store, own)

    [row] = list_quotas(store)
    use = disk_use(store).scope("project")
    assert row.team == "vision" and row.quota is None and not row.over
    assert row.used == use["p (vision)"].total
    assert row.used > 2 * (1500 + 2500) + 900
    assert team_usage(store, "vision", max_age_s=0) == row.used


def test_an_upload_or_launch_over_quota_is_refused_before_anything_is_written(store: Store) -> None:
    project, viewer = _team_project(store)
    _run(store, project)
    other = ANN.in_project(create_project(store, "mine", viewer=ANN))
    check_quota(store, project)  # no quota: nothing to check

    assert set_quota(store, "vision", "1 KB", actor="root") == 1000
    used = list_quotas(store)[0].used
    message = (
        f"Team vision uses {decimal_bytes(used)} of its 1 KB quota. Delete runs or datasets (they go to "
        "the trash; purge it on the admin page) or ask a site admin to raise the quota."
    )
    with store.engine.connect() as conn:
        runs_before = conn.execute(select(func.count()).select_from(Run)).scalar_one()
    with pytest.raises(QuotaExceededError) as refused:
        save_upload(store, io.BytesIO(b"x,y\n1,2\n"), "rows.csv", viewer=viewer)
    assert str(refused.value) == message
    assert not list((store.data_dir / "uploads").glob("*"))
    with pytest.raises(QuotaExceededError, match="Team vision uses"):
        submit_run(None, store, "smoke", {"type": "smoke"}, viewer=viewer)  # type: ignore[arg-type]
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Run)).scalar_one() == runs_before
    # Another project of the same person, not the team's: no quota applies.
    save_upload(store, io.BytesIO(b"x,y\n1,2\n"), "rows.csv", viewer=other)

    # Raised: the same upload goes through (the kept figure is a few seconds old at most).
    set_quota(store, "vision", "50GB", actor="root")
    save_upload(store, io.BytesIO(b"x,y\n1,2\n"), "rows.csv", viewer=viewer)
    clear_quota(store, "vision", actor="root")
    assert list_quotas(store)[0].quota is None
    with store.engine.connect() as conn:
        audited = conn.execute(
            select(AuditEvent.actor, AuditEvent.target_id).where(AuditEvent.action == "team.quota")
        ).all()
    assert [tuple(a) for a in audited] == [("root", "vision")] * 3


def test_trashed_items_count_until_purged_and_the_refusal_says_how_much_and_when(store: Store) -> None:
    """Trashed runs and datasets still hold their disk until purged, so they count; a user who
    deleted to get under the quota is told how much of it is in the trash and when its purge
    brings the team under."""
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    from sqlalchemy import update

    from core.data import delete_dataset
    from core.experiments import delete_runs
    from core.ops import purge_trash

    project, viewer = _team_project(store)
    kept, old, recent = _run(store, project), _run(store, project), _run(store, project)
    dataset_id = _dataset(store, project)
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id.in_([kept, old, recent])).values(status="succeeded"))
    before = team_usage(store, "vision", max_age_s=0)
    assert delete_runs(store, [old, recent], viewer=ANN) == 2
    delete_dataset(store, dataset_id, viewer=ANN)
    assert team_usage(store, "vision", max_age_s=0) == before  # still on disk: still counted
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    with store.session(SYSTEM) as s:  # the older run went to the trash 10 days ago
        s.execute(update(Run).where(Run.id == old).values(deleted_at=ten_days_ago))
    assert disk_use(store).scope("project")["p (vision)"].total == before  # as disk use counts it

    set_quota(store, "vision", before - 1000, actor="root")  # purging the older run is enough
    with pytest.raises(QuotaExceededError) as refused:
        save_upload(store, io.BytesIO(b"x,y\n1,2\n"), "rows.csv", viewer=viewer)
    message = str(refused.value)
    assert message.startswith(f"Team vision uses {decimal_bytes(before)} of its ")
    purge_day = (ten_days_ago + timedelta(days=30)).strftime("%Y-%m-%d")
    assert (
        " of it is in the trash: empty the trash (a site admin purges it on the Admin page) or wait "
        f"for its purge on {purge_day}." in message
    ), message
    in_trash = message.split(" quota. ", 1)[1].split(" of it is in the trash", 1)[0]

    set_quota(store, "vision", 10, actor="root")  # even an empty trash leaves it over
    last_day = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    with pytest.raises(
        QuotaExceededError, match=f"in the trash \\(purged by {last_day}\\), which is not enough"
    ):
        submit_run(None, store, "smoke", {"type": "smoke"}, viewer=viewer)  # type: ignore[arg-type]

    # Purged: the trash no longer counts, and the message no longer mentions it.
    purge_trash(store, days=0)
    after = team_usage(store, "vision", max_age_s=0)
    freed = before - after  # what the purge freed is what the trash held (a point's size re-measured)
    assert abs(parse_bytes(in_trash) - freed) <= 0.05 * freed, (in_trash, freed)
    with pytest.raises(QuotaExceededError) as refused:
        check_quota(store, project)
    assert "trash:" not in str(refused.value) and "in the trash (" not in str(refused.value)


def test_a_quota_for_no_team_or_below_a_byte_is_refused(store: Store) -> None:
    create_team(store, "vision")
    with pytest.raises(SpecError, match="No team 'nope'. Teams: vision"):
        set_quota(store, "nope", "5GB", actor="root")
    with pytest.raises(SpecError, match="`size >= 1 byte` must hold"):
        set_quota(store, "vision", "0 GB", actor="root")


def test_the_cli_sets_lists_and_clears_quotas(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    project, _ = _team_project(store)
    _run(store, project)
    if store.engine.dialect.name != "sqlite":
        monkeypatch.setenv("LOOM_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    else:
        monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("LOOM_DATA_DIR", str(store.data_dir))

    assert main(["quota", "set", "vision", "50GB"]) == 0
    assert capsys.readouterr().out == "team vision: quota 50 GB (50,000,000,000 bytes)\n"
    assert main(["quota", "list"]) == 0
    assert "  vision: " in (printed := capsys.readouterr().out) and "of 50 GB (0%)" in printed
    assert main(["quota", "set", "vision", "1KB"]) == 0
    capsys.readouterr()
    assert main(["du"]) == 0
    assert "OVER: uploads and launches refused" in capsys.readouterr().out
    assert main(["quota", "clear", "vision"]) == 0
    assert capsys.readouterr().out == "team vision: no quota\n"
    assert main(["quota", "set", "vision", "lots"]) == 2
    assert "error: `size` must be a number of bytes" in capsys.readouterr().err
