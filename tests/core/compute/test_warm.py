"""Warm workers: with warm-up on, a process worker has TensorFlow imported (and its runtime
started) before any run arrives; with it off, or on a threads-only cluster, nothing is imported."""

from __future__ import annotations

import sys
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
        assert "loom-warm-up" not in client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.worker_plugins)
        )
        assert not any(client.run(_framework_loaded).values())
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    threads = AppConfig.for_data_dir(tmp_path, processes=False, warm_workers=True)
    client = create_client(threads, warm_up=(WARM_UP,))
    try:  # the workers live in this (the app's) process, which never imports a framework
        assert "loom-warm-up" not in client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.worker_plugins)
        )
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_warm_up_references_stay_inside_core(tmp_path: Path) -> None:
    from core.compute._warm import check_warm_refs

    with pytest.raises(SpecError, match="core.module:function"):
        check_warm_refs(["os:system"])
