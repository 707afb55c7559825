"""Fault battery: twenty browser-less sessions at once (AppTest, each in its own process, all on one
store and one Dask scheduler), each launching a run and reading it back: every run ends
succeeded, each session sees its own, nothing is lost and the store is intact.

(AppTest sessions cannot share one process: the harness keeps per-process state; so the twenty
sessions are twenty processes, which is also what twenty Loom app replicas on one store are.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import AppConfig
from core.store import SYSTEM
from core.store import check_integrity
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from tests.conftest import ROOT
from tests.conftest import wait_until_ended

pytestmark = pytest.mark.slow
SESSIONS = 20

SESSION = """
import json, sys, time
from streamlit.testing.v1 import AppTest
start_at, name = float(sys.argv[1]), sys.argv[2]
at = AppTest.from_file("app.py", default_timeout=120)
at.run(); at.switch_page("pages/jobs.py"); at.run()
time.sleep(max(0.0, start_at - time.time()))  # every session launches at the same moment
at.number_input(key="smoke_steps").set_value(5)
at.number_input(key="smoke_interval").set_value(0.0)
at.text_input(key="smoke_name").set_value(name)
at.button(key="smoke_launch").click().run()
errors = [e.value for e in at.exception]
run = at.query_params.get("run")
run = run[0] if isinstance(run, list) else run
at.run()  # read it back, as a reload would
errors += [e.value for e in at.exception]
print(json.dumps({"run": run, "errors": errors}))
"""


def test_twenty_sessions_launch_and_read_runs_at_once(tmp_path: Path) -> None:
    import time

    from distributed import LocalCluster

    data = tmp_path / "data"
    store = open_store(AppConfig.for_data_dir(data))
    with LocalCluster(
        n_workers=1, threads_per_worker=4, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        env = {
            **os.environ,
            "LOOM_DATA_DIR": str(data),
            "DASK_SCHEDULER_ADDRESS": cluster.scheduler_address,
            "PYTHONPATH": str(ROOT),
        }
        start_at = time.time() + 45  # time for twenty processes to import and render once
        procs = [
            subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                [sys.executable, "-c", SESSION, str(start_at), f"session {i}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(SESSIONS)
        ]
        results = {}
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=300)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            assert proc.returncode == 0 and lines, f"session {i}: {err[-2000:]}"
            results[i] = json.loads(lines[-1])
        assert all(not r["errors"] for r in results.values()), results
        runs = {i: r["run"] for i, r in results.items()}
        assert len(set(runs.values())) == SESSIONS
        for i, run_id in runs.items():
            run = wait_until_ended(store, run_id, 180)
            assert run.status == "succeeded", (i, run.status, run.status_reason)
            assert run.name == f"session {i}"  # each session launched its own
    assert {r.id for r in list_runs(store, limit=10_000, viewer=SYSTEM)} == set(runs.values())
    assert all(get_run(store, r, viewer=SYSTEM).status == "succeeded" for r in runs.values())
    assert check_integrity(store) == []
