"""Safe by default, checked where it shows: what listens on which address, Streamlit's XSRF
protection, and share tokens' strength."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from core.compute import create_client
from core.config import AppConfig
from core.store import SYSTEM

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "::1"}


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    return [
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]


@pytest.mark.slow
def test_the_local_cluster_listens_on_loopback_only(tmp_path: Path) -> None:
    """Scheduler, dashboard, workers and nannies: every socket the cluster listens on is bound to
    loopback (sockets of other fixtures in this test process are left out)."""
    from urllib.parse import urlsplit

    me = psutil.Process()
    before = {c.pid for c in me.children(recursive=True)}
    client = create_client(AppConfig.for_data_dir(tmp_path, n_workers=2, threads_per_worker=1))
    try:
        client.wait_for_workers(2, timeout=60)
        info = client.scheduler_info(n_workers=-1)
        ports = {urlsplit(info["address"]).port, urlsplit(client.dashboard_link).port}
        new = {c.pid for c in me.children(recursive=True)} - before  # the nannies and workers
        sockets = [(ip, port) for ip, port in _listening({me.pid}) if port in ports] + _listening(new)
        assert len(sockets) >= 5  # scheduler, dashboard, 2 workers (+ nannies, worker dashboards)
        assert {ip for ip, _ in sockets} <= LOOPBACK, sockets
        assert {urlsplit(w).hostname for w in info["workers"]} == {"127.0.0.1"}
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_streamlit_serves_on_loopback_with_xsrf_protection() -> None:
    code = (
        "from streamlit import config; config.get_config_options(force_reparse=True);"
        "print(config.get_option('server.address'), config.get_option('server.enableXsrfProtection'),"
        " config.get_option('server.enableCORS'), config.get_option('client.showErrorDetails'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["127.0.0.1", "True", "True", "none"], out.stdout + out.stderr


def test_share_tokens_carry_at_least_128_random_bits(tmp_path: Path) -> None:
    from core.sharing import create_link
    from core.store import create_run
    from core.store import open_store

    store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    run = create_run(store, "smoke", {"type": "smoke"})
    tokens = {create_link(store, "run", run.id, viewer=SYSTEM) for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
