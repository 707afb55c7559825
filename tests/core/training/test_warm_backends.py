"""Warm JAX training processes: a second run on the same cluster reuses the first run's process,
starts sooner and trains exactly as a fresh process does; an idle process exits after
LOOM_BACKEND_IDLE_SECONDS; a process killed between jobs or in the middle of one is replaced.
Real runs on a real threads-only LocalCluster and a real SQLite store."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import _backend_pool
from tests.conftest import wait_until_ended
from tests.core.training.test_backends import _alive
from tests.core.training.test_backends import _events
from tests.core.training.test_backends import _iris_spec
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def _no_idle_child() -> Iterator[None]:
    # Every test starts without a warm process (an earlier module's may still be idle).
    _backend_pool.close_idle()
    yield
    _backend_pool.close_idle()


def _launch(client, store, spec, ds_id) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    """Submit; return the run and the seconds from launch to its first stored live point."""
    start = time.monotonic()
    run_id = submit_run(client, store, "train", spec.to_dict(), dataset_id=ds_id, viewer=SYSTEM)
    wait_until(
        lambda: "batch/loss" in get_metrics(store, run_id, viewer=SYSTEM),
        timeout=180,
        interval=0.05,
        what="the first live point",
    )
    return run_id, time.monotonic() - start


def _process(store, run_id: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    (message,) = [e.message for e in _events(store, run_id) if "in process" in e.message]
    found = re.search(r"in process (\d+) \((.*)\)", message)
    assert found, message
    return int(found.group(1)), found.group(2)


@pytest.mark.slow
def test_a_second_run_reuses_the_warm_process_starts_sooner_and_trains_the_same(
    thread_cluster, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 3, "jax")
    first, first_s = _launch(thread_cluster, store, spec, ds_id)
    run1 = wait_until_ended(store, first, 180)
    assert run1.status == "succeeded", run1.status_reason
    second, second_s = _launch(thread_cluster, store, spec, ds_id)
    run2 = wait_until_ended(store, second, 180)
    assert run2.status == "succeeded", run2.status_reason

    pid1, how1 = _process(store, first)
    pid2, how2 = _process(store, second)
    assert (how1, how2) == ("new", "warm, its job 2")
    assert pid2 == pid1 and _alive(pid1)  # idle again, waiting for the next run
    assert run1.result_json["environment"]["process"] == "new"
    assert run2.result_json["environment"]["process"] == "warm"
    assert second_s < first_s, (first_s, second_s)
    # Same spec, same seed: the reused process trains exactly as the fresh one did.
    m1, m2 = get_metrics(store, first, viewer=SYSTEM), get_metrics(store, second, viewer=SYSTEM)
    for key in ("epoch/loss", "epoch/val_loss", "epoch/accuracy"):
        assert len(m1[key].values) == 3
        assert m2[key].values == pytest.approx(m1[key].values, abs=1e-6), key
    # Batch points are sampled a few times a second, so each run stored other steps, each the
    # mean of the batches since its previous point: compare the steps both stored after the same
    # previous point (the first batch of every epoch always is).
    b1, b2 = (dict(zip(m["batch/loss"].steps, m["batch/loss"].values, strict=True)) for m in (m1, m2))

    def before(steps: list[int]) -> dict[int, int]:
        return dict(zip(steps, [0, *steps[:-1]], strict=True))

    p1, p2 = before(sorted(b1)), before(sorted(b2))
    common = sorted(s for s in b1.keys() & b2.keys() if p1[s] == p2[s])
    assert len(common) >= 3, common
    assert [b2[s] for s in common] == pytest.approx([b1[s] for s in common], abs=1e-6)
    assert run2.result_json["evaluation"] == pytest.approx(run1.result_json["evaluation"], abs=1e-6)


@pytest.mark.slow
def test_an_idle_process_exits_after_the_idle_timeout(thread_cluster, config: AppConfig, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The worker lives in this process: the child it starts inherits this environment.
    monkeypatch.setenv("LOOM_BACKEND_IDLE_SECONDS", "2")
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 1, "jax")
    run_id, _ = _launch(thread_cluster, store, spec, ds_id)
    assert wait_until_ended(store, run_id, 180).status == "succeeded"
    pid, _ = _process(store, run_id)
    ended = time.monotonic()
    wait_until(lambda: not _alive(pid), timeout=30, interval=0.1, what="the idle process to exit")
    assert time.monotonic() - ended >= 1.0  # it waited for work first
    # ... and is reaped at once: no zombie left behind until the worker exits.
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, interval=0.1, what="the exit reaped")


@pytest.mark.slow
def test_a_worker_warms_a_backend_process_before_its_first_run(
    thread_cluster, config: AppConfig, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """What a worker does as it starts (LOOM_WARM_BACKENDS): a JAX process imports JAX and takes
    one step before any run; the first JAX run then trains in it, warm."""
    from core.training._warm import warm_up

    monkeypatch.setenv("LOOM_WARM_BACKENDS", "jax")
    warm_up(4)  # as the worker plugin calls it (thread_cluster's worker has 4 threads)
    child = _backend_pool._idle["jax"]
    assert child.alive() and child.jobs == 0
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 2, "jax")
    run_id, _ = _launch(thread_cluster, store, spec, ds_id)
    run = wait_until_ended(store, run_id, 180)
    assert run.status == "succeeded", run.status_reason
    pid, how = _process(store, run_id)
    assert (pid, how) == (child.pid, "warm, its job 1")
    assert run.result_json["environment"]["process"] == "warm"


@pytest.mark.slow
def test_a_killed_process_is_replaced_between_jobs_and_mid_job(thread_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 1, "jax")
    run_id, _ = _launch(thread_cluster, store, spec, ds_id)
    assert wait_until_ended(store, run_id, 180).status == "succeeded"
    idle_pid, _ = _process(store, run_id)
    os.kill(idle_pid, signal.SIGKILL)  # dies while idle
    wait_until(lambda: not _alive(idle_pid), timeout=10, interval=0.05, what="the kill")

    # The next run gets a fresh process; killed in the middle of its job, the run fails and says so.
    long_spec, _ = _iris_spec(store, 2000, "jax")
    run_id, _ = _launch(thread_cluster, store, long_spec, ds_id)
    busy_pid, how = _process(store, run_id)
    assert busy_pid != idle_pid and how == "new"
    os.kill(busy_pid, signal.SIGKILL)
    run = wait_until_ended(store, run_id, 60)
    assert run.status == "failed"
    assert run.status_reason.startswith(
        "ComputeError: The JAX training process exited with -9 before it reported"
    ), run.status_reason

    # And the one after that trains in a new process again.
    run_id, _ = _launch(thread_cluster, store, spec, ds_id)
    run = wait_until_ended(store, run_id, 180)
    assert run.status == "succeeded", run.status_reason
    pid, how = _process(store, run_id)
    assert how == "new" and pid not in (idle_pid, busy_pid)
    assert get_run(store, run_id, viewer=SYSTEM).result_json["environment"]["process"] == "new"


@pytest.mark.slow
def test_closing_the_cluster_ends_its_idle_process(config: AppConfig) -> None:
    distributed = pytest.importorskip("distributed")
    store = open_store(config)
    spec, ds_id = _iris_spec(store, 1, "jax")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        run_id, _ = _launch(client, store, spec, ds_id)
        assert wait_until_ended(store, run_id, 180).status == "succeeded"
        pid, _ = _process(store, run_id)
        assert _alive(pid)  # idle, for the next run
    # The worker closed with its cluster (this process goes on): its idle process is gone.
    wait_until(lambda: not _alive(pid), timeout=15, interval=0.1, what="the idle process to exit")


def test_two_runs_at_once_get_two_processes_and_only_one_stays_idle() -> None:
    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": root}
    first, reused_first = _backend_pool.acquire("jax", env)
    second, reused_second = _backend_pool.acquire("jax", env)  # the first is busy
    assert not reused_first and not reused_second and first.pid != second.pid
    _backend_pool.release(first, reusable=True)
    _backend_pool.release(second, reusable=True)  # one of its backend is idle already: it exits
    wait_until(lambda: not _alive(second.pid), timeout=30, interval=0.05, what="the second to exit")
    assert _alive(first.pid)
    again, reused = _backend_pool.acquire("jax", env)
    assert reused and again is first
    # Other settings (here the idle timeout) are not the idle process's: a new one.
    _backend_pool.release(again, reusable=True)
    other, reused = _backend_pool.acquire("jax", {**env, "LOOM_BACKEND_IDLE_SECONDS": "5"})
    assert not reused and other.pid != first.pid
    wait_until(lambda: not _alive(first.pid), timeout=30, interval=0.05, what="the stale one to end")
    _backend_pool.release(other, reusable=False)  # killed (a job that went wrong): never idle
    assert not _alive(other.pid)
