"""Warm workers: with warm-up on, a process worker has TensorFlow imported (and its runtime
started) before any run arrives; with it off, or on a threads-only cluster, nothing is imported."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from core.compute import create_client
from core.config import AppConfig
from core.errors import SpecError
from core.training import WARM_UP
from tests.waiting import wait_until


def _framework_loaded() -> bool:
    return "tensorflow" in sys.modules and "keras" in sys.modules


@pytest.mark.slow
def test_a_process_worker_imports_the_framework_as_it_starts(tmp_path: Path) -> None:
    cfg = AppConfig.for_data_dir(tmp_path, n_workers=1, threads_per_worker=1, warm_workers=True)
    client = create_client(cfg, warm_up=(WARM_UP,))
    try:
        # No task has run: only the plugin can have imported it.
        wait_until(
            lambda: all(client.run(_framework_loaded).values()),
            timeout=120,
            interval=0.5,
            what="the worker to import TensorFlow",
        )
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_warm_up_off_or_threads_only_imports_nothing(tmp_path: Path) -> None:
    cold = AppConfig.for_data_dir(tmp_path, n_workers=1, threads_per_worker=1, warm_workers=False)
    client = create_client(cold, warm_up=(WARM_UP,))
    try:
        time.sleep(2)  # what a warm-up would have had to import by now
        assert not any(client.run(_framework_loaded).values())
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def _profiler_callbacks(dask_worker) -> list[str]:  # type: ignore[no-untyped-def]
    return [name for name in dask_worker.periodic_callbacks if name.startswith("profile")]


def test_workers_run_without_the_statistical_profiler(tmp_path: Path) -> None:
    """Dask's profiler calls sys._current_frames() 100 times a second; on CPython 3.11 a GC
    inside it that frees a TensorFlow graph deadlocked a worker (every thread waiting for the
    GIL). Loom's clusters start without it, and workers that joined with it lose it."""
    import dask
    import distributed

    from core.compute import PROFILER_OFF
    from core.compute._warm import WarmUp

    threads = AppConfig.for_data_dir(tmp_path, processes=False)
    with dask.config.set({"distributed.worker.profile.enabled": True}):  # Dask's default
        client = create_client(threads)
    try:
        assert not any(client.run(_profiler_callbacks).values())
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    # A worker someone else started, with the profiler on, joins: the plugin stops it.
    with dask.config.set({"distributed.worker.profile.enabled": True}):
        cluster = distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0")
    client = distributed.Client(cluster)
    try:
        assert all(client.run(_profiler_callbacks).values())
        client.register_plugin(WarmUp(()))
        assert not any(client.run(_profiler_callbacks).values())
    finally:
        client.close()
        cluster.close()
        dask.config.set(PROFILER_OFF)


def test_warm_up_references_stay_inside_core(tmp_path: Path) -> None:
    from core.compute._warm import check_warm_refs

    with pytest.raises(SpecError, match="core.module:function"):
        check_warm_refs(["os:system"])


def _niceness() -> list[int]:
    import os

    return sorted({os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")})


def _niceness_of_a_new_thread() -> int:
    import os
    import threading

    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
    thread.start()
    thread.join()
    return seen[0]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread niceness is Linux's")
def test_local_worker_processes_run_niced_and_the_app_does_not(tmp_path: Path) -> None:
    """Training yields the CPU to the app's pages on a busy machine (LOOM_WORKER_NICE): every
    thread of a worker process, and those it starts later, run niced; the app process, and a
    threads-only cluster living in it, keep their priority."""
    import os

    before = _niceness()
    cfg = AppConfig.for_data_dir(tmp_path, n_workers=1, threads_per_worker=1, worker_nice=7)
    client = create_client(cfg)
    try:
        assert list(client.run(_niceness).values()) == [[max(7, before[-1])]]
        assert list(client.run(_niceness_of_a_new_thread).values()) == [max(7, before[-1])]
        assert client.submit(os.getpriority, os.PRIO_PROCESS, 0, pure=False).result() == max(7, before[-1])
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    threads = AppConfig.for_data_dir(tmp_path, processes=False, worker_nice=7)
    client = create_client(threads)
    try:
        client.submit(os.getpriority, os.PRIO_PROCESS, 0, pure=False).result()
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert _niceness() == before


def test_worker_niceness_is_checked() -> None:
    from core.config import get_config
    from core.errors import ConfigError

    assert get_config({}).worker_nice == 10
    assert get_config({"LOOM_WORKER_NICE": "0"}).worker_nice == 0
    with pytest.raises(ConfigError, match="0 <= LOOM_WORKER_NICE <= 19"):
        get_config({"LOOM_WORKER_NICE": "25"})
