"""Jobs on a real Dask LocalCluster, writing to a real store."""

from __future__ import annotations

import logging
import os
import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.compute import JOB_KINDS
from core.compute import RunStatus
from core.compute import SubmitOptions
from core.compute import reap
from core.compute import stop_run
from core.compute import submit_run
from core.compute import transition
from core.compute._lifecycle import Started
from core.config import AppConfig
from core.errors import SpecError
from core.store import SYSTEM
from core.store import Run
from core.store import Store
from core.store import create_run
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from core.store import utcnow
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def n_points(store: Store, run_id: str, key: str = "loss") -> int:
    series = get_metrics(store, run_id, viewer=SYSTEM).get(key)
    return len(series.steps) if series else 0


def wait_status(store: Store, run_id: str, timeout: float = 60) -> Run:
    return wait_until_ended(store, run_id, timeout)


def test_job_succeeds_with_all_metrics(thread_cluster, store: Store) -> None:
    run_id = submit_run(
        thread_cluster, store, "smoke", {"steps": 5, "interval_s": 0.01}, name="ok", viewer=SYSTEM
    )
    run = wait_status(store, run_id)
    assert run.status == RunStatus.SUCCEEDED, run.status_reason
    assert run.progress == 1.0
    assert run.result_json["steps"] == 5
    assert run.worker.startswith("inproc://") or run.worker.startswith("tcp://")
    assert get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps == [0, 1, 2, 3, 4]
    assert [e.to_status for e in get_events(store, run_id, viewer=SYSTEM) if e.kind == "status"] == [
        "queued",
        "running",
        "succeeded",
    ]


def test_job_that_raises_is_failed_with_message(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    run_id = submit_run(
        thread_cluster, store, "smoke", {"steps": 10, "interval_s": 0, "fail_at_step": 3}, viewer=SYSTEM
    )
    run = wait_status(store, run_id)
    assert run.status == RunStatus.FAILED
    assert run.status_reason == "RuntimeError: the smoke job failed on purpose at step 3 (fail_at_step)"
    assert get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps == [0, 1, 2]  # what it logged is kept
    logs = [e.message for e in get_events(store, run_id, viewer=SYSTEM) if e.kind == "log"]
    assert logs and "Traceback" in logs[0]


def test_job_stopped_from_outside(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    run_id = submit_run(thread_cluster, store, "smoke", {"steps": 10_000, "interval_s": 0.02}, viewer=SYSTEM)
    wait_until(lambda: "loss" in get_metrics(store, run_id, viewer=SYSTEM), what="first points")
    stop_run(store, run_id, thread_cluster, by="test", viewer=SYSTEM)
    run = wait_status(store, run_id, timeout=10)
    assert run.status == RunStatus.STOPPED
    assert run.stop_requested
    points = len(get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps)
    assert 0 < points < 10_000
    assert "stop requested by test" in [e.message for e in get_events(store, run_id, viewer=SYSTEM)]


def test_queued_job_that_cannot_be_placed_stops_at_once(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    # No worker declares a GPU, so the task waits in the scheduler's queue.
    run_id = submit_run(
        thread_cluster,
        store,
        "smoke",
        {"steps": 2},
        options=SubmitOptions(resources={"GPU": 1}),
        viewer=SYSTEM,
    )
    time.sleep(0.5)  # the scenario: no worker takes it (there is nothing to wait for to happen)
    assert get_run(store, run_id, viewer=SYSTEM).status == RunStatus.QUEUED
    stop_run(store, run_id, thread_cluster, viewer=SYSTEM)
    run = get_run(store, run_id, viewer=SYSTEM)
    assert run.status == RunStatus.STOPPED
    assert run.status_reason == "stopped by user before it started"


def test_job_outlives_the_client_that_submitted_it(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    address = thread_cluster.scheduler.address
    with distributed.Client(address) as short_lived:
        run_id = submit_run(short_lived, store, "smoke", {"steps": 20, "interval_s": 0.02}, viewer=SYSTEM)
    # The submitting client is gone (a closed browser, a restarted page): the run goes on.
    run = wait_status(store, run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert len(get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps) == 20


def test_unknown_kind_lists_valid_ones(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    valid = ", ".join(sorted(JOB_KINDS))
    with pytest.raises(SpecError, match=f"Unknown job kind .rm -rf.. Valid kinds are: {valid}"):
        submit_run(thread_cluster, store, "rm -rf", {}, viewer=SYSTEM)
    assert list_runs(store, viewer=SYSTEM) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"steps": 0}, "`1 <= steps <= 100000` must hold, but got steps=0."),
        ({"steps": 5, "fail_at_step": 9}, "`0 <= fail_at_step < steps` must hold"),
        ({"bogus": 1}, "Unknown smoke spec field"),
        ({"steps": "many"}, "steps"),
    ],
)
def test_invalid_spec_stores_nothing(thread_cluster, config: AppConfig, spec: dict, message: str) -> None:
    store = open_store(config)
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        submit_run(thread_cluster, store, "smoke", spec, viewer=SYSTEM)
    assert list_runs(store, viewer=SYSTEM) == []


def test_reaper_interrupts_run_without_heartbeat(config: AppConfig) -> None:
    store = open_store(config)
    run = create_run(store, "smoke", {})
    transition(store, run.id, Started("tcp://10.0.0.9:1234"))
    long_ago = utcnow() - timedelta(seconds=600)
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=long_ago, started_at=long_ago))
    fresh = create_run(store, "smoke", {})
    transition(store, fresh.id, Started("tcp://10.0.0.9:1234"))

    assert reap(store, heartbeat_timeout=30) == [run.id]
    got = get_run(store, run.id, viewer=SYSTEM)
    assert got.status == RunStatus.INTERRUPTED
    assert "no heartbeat for over 30 s (last from tcp://10.0.0.9:1234" in got.status_reason
    assert get_run(store, fresh.id, viewer=SYSTEM).status == RunStatus.RUNNING
    assert reap(store, heartbeat_timeout=30) == []  # idempotent


def test_reaper_interrupts_run_the_cluster_forgot(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    orphan = create_run(store, "smoke", {})  # recorded, but its task never reached this cluster
    assert reap(store, heartbeat_timeout=30, client=thread_cluster, grace_seconds=0) == [orphan.id]
    assert "no longer knows this job" in get_run(store, orphan.id, viewer=SYSTEM).status_reason


def test_a_closed_client_marks_nothing_and_says_why(config: AppConfig, caplog) -> None:  # type: ignore[no-untyped-def]
    """The app's client closing under the reaper (the app stopping, a test's cluster torn down)
    raises whatever Dask raises then; none of it says a job was lost."""
    from distributed import Client
    from distributed import LocalCluster

    store = open_store(config)
    queued = create_run(store, "smoke", {})
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        client = Client(cluster)
        client.close()
    caplog.set_level(logging.WARNING, logger="core.compute._reaper")
    assert reap(store, heartbeat_timeout=30, client=client, grace_seconds=0) == []
    assert get_run(store, queued.id, viewer=SYSTEM).status == RunStatus.QUEUED
    assert "reaper could not ask the scheduler" in caplog.text


def test_killed_worker_interrupts_run_and_keeps_metrics(process_cluster, config: AppConfig) -> None:
    store = open_store(config)
    run_id = submit_run(process_cluster, store, "smoke", {"steps": 10_000, "interval_s": 0.02}, viewer=SYSTEM)
    wait_until(lambda: n_points(store, run_id) >= 5, what="points")
    pids = process_cluster.run(os.getpid)
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    run = wait_status(store, run_id, timeout=90)
    assert run.status == RunStatus.INTERRUPTED
    assert "died" in run.status_reason or "heartbeat" in run.status_reason
    assert len(get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps) >= 5
    # The cluster heals (the nanny restarts the worker) and takes new runs.
    after = submit_run(process_cluster, store, "smoke", {"steps": 3, "interval_s": 0}, viewer=SYSTEM)
    assert wait_status(store, after, timeout=90).status == RunStatus.SUCCEEDED


def test_a_runs_first_point_is_written_at_once_then_every_tick(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Launch to first live point: the first point does not wait for the next tick (with the
    tick made an hour long, it is stored at once; the second waits for the tick or the end)."""
    from core.compute import _context
    from core.compute._context import inline_job
    from core.store import get_metrics

    monkeypatch.setattr(_context, "CONTROL_POLL_SECONDS", 3600.0)
    with inline_job(store, "train", {}) as ctx:
        ctx.log_metric("batch/loss", 1, 1.0)
        wait_until(
            lambda: "batch/loss" in get_metrics(store, ctx.run_id, viewer=SYSTEM),
            timeout=10,
            interval=0.05,
            what="the first point in the store",
        )
        ctx.log_metric("batch/loss", 2, 0.5)
        time.sleep(0.3)
        assert len(get_metrics(store, ctx.run_id, viewer=SYSTEM)["batch/loss"].steps) == 1
    assert len(get_metrics(store, ctx.run_id, viewer=SYSTEM)["batch/loss"].steps) == 2  # closing writes it
