"""System metrics: sampled on a thread, under ``system/``, on a real training run on a real
LocalCluster, and on an inline job as the overhead benchmark runs one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.compute import submit_run
from core.compute._context import inline_job
from core.compute._system import read_system
from core.config import AppConfig
from core.data import ingest_file
from core.models import mlp_template
from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[3] / "assets"


class _Busy:
    def percent(self) -> float:
        return 42.0


def test_one_sample_has_cpu_and_memory() -> None:
    values = read_system(_Busy(), None)
    assert values["system/cpu_percent"] == 42.0
    assert 10 < values["system/rss_mb"] < 100_000  # this interpreter's resident memory, MiB


def test_a_child_process_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on another Keras backend trains in a child of the worker: its memory and CPU count."""
    from core.compute import _system

    monkeypatch.setattr(_system, "_TREE_SECONDS", 0.0)  # look for children on every sample
    before = read_system(_Busy(), None)["system/rss_mb"]
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import pathlib; x = bytearray(300 * 2**20); pathlib.Path({str(ready)!r}).touch()\n"
            "while True: sum(range(1000))",
        ]
    )
    try:
        wait_until(ready.exists, timeout=30, what="the child to hold its memory")
        cpu = _system._Cpu()
        time.sleep(1.0)
        values = read_system(cpu, None)
    finally:
        child.kill()
        child.wait()
    assert values["system/rss_mb"] > before + 250
    assert values["system/cpu_percent"] > 5  # the child's busy loop (a low bar: 2 shared cores)


def test_an_inline_job_samples_about_once_a_second(config: AppConfig) -> None:
    store = open_store(config)
    with inline_job(store, "smoke", {"steps": 1}) as ctx:
        end = time.monotonic() + 3.2
        while time.monotonic() < end:  # keep a core busy: the CPU % must show it
            sum(range(10_000))
    metrics = get_metrics(store, ctx.run_id, viewer=SYSTEM)
    cpu, rss = metrics["system/cpu_percent"], metrics["system/rss_mb"]
    assert cpu.steps == rss.steps and 2 <= len(cpu.steps) <= 4
    assert cpu.steps == sorted(set(cpu.steps))  # one per second
    assert max(cpu.values) > 5 and min(rss.values) > 10  # a shared 2-core machine: a low bar


@pytest.mark.slow
def test_a_training_run_records_system_metrics(thread_cluster, config: AppConfig) -> None:
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    pipeline = default_pipeline(ds.id, "price", ds.profile_json, "regression")
    model = mlp_template("regression", hidden=(32,), dropout=0.0)
    spec = TrainSpec(pipeline.to_dict(), model.to_dict(), epochs=40, batch_size=8)
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, timeout=300)
    assert run.status == "succeeded", run.status_reason
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    assert "epoch/loss" in metrics
    cpu, rss = metrics["system/cpu_percent"], metrics["system/rss_mb"]
    elapsed = (run.ended_at - run.started_at).total_seconds()
    assert len(cpu.steps) >= 0.8 * elapsed - 2  # about one a second, on a busy shared machine
    assert cpu.steps == sorted(set(cpu.steps))
    assert max(cpu.values) > 0 and min(rss.values) > 100  # a worker with TensorFlow loaded
