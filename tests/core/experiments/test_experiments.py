"""Finding, annotating, comparing and sharing runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert

from core.errors import NotFoundError
from core.errors import SpecError
from core.experiments import ExperimentQuery
from core.experiments import add_note
from core.experiments import add_tag
from core.experiments import compare_runs
from core.experiments import delete_runs
from core.experiments import list_experiments
from core.experiments import list_notes
from core.experiments import parse_run_ids
from core.experiments import set_archived
from core.experiments import smooth
from core.experiments import tags_of
from core.sharing import NOT_FOUND
from core.sharing import create_link
from core.sharing import list_links
from core.sharing import resolve_link
from core.sharing import revoke_link
from core.sharing import token_hash
from core.store import SYSTEM
from core.store import Metric
from core.store import Run
from core.store import RunSummary
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import new_id
from core.store import summarize_run
from core.store import utcnow
from core.store import write_metrics


def seed_runs(store: Store, n: int, points: int = 0, seed: int = 0) -> list[str]:
    """``n`` finished training runs with a final epoch/val_loss each (bulk inserts)."""
    rng = random.Random(seed)
    statuses = ["succeeded", "failed", "stopped"]
    runs, summaries, metrics = [], [], []
    now = utcnow()
    for i in range(n):
        run_id = new_id()
        loss = rng.uniform(0.05, 2.0)
        runs.append(
            {
                "id": run_id,
                "kind": "train",
                "name": f"run {i} {'cnn' if i % 3 == 0 else 'mlp'}",
                "status": statuses[i % 3],
                "status_reason": "",
                "stop_requested": False,
                "spec_json": {"type": "train", "epochs": i % 7 + 1},
                "spec_hash": "0" * 64,
                "worker": "",
                "attempts": 1,
                "progress": 1.0,
                "result_json": {},
                "created_at": now - timedelta(seconds=n - i),
                "started_at": now - timedelta(seconds=n - i),
                "ended_at": now,
                "author": "ada" if i % 2 else "bob",
            }
        )
        summaries.append(
            {"run_id": run_id, "key": "epoch/val_loss", "last": loss, "min": loss, "max": loss, "points": 1}
        )
        for step in range(points):
            metrics.append(
                {
                    "run_id": run_id,
                    "key": "epoch/val_loss",
                    "step": step,
                    "value": loss + 1 / (step + 1),
                    "ts": 0.0,
                }
            )
    with store.session(SYSTEM) as s:
        s.execute(insert(Run), runs)
        s.execute(insert(RunSummary), summaries)
        for start in range(0, len(metrics), 50_000):
            s.execute(insert(Metric), metrics[start : start + 50_000])
    return [r["id"] for r in runs]


def test_query_at_ten_thousand_runs_filters_sorts_and_pages_in_the_database(store: Store) -> None:
    ids = seed_runs(store, 10_000)
    add_tag(store, "run", ids[5], "baseline", viewer=Viewer.local("ada"))
    started = time.perf_counter()
    rows, total = list_experiments(store, ExperimentQuery(page_size=50), viewer=SYSTEM)
    assert total == 10_000 and len(rows) == 50
    assert rows[0].id == ids[-1]  # newest first
    rows, total = list_experiments(
        store,
        ExperimentQuery(statuses=("succeeded",), sort="metric", descending=False, metric_max=0.5),
        viewer=SYSTEM,
    )
    assert total > 0 and all(r.status == "succeeded" and r.metric <= 0.5 for r in rows)
    assert [r.metric for r in rows] == sorted(r.metric for r in rows)
    rows, total = list_experiments(store, ExperimentQuery(text="cnn", page=3, page_size=20), viewer=SYSTEM)
    assert total == 3334 and len(rows) == 20 and all("cnn" in r.name for r in rows)
    rows, total = list_experiments(store, ExperimentQuery(tag="baseline"), viewer=SYSTEM)
    assert total == 1 and rows[0].tags == ["baseline"]
    assert time.perf_counter() - started < 30  # a sanity bound, not a benchmark (bench/ has it)


def test_tampered_query_parameters_get_clear_errors() -> None:
    with pytest.raises(SpecError, match="Unknown sort"):
        ExperimentQuery.from_params({"sort": "id; drop table runs"})
    with pytest.raises(SpecError, match="expected a number"):
        ExperimentQuery.from_params({"page": "two"})
    with pytest.raises(SpecError, match="Unknown status"):
        ExperimentQuery.from_params({"statuses": "succeeded,<script>"})
    with pytest.raises(SpecError, match="metric_min <= metric_max"):
        ExperimentQuery.from_params({"metric_min": "2", "metric_max": "1"})
    q = ExperimentQuery.from_params({"statuses": "failed", "page": "2", "descending": "false"})
    assert ExperimentQuery.from_params(q.to_params()) == q


def test_search_text_is_data_not_sql(store: Store) -> None:
    seed_runs(store, 30)
    for text in ("%", "_", "' OR 1=1 --", "\\"):
        rows, total = list_experiments(store, ExperimentQuery(text=text), viewer=SYSTEM)
        assert total == 0, text


def test_tags_notes_archive_and_delete(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = create_run(store, "train", {"type": "train"}, name="<img src=x onerror=alert(1)>", author="ada")
    add_tag(store, "run", run.id, "paper", viewer=Viewer.local("ada"))
    add_tag(store, "run", run.id, "paper", viewer=Viewer.local("ada"))  # once only
    assert tags_of(store, "run", run.id, viewer=SYSTEM) == ["paper"]
    with pytest.raises(SpecError, match="not valid"):
        add_tag(store, "run", run.id, "<script>", viewer=Viewer.local("ada"))
    add_note(store, "run", run.id, "<b>bold?</b> no: plain text", viewer=Viewer.local("ada"))
    with pytest.raises(SpecError, match="limit is 10,000"):
        add_note(store, "run", run.id, "x" * 10_001, viewer=Viewer.local("ada"))
    with pytest.raises(NotFoundError):
        add_note(store, "run", "f" * 32, "hi", viewer=Viewer.local("ada"))
    assert [n.body for n in list_notes(store, "run", run.id, viewer=SYSTEM)] == [
        "<b>bold?</b> no: plain text"
    ]
    with pytest.raises(SpecError, match="still queued or running"):
        delete_runs(store, [run.id], viewer=SYSTEM)
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    write_metrics(store, run.id, [("epoch/loss", 1, 0.5, 0.0)])
    summarize_run(store, run.id)
    model = store.path_for("models", run.id, ".keras")
    model.write_bytes(b"x")
    assert set_archived(store, [run.id], viewer=SYSTEM) == 1
    assert list_experiments(store, ExperimentQuery(), viewer=SYSTEM)[1] == 0
    assert list_experiments(store, ExperimentQuery(archived=True), viewer=SYSTEM)[1] == 1
    assert delete_runs(store, [run.id], viewer=SYSTEM) == 1  # to the trash (core.ops purges it)
    ada = Viewer.local("ada")
    assert list_experiments(store, ExperimentQuery(archived=True), viewer=ada)[1] == 0
    assert model.exists()


def test_compare_overlays_diffs_and_rejects_unknown_ids(store: Store) -> None:
    a = create_run(store, "train", {"type": "train", "epochs": 3, "optimizer": {"name": "adam"}})
    b = create_run(store, "train", {"type": "train", "epochs": 5, "optimizer": {"name": "adam"}})
    write_metrics(store, a.id, [("epoch/val_loss", s, 1.0 / s, 100.0 + s) for s in (1, 2, 3)])
    write_metrics(store, b.id, [("epoch/val_loss", s, 2.0 / s, 200.0 + s) for s in (1, 2)])
    c = compare_runs(store, [a.id, b.id], viewer=SYSTEM)
    assert c.curves[a.id]["value"] == [1.0, 0.5, 1.0 / 3] and c.curves[b.id]["time"] == [0.0, 1.0]
    differs = {row["setting"] for row in c.diff if row["differs"]}
    assert differs == {"epochs"}
    with pytest.raises(NotFoundError, match="no run"):
        compare_runs(store, [a.id, "e" * 32], viewer=SYSTEM)
    with pytest.raises(SpecError, match="not run IDs"):
        parse_run_ids(f"{a.id},../../etc")
    with pytest.raises(SpecError, match="Compare 2 to 10 runs"):
        parse_run_ids(a.id)
    assert smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])


def test_share_links_open_revoke_expire_and_never_enumerate(store: Store) -> None:
    run = create_run(store, "train", {"type": "train"})
    token = create_link(
        store, "run", run.id, permission="view", query={"metric": "epoch/loss"}, viewer=SYSTEM
    )
    assert len(token) >= 43  # 32 random bytes
    link = resolve_link(store, token)
    assert (link.target_id, link.permission, link.query_json) == (run.id, "view", {"metric": "epoch/loss"})
    assert list_links(store, viewer=Viewer.local("ada"))[0].token == token_hash(token) != token
    for bad in ("x" * 43, "", "../../etc/passwd", token + "x", token.upper()):
        with pytest.raises(NotFoundError, match="Not found"):
            resolve_link(store, bad)
    revoke_link(store, token_hash(token), viewer=SYSTEM)
    with pytest.raises(NotFoundError) as revoked:
        resolve_link(store, token)
    assert str(revoked.value) == NOT_FOUND
    short = create_link(store, "run", run.id, expires_in=timedelta(milliseconds=50), viewer=SYSTEM)
    time.sleep(0.1)  # the scenario: the link's lifetime passes
    with pytest.raises(NotFoundError) as expired:
        resolve_link(store, short)
    assert str(expired.value) == NOT_FOUND
    with pytest.raises(SpecError, match="Permission"):
        create_link(store, "run", run.id, permission="admin", viewer=SYSTEM)
    with pytest.raises(NotFoundError):
        create_link(store, "run", "d" * 32, viewer=SYSTEM)


def test_passwords_are_scrypt_hashed_and_checked_in_constant_time(store: Store) -> None:
    from core.sharing import authenticate
    from core.sharing import create_user
    from core.sharing._accounts import verify_password
    from core.store import User

    create_user(store, "Ada", "a-long-enough-password")
    with store.session(SYSTEM) as s:
        stored = s.get(User, "ada").password_hash
    assert stored.startswith("scrypt$16384$8$1$") and "a-long-enough-password" not in stored
    assert authenticate(store, "ada", "a-long-enough-password") == "ada"
    assert authenticate(store, "ada", "wrong") is None and authenticate(store, "nobody", "x") is None
    assert not verify_password("x", "md5$abc")
    with pytest.raises(SpecError, match="at least 10 characters"):
        create_user(store, "bob", "short")
    with pytest.raises(SpecError, match="already a user"):
        create_user(store, "ada", "another-long-password")
    with pytest.raises(SpecError, match="not valid"):
        create_user(store, "../etc", "another-long-password")


def test_author_filter_lists_only_your_runs(store: Store) -> None:
    create_run(store, "train", {"type": "train"}, name="mine", author="ada")
    create_run(store, "train", {"type": "train"}, name="theirs", author="bob")
    rows, total = list_experiments(store, ExperimentQuery(), viewer=Viewer(name="ada"))
    assert total == 1 and rows[0].name == "mine"
    # Who is asking never comes from a URL: an "author" parameter is ignored.
    assert ExperimentQuery.from_params({"author": "bob"}) == ExperimentQuery()
