"""Two app replicas behind nginx (issue 29), in Chromium: one PostgreSQL store, one external
Dask scheduler with one worker, two ``streamlit run app.py`` processes and nginx in front with
``deploy/nginx/loom.conf`` (the shipped file, its ports filled in).

Signed in through nginx, a smoke run launched on one replica streams on both; that replica is
killed mid-run, and a reload through nginx lands on the other: still signed in, the run goes on
and ends with every point. The sign-in hand-off crosses replicas: a code one issues, the other
redeems (it is in the store).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from core.config import AppConfig
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from tests.conftest import ROOT
from tests.conftest import free_port
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.e2e.test_smoke_job import _points
from tests.e2e.test_smoke_job import _wait_points_above
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

STEPS = 300
NGINX_CONF = ROOT / "deploy" / "nginx" / "loom.conf"


def _nginx() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.skip("nginx is not installed: run tests/install_system_deps.sh")
    return path


def render_nginx_conf(listen: str, replica_a: str, replica_b: str, run_dir: Path) -> str:
    """deploy/nginx/loom.conf with its ``${LOOM_...}`` placeholders filled in (as envsubst does)."""
    text = NGINX_CONF.read_text()
    values = {
        "LOOM_NGINX_LISTEN": listen,
        "LOOM_REPLICA_A": replica_a,
        "LOOM_REPLICA_B": replica_b,
        "LOOM_NGINX_DIR": str(run_dir),
        # Debian's nginx (1.22) has no `resolve` for upstream servers; the replicas are addresses.
        "LOOM_NGINX_RESOLVER": "",
        "LOOM_REPLICA_RESOLVE": "",
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    assert not left, f"placeholders left in the nginx config: {left}"
    return text


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except OSError:
        return 0


def _start(cmd: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:  # the child keeps its own descriptor
        return subprocess.Popen(  # noqa: S603 - fixed command lines
            cmd,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """One ``dask scheduler`` and one ``dask worker`` on loopback; yields the scheduler's address."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [
        _start(
            [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        procs.append(
            _start(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "2"]
                + ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
                tmp_path / "worker.log",
            )
        )
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _upstream_of(access_log: Path, path: str) -> str:
    """The replica (host:port) nginx sent the last request for ``path`` to."""
    lines = [line for line in access_log.read_text().splitlines() if f" {path}" in line]
    assert lines, f"nginx logged no request for {path}: {access_log.read_text()[-2000:]}"
    found = re.search(r"upstream=(\S+)", lines[-1])
    assert found, lines[-1]
    return found.group(1).split(",")[-1].strip()


def _handoff_crosses_replicas(browser, issued_on: str, redeemed_on: str) -> None:  # type: ignore[no-untyped-def]
    """Signed in on one replica's own port, the cookie request never reaches it (as if it died,
    or nginx sent that request to the other): the other replica redeems its code from the store."""
    context = browser.new_context()
    try:
        context.route(re.compile(r".*/_loom/session\?.*"), lambda route: route.abort())
        page = context.new_page()
        page.goto(issued_on)
        page.get_by_label("User name").fill("ann")
        page.get_by_label("Password", exact=True).fill("ann-password-long")
        with page.expect_request(lambda r: "/_loom/session?" in r.url and "quiet=1" in r.url) as held:
            page.get_by_role("button", name="Sign in").click()
        code = parse_qs(urlsplit(held.value.url).query)["code"][0]
    finally:
        context.close()
    context = browser.new_context()  # no cookie: only the code signs this browser in
    try:
        page = context.new_page()
        page.goto(f"{redeemed_on}/_loom/session?code={code}&next=%2Fjobs")
        page.get_by_text("Signed in as ann").wait_for()
        assert any(c["name"] == "loom_session" for c in context.cookies())
    finally:
        context.close()


def test_two_replicas_share_sign_in_and_runs_and_survive_one_dying(  # type: ignore[no-untyped-def]
    tmp_path, postgres, cluster, browser, request
) -> None:
    from core.sharing import create_user

    nginx_bin = _nginx()
    url = postgres.new_database()
    shared = tmp_path / "shared-data"  # the volume both replicas mount (datasets, the secret key)
    store = open_store(AppConfig.for_data_dir(shared, database_url=url))
    create_user(store, "ann", "ann-password-long")
    store.engine.dispose()
    metrics = {"a": free_port(), "b": free_port()}
    replicas: dict[str, AppServer] = {}
    nginx = None
    pages = None
    try:
        for name in ("a", "b"):
            # AppServer logs beside its data directory: a link per replica keeps the two logs apart.
            (tmp_path / name).mkdir()
            (tmp_path / name / "data").symlink_to(shared, target_is_directory=True)
            replicas[name] = AppServer(
                tmp_path / name / "data",
                LOOM_AUTH="on",
                LOOM_DATABASE_URL=url,
                DASK_SCHEDULER_ADDRESS=cluster,
                LOOM_WARM_WORKERS="off",
                LOOM_METRICS_PORT=str(metrics[name]),
            )
        run_dir = tmp_path / "nginx"
        run_dir.mkdir()
        run_dir.chmod(0o755)
        listen = free_port()
        conf = run_dir / "nginx.conf"
        conf.write_text(
            render_nginx_conf(
                f"127.0.0.1:{listen}",
                f"127.0.0.1:{replicas['a'].port}",
                f"127.0.0.1:{replicas['b'].port}",
                run_dir,
            )
        )
        nginx = _start(
            [nginx_bin, "-g", "daemon off;", "-p", str(run_dir), "-c", str(conf)], run_dir / "stderr.log"
        )
        proxy = f"http://127.0.0.1:{listen}"
        wait_until(lambda: _get(f"{proxy}/_stcore/health") == 200, timeout=30, interval=0.2, what="nginx")

        # Signed in through nginx; the session cookie comes from /_loom/session through it too.
        pages = open_page(browser, request, proxy, user="ann")
        page = next(pages)
        served = _upstream_of(run_dir / "access.log", "/_loom/session")
        first, other = ("a", "b") if served.endswith(f":{replicas['a'].port}") else ("b", "a")
        _handoff_crosses_replicas(browser, replicas[first].url, replicas[other].url)

        page.goto(f"{proxy}/jobs")
        page.get_by_label("Steps", exact=True).fill(str(STEPS))
        page.get_by_label("Seconds between steps").fill("0.25")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
        run_id = page.url.split("run=")[1][:32]
        seen = _wait_points_above(page, 5)
        assert _upstream_of(run_dir / "access.log", "/jobs") == served, "the browser left its replica"

        # Both replicas, each on its own port, show the same run streaming (the session cookie
        # is the host's, so it goes to either port: one signed key, one store of sessions).
        direct = page.context.new_page()
        for name in ("a", "b"):
            direct.goto(f"{replicas[name].url}/jobs?run={run_id}")
            direct.get_by_text("Signed in as ann").wait_for()
            _wait_points_above(direct, seen)
            # Its Dask client attached to the shared scheduler; it started no cluster of its own.
            direct.goto(f"{replicas[name].url}/cluster")
            direct.get_by_text(f"Scheduler: {cluster}").wait_for()
        direct.close()
        assert not (shared / "scheduler.json").exists(), "a replica started and advertised a LocalCluster"
        # Each replica serves its own Prometheus endpoint.
        for port in metrics.values():
            wait_until(
                lambda p=port: _get(f"http://127.0.0.1:{p}/metrics") == 200, timeout=30, what="metrics"
            )

        # The replica this browser sticks to dies mid-run; a reload lands on the other one.
        live = open_store(AppConfig.for_data_dir(shared, database_url=url))
        assert get_run(live, run_id, viewer=SYSTEM).status == "running", "the run ended too soon"
        replicas[first].proc.kill()
        replicas[first].proc.wait(30)
        page.goto(f"{proxy}/jobs?run={run_id}")
        page.get_by_text("Signed in as ann").wait_for()
        assert _upstream_of(run_dir / "access.log", "/jobs").endswith(f":{replicas[other].port}")
        _wait_points_above(page, seen)  # the points streamed before, and more: it goes on
        page.get_by_text("succeeded").first.wait_for(timeout=120_000)

        assert get_run(live, run_id, viewer=SYSTEM).status == "succeeded"
        steps = get_metrics(live, run_id, viewer=SYSTEM)
        assert len(steps["loss"].steps) == STEPS, "points were lost when the replica died"
        wait_until(lambda: _points(page) >= STEPS, timeout=30, interval=0.5, what="every point drawn")
    finally:
        if pages is not None:
            next(pages, None)  # open_page's screenshot on failure and closing of its context
        if nginx is not None:
            _stop(nginx)
        for server in replicas.values():
            server.stop()
