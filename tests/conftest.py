"""Shared fixtures: a fresh config per test, and the store on SQLite and on real PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

from core.compute import PROFILER_OFF
from core.config import AppConfig
from core.store import SYSTEM
from core.store import Store
from core.store import close_stores
from core.store import open_store

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test IDs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (``-n 2 --dist loadgroup``, the README's test command): every browser test
    and every bench run runs in one worker, one after another, and every other module whole in
    either worker.

    A module's tests share its module-scoped fixtures (a data directory, a cluster, an app), so a
    module stays in one worker; browser tests and benches each drive a real app or cluster (and
    Chromium), and two at once on two cores made their timings fail (a run's first point, a
    page's render), while a unit test beside one does not.
    """
    # A browser test that fails is run once more (pytest-rerunfailures), as Playwright's own CI
    # template retries (``retries: process.env.CI ? 2 : 0``) and Streamlit's browser suite does:
    # on two shared cores a page's timing can miss once. Each retry is listed in the summary
    # ("rerun test summary info", -rR in pyproject's addopts), and a second failure fails.
    for item in items:
        if item.get_closest_marker("e2e") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=5))
    # In a worker, xdist sets ``dist`` to "no" and says loadgroup in an option of its own.
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        module = item.nodeid.split("::")[0]
        heavy = item.get_closest_marker("e2e") or module.startswith("tests/test_bench_")
        group = "one-at-a-time" if heavy else module
        item.add_marker(pytest.mark.xdist_group(group))


_RERUNS: list[tuple[str, str]] = []  # (test, why its first run failed), for the summary


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.outcome == "rerun":  # pytest-rerunfailures' first, failed try
        _RERUNS.append((report.nodeid, report.longreprtext))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Why each rerun test failed the first time (-rR lists only their names): a flake is read,
    not only counted."""
    if not _RERUNS:
        return
    terminalreporter.section("why rerun tests failed their first try")
    for nodeid, text in _RERUNS:
        terminalreporter.write_line(nodeid)
        for line in text.strip().splitlines()[-12:]:
            terminalreporter.write_line(f"    {line}")


@pytest.fixture
def config(tmp_path: Path) -> AppConfig:
    return AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.2, heartbeat_timeout=2.0)


@pytest.fixture(autouse=True)
def _dispose_stores() -> Iterator[None]:
    yield
    close_stores()


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class _Postgres:
    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not (initdb and pg_ctl):
            pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed: run tests/install_system_deps.sh")
        self.pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="loom-pg-"))
        self.datadir = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root: run the server as the `postgres` user then.
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._run([initdb, "-D", str(self.datadir), "-A", "trust", "-U", "loom", "--no-sync"])
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.datadir),
                "-l",
                str(self.root / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )

    def _run(self, cmd: list[str]) -> None:
        subprocess.run([*self.prefix, *cmd], check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://loom@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        from sqlalchemy import create_engine
        from sqlalchemy import text

        name = f"loom_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres]:
    server = _Postgres()
    yield server
    server.stop()


# The PostgreSQL variant starts a database server (once a session): it is slow.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_config(request: pytest.FixtureRequest, tmp_path: Path) -> AppConfig:
    """A config on each backend: SQLite in the data dir, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.2, heartbeat_timeout=2.0)
    url = request.getfixturevalue("postgres").new_database()
    return AppConfig.for_data_dir(
        tmp_path / "data", database_url=url, heartbeat_seconds=0.2, heartbeat_timeout=2.0
    )


@pytest.fixture
def store(db_config: AppConfig) -> Store:
    return open_store(db_config)


# --- Dask ---------------------------------------------------------------------------------

# Every cluster a test starts runs its workers as Loom's own do: without Dask's statistical
# profiler, which can deadlock a worker holding TensorFlow graphs (see core/compute/_warm.py).
dask.config.set(PROFILER_OFF)


def _local_cluster(processes: bool, threads: int, workers: int = 1):  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=processes, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def thread_cluster() -> Iterator[object]:
    """A real LocalCluster whose one worker runs in this process (fast to start)."""
    yield from _local_cluster(processes=False, threads=4)


@pytest.fixture(scope="module")
def process_cluster() -> Iterator[object]:
    """A real LocalCluster with one worker process (which tests may kill)."""
    yield from _local_cluster(processes=True, threads=2)


@pytest.fixture(scope="module")
def two_process_cluster() -> Iterator[object]:
    """A real LocalCluster with two worker processes, as a small team's cluster would have."""
    yield from _local_cluster(processes=True, threads=1, workers=2)


def wait_until_ended(store: Store, run_id: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Wait until the run reaches a final status; returns the run."""
    from core.compute import TERMINAL
    from core.store import get_run
    from tests.waiting import wait_until

    def ended():  # type: ignore[no-untyped-def]
        run = get_run(store, run_id, viewer=SYSTEM)
        return run if run.status in TERMINAL else None

    return wait_until(ended, timeout=timeout, interval=0.1, what=f"run {run_id} to end")
