"""Operators' metrics (issue 29) on a real store and a real Dask cluster: the exposition names
every metric with the store's figures, the endpoint serves it on loopback once per process, and
``python -m core metrics`` prints it."""

from __future__ import annotations

import dataclasses
import urllib.request
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from core.cli import main
from core.config import AppConfig
from core.errors import SpecError
from core.ops import metrics_address
from core.ops import observe_page_render
from core.ops import render_metrics
from core.ops import start_metrics_server
from core.sharing import create_user
from core.sharing import sign_in
from core.store import SYSTEM
from core.store import Run
from core.store import Store
from core.store import UserSession
from core.store import create_run
from core.store import open_store

SMOKE = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def store(db_config: AppConfig) -> Store:
    store = open_store(dataclasses.replace(db_config, auth=True))
    states = ["queued", "queued", "queued", "running", "succeeded", "succeeded", "failed"]
    for i, state in enumerate(states):
        run = create_run(store, "smoke", SMOKE, name=f"r{i}", author="ann").id
        with store.session(SYSTEM) as s:
            s.execute(update(Run).where(Run.id == run).values(status=state))
    create_user(store, "ann", "ann-password-long")
    sign_in(store, "ann", "ann-password-long")
    sign_in(store, "ann", "ann-password-long")
    for _ in range(2):
        with pytest.raises(SpecError):
            sign_in(store, "ann", "a-wrong-password")
    with store.session(SYSTEM) as s:  # an expired session is not active
        s.add(UserSession(token_hash="e" * 64, user="ann", expires_at=datetime.now(UTC) - timedelta(days=1)))
    return store


def test_the_exposition_has_every_metric_with_the_store_s_figures(store: Store) -> None:
    observe_page_render("jobs", 0.3)
    values = _samples(render_metrics(store))
    runs = {dict(labels)["state"]: v for (name, labels), v in values.items() if name == "loom_runs"}
    assert runs == {
        "queued": 3,
        "running": 1,
        "succeeded": 2,
        "failed": 1,
        "stopped": 0,
        "interrupted": 0,
    }
    assert values[("loom_queue_length", ())] == 3
    assert values[("loom_active_sessions", ())] == 2
    assert values[("loom_sign_in_failures_total", ())] == 2
    assert values[("loom_store_size_bytes", ())] > 10_000
    assert values[("loom_cluster_up", ())] == 0  # no client given
    assert values[("loom_page_render_seconds_count", (("page", "jobs"),))] >= 1
    assert values[("loom_page_render_seconds_bucket", (("le", "+Inf"), ("page", "jobs")))] >= 1


def test_workers_and_their_memory_from_the_scheduler(store: Store) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        values = _samples(render_metrics(store, cluster=lambda: client))
    assert values[("loom_cluster_up", ())] == 1
    assert values[("loom_workers", ())] == 2
    limits = [v for (name, _), v in values.items() if name == "loom_worker_memory_limit_bytes"]
    used = [v for (name, _), v in values.items() if name == "loom_worker_memory_bytes"]
    assert len(limits) == 2 and all(v > 0 for v in limits) and len(used) == 2
    assert values[("loom_gpus", ())] == 0


def test_the_endpoint_serves_on_loopback_once_per_process(store: Store) -> None:
    address = metrics_address()
    if address is None:
        assert start_metrics_server(store, port=0)
        address = metrics_address()
    else:  # another test of this process started it: it now reads this store
        assert not start_metrics_server(store, port=0)
    assert address is not None and address[0] == "127.0.0.1"
    assert not start_metrics_server(store, port=0)  # a rerun starts nothing
    with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/metrics", timeout=10) as response:
        values = _samples(response.read().decode())
    assert values[("loom_queue_length", ())] == 3


def test_the_cli_prints_the_metrics_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    cli_store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    create_run(cli_store, "smoke", SMOKE, name="one")
    assert main(["metrics"]) == 0
    values = _samples(capsys.readouterr().out)
    assert values[("loom_runs", (("state", "queued"),))] == 1
    assert values[("loom_queue_length", ())] == 1
