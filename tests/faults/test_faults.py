"""The fault battery: real processes, real failures. After each one, nothing stored is lost or
corrupted (``check_integrity``), every run ends in a true status with a reason, and the system
takes the next job. (A SIGKILLed worker mid-run and mid-trial are in tests/core/compute/test_jobs.py
and tests/core/tuning/test_study.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.compute import TERMINAL
from core.compute import execute_run
from core.compute import reap
from core.config import AppConfig
from core.store import SYSTEM
from core.store import check_integrity
from core.store import create_run
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from tests.conftest import ROOT
from tests.conftest import free_port
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, **kw) -> AppConfig:  # type: ignore[no-untyped-def]
    return AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.2, heartbeat_timeout=3.0, **kw)


def _smoke(store, steps: int, interval: float) -> str:  # type: ignore[no-untyped-def]
    return create_run(
        store, "smoke", {"type": "smoke", "steps": steps, "interval_s": interval, "fail_at_step": None}
    ).id


def test_a_write_lock_held_on_the_database_during_a_run_loses_nothing(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock for 4 s mid-run: the run's buffered metrics wait
    (busy timeout) and arrive, every one of them."""
    config = _config(tmp_path)
    store = open_store(config)
    run_id = _smoke(store, 60, 0.05)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(execute_run(config, run_id)))
    worker.start()
    wait_until(lambda: "loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=30, what="a first point")
    db = str(config.data_dir / "loom.db")
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
        [
            sys.executable,
            "-c",
            # The scenario: another process holds the write lock for 4 s while the run writes.
            "import sqlite3, time, sys; c = sqlite3.connect(sys.argv[1], timeout=30); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(4); c.rollback()",
            db,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.wait(30)
    worker.join(120)
    assert outcome == ["succeeded"], get_run(store, run_id, viewer=SYSTEM).status_reason
    assert get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps == list(range(60))  # every step, none lost
    assert check_integrity(store) == []


def _limited(code: str, config: AppConfig, limit_bytes: int) -> subprocess.CompletedProcess:
    """Run ``code`` in a process that cannot write files larger than ``limit_bytes`` (a full
    disk, as the writing process sees it: writes fail with EFBIG)."""
    prelude = (
        "import resource, signal, sys; sys.path.insert(0, sys.argv[1]);"
        "from core.config import AppConfig;"
        f"config = AppConfig.for_data_dir({str(config.data_dir)!r}, heartbeat_seconds=0.2,"
        " heartbeat_timeout=3.0);"
        "from core.store import open_store; store = open_store(config);"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes}));"
    )
    return subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", prelude + code, str(ROOT)], capture_output=True, text=True, timeout=300
    )


def test_a_full_disk_during_ingest_says_so_and_stores_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = open_store(config)
    big = tmp_path / "big.csv"
    rng = np.random.default_rng(0)
    with open(big, "w") as fh:
        fh.write("a,b,c,d\n")
        for _ in range(20):
            np.savetxt(fh, rng.random((20_000, 4)), delimiter=",", fmt="%.12f")
    out = _limited(
        "from core.data import ingest_file;\n"
        "from core.errors import AppError\n"
        "try:\n"
        f"    ingest_file(store, __import__('pathlib').Path({str(big)!r}), 'csv', 'big')\n"
        "except AppError as exc:\n"
        "    print('MESSAGE', exc)\n",
        config,
        2 << 20,
    )
    assert "MESSAGE Could not write the dataset" in out.stdout, out.stdout + out.stderr
    assert "Free disk space" in out.stdout and "Traceback" not in out.stdout
    assert list((config.data_dir / "datasets").glob("*")) == []  # no partial file left
    from core.data import list_datasets

    assert list_datasets(store, viewer=SYSTEM) == [] and check_integrity(store) == []


def test_a_full_disk_while_checkpointing_fails_the_run_and_keeps_its_metrics(tmp_path: Path) -> None:
    from core.data import ingest_file
    from core.models import mlp_template
    from core.training import TrainSpec
    from core.training import default_pipeline

    config = _config(tmp_path)
    store = open_store(config)
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    spec = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (4096, 4096), 0.0).to_dict(),  # a checkpoint far over the limit
        epochs=2,
        batch_size=32,
    ).to_dict()
    run_id = create_run(store, "train", spec).id
    out = _limited(
        # A bare process executing a run directly: the owning package registers the "train" kind.
        "import core.training; from core.compute import execute_run; "
        f"print('STATUS', execute_run(config, {run_id!r}))",
        config,
        8 << 20,
    )
    assert "STATUS failed" in out.stdout, out.stdout + out.stderr[-3000:]
    run = get_run(store, run_id, viewer=SYSTEM)
    assert run.status_reason.startswith("the disk is full"), run.status_reason
    assert "Free space in the data directory" in run.status_reason
    assert (
        len(get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].steps) >= 4
    )  # streamed before the save failed
    assert check_integrity(store) == []


def _dask(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # noqa: S603 - the dask command line, fixed arguments
        [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_scheduler_restart_interrupts_its_runs_with_a_reason_and_the_next_run_works(tmp_path: Path) -> None:
    from distributed import Client

    from core.compute import submit_run

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    config = _config(tmp_path, scheduler_address=address)
    store = open_store(config)
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0")]
    procs.append(_dask("worker", address, "--nthreads", "1", "--no-nanny"))
    try:
        client = Client(address, timeout="30s")
        client.wait_for_workers(1, timeout=60)
        run_id = submit_run(client, store, "smoke", {"steps": 10_000, "interval_s": 0.02}, viewer=SYSTEM)
        wait_until(lambda: "loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=60, what="a loss")
        client.close()
        procs[0].send_signal(signal.SIGKILL)  # the scheduler dies; its worker goes with it
        procs[0].wait(30)
        procs[1].wait(60)
        procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0")]
        procs.append(_dask("worker", address, "--nthreads", "1", "--no-nanny"))
        client = Client(address, timeout="30s")
        client.wait_for_workers(1, timeout=60)

        def marked() -> bool:
            reap(store, heartbeat_timeout=config.heartbeat_timeout, client=client, grace_seconds=0)
            return get_run(store, run_id, viewer=SYSTEM).status in {s.value for s in TERMINAL}

        wait_until(marked, timeout=60, interval=0.5, what="the lost run to be marked")
        run = get_run(store, run_id, viewer=SYSTEM)
        assert run.status == "interrupted" and (
            "heartbeat" in run.status_reason or "no longer knows" in run.status_reason
        )
        assert len(get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps) > 0  # what it streamed is kept
        after = submit_run(client, store, "smoke", {"steps": 3, "interval_s": 0}, viewer=SYSTEM)
        assert wait_until_ended(store, after, 60).status == "succeeded"
        client.close()
        assert check_integrity(store) == []
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_integrity_check_finds_real_damage(tmp_path: Path) -> None:
    """The check the battery relies on can fail: a truncated Parquet file and a reasonless run."""
    from core.data import ingest_file
    from core.store import Run

    store = open_store(_config(tmp_path))
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    path = store.path_for("datasets", ds.id, ".parquet")
    path.write_bytes(path.read_bytes()[:100])
    run_id = _smoke(store, 1, 0)
    with store.session(SYSTEM) as s:
        run = s.get(Run, run_id)
        run.status, run.status_reason = "failed", ""
    problems = check_integrity(store)
    assert any("iris" in p for p in problems) and any("without a reason" in p for p in problems)
