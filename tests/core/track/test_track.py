"""core.track: runs logged from a script in another process, into a real store (SQLite, and a
real PostgreSQL server killed and restarted mid-logging)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from core import track
from core.compute import reap
from core.compute import stop_run
from core.config import AppConfig
from core.config import get_config
from core.errors import NotFoundError
from core.errors import SchemaMismatchError
from core.errors import SpecError
from core.experiments import ExperimentQuery
from core.experiments import list_experiments
from core.sharing import create_user
from core.store import SYSTEM
from core.store import Metric
from core.store import Run
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.store import thaw
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


def _env(config: AppConfig, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOM_DATA_DIR": str(config.data_dir),
        "LOOM_DATABASE_URL": config.database_url,
        "LOOM_HEARTBEAT_SECONDS": "0.2",
        "LOOM_HEARTBEAT_TIMEOUT": "2",
        **extra,
    }


def _script(config: AppConfig, body: str, **env: str) -> subprocess.Popen[str]:
    """A Python script in its own process, with the app's settings in its environment."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=_env(config, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


LOOP = """
    import sys, time
    from core import track
    with track.run("loop", {"lr": 0.01, "layers": [64, 32]}, tags=["script"]) as run:
        print(run.id, flush=True)
        for step in range(10_000):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            if step % 100 == 99:
                time.sleep(PAUSE)
"""


def _external_run_id(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if len(line) != 32:
        raise AssertionError(
            f"the script printed {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
    return line


def test_a_script_logs_10000_points_seen_live_and_listed_as_external(config: AppConfig) -> None:
    store = open_store(config)
    proc = _script(config, LOOP.replace("PAUSE", "0.03"))
    try:
        run_id = _external_run_id(proc)
        # Live: points are in the store while the script is still logging.
        seen = wait_until(
            lambda: _count(store, run_id) or None,
            timeout=30,
            what="the first points",
        )
        assert proc.poll() is None and get_run(store, run_id, viewer=SYSTEM).status == "running"
        assert 0 < seen < 10_000
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    run = get_run(store, run_id, viewer=SYSTEM)
    assert (run.kind, run.status, run.name) == ("external", "succeeded", "loop")
    assert thaw(run.spec)["config"] == {"lr": 0.01, "layers": [64, 32]}
    loss = get_metrics(store, run_id, viewer=SYSTEM)["loss"]
    assert loss.steps == list(range(10_000))
    assert loss.values[-1] == pytest.approx(1e-4)
    rows, _ = list_experiments(store, ExperimentQuery(), viewer=SYSTEM)
    assert [(r.id, r.kind, r.tags) for r in rows] == [(run_id, "external", ["script"])]


def test_bad_values_follow_the_documented_rules(config: AppConfig, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(config)
    with track.run("rules", app_config=config, system_metrics=False) as run:
        with pytest.raises(SpecError, match="Metric 'acc' must be a number, but got str"):
            run.log({"loss": 1.0, "acc": "high"}, step=0)
        with pytest.raises(SpecError, match="Metric 'flag' must be a number"):
            run.log({"flag": True})
        with pytest.raises(SpecError, match="Metric name 'bad key!' is not valid"):
            run.log({"bad key!": 1.0})
        with pytest.raises(SpecError, match="`step` must be an int >= 0"):
            run.log({"loss": 1.0}, step=-1)
        run.log({"loss": 0.5}, step=1)
        run.log({"loss": math.nan, "val": 1.0}, step=2)
        run.log({"loss": math.inf}, step=3)
        run.log({"loss": 0.4}, step=5)
        run.log({"loss": 0.9}, step=4)  # back: skipped
        run.log({"loss": 0.3}, step=5)  # the same step again: stored
        run.log({"loss": 0.2})  # no step: the next one, 6
    metrics = get_metrics(store, run.id, viewer=SYSTEM)
    assert metrics["loss"].steps == [1, 5, 5, 6]
    assert metrics["loss"].values == [0.5, 0.4, 0.3, 0.2]
    assert metrics["val"].steps == [2]
    assert "acc" not in metrics and "flag" not in metrics  # a refused call logs nothing
    notes = [e.message for e in get_events(store, run.id, viewer=SYSTEM) if e.kind == "nonfinite"]
    assert notes == ['{"skipped": {"loss": 2}}']
    warnings = [r.getMessage() for r in caplog.records if "warned once" in r.getMessage()]
    assert len(warnings) == 2 and "step 4 is skipped" in warnings[1]
    assert get_run(store, run.id, viewer=SYSTEM).status == "succeeded"
    with pytest.raises(SpecError, match="config must be JSON"):
        with track.run("bad config", {"f": object()}, app_config=config):
            pass


def test_an_exception_fails_the_run_and_propagates(config: AppConfig) -> None:
    store = open_store(config)
    with pytest.raises(ZeroDivisionError), track.run("boom", app_config=config) as run:
        run.log({"loss": 1.0})
        1 / 0  # noqa: B018
    found = get_run(store, run.id, viewer=SYSTEM)
    assert found.status == "failed" and found.status_reason.startswith("ZeroDivisionError")


@pytest.mark.parametrize(("revision", "words"), [("0007", "python -m core migrate"), ("9999", "newer than")])
def test_a_store_of_another_schema_version_is_refused_untouched(
    config: AppConfig, revision: str, words: str
) -> None:
    store = open_store(config)
    with store.session(SYSTEM) as s:
        s.execute(text("UPDATE loom_schema_version SET version_num = :v"), {"v": revision})
    with pytest.raises(SchemaMismatchError, match=words) as caught:
        with track.run("never", app_config=config):
            raise AssertionError("the block must not run")
    assert "Nothing was written" in str(caught.value)
    with store.session(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
        assert s.execute(text("SELECT version_num FROM loom_schema_version")).scalar() == revision


def test_accounts_on_the_author_must_be_a_user(tmp_path: Path) -> None:
    config = AppConfig.for_data_dir(
        tmp_path / "data", auth=True, heartbeat_seconds=0.2, heartbeat_timeout=2.0
    )
    store = open_store(config)
    create_user(store, "ada", "correct horse battery")
    os.environ.pop("LOOM_USER", None)
    with pytest.raises(SpecError, match="author=NAME"):
        with track.run("x", app_config=config):
            pass
    with pytest.raises(NotFoundError, match="python -m core user add bob"):
        with track.run("x", app_config=config, author="bob"):
            pass
    with track.run("x", app_config=config, author="ada", system_metrics=False) as run:
        run.log({"loss": 1.0})
    assert get_run(store, run.id, viewer=SYSTEM).author == "ada"


@pytest.mark.slow
def test_the_reaper_leaves_a_live_script_alone_and_reaps_a_killed_one(
    thread_cluster, config: AppConfig
) -> None:
    store = open_store(config)
    with track.run("alive", app_config=config, system_metrics=False) as run:
        time.sleep(3)  # past the heartbeat timeout (2 s) and the reaper's grace
        assert reap(store, heartbeat_timeout=2.0, client=thread_cluster, grace_seconds=0.5) == []
        assert get_run(store, run.id, viewer=SYSTEM).status == "running"
    proc = _script(config, LOOP.replace("PAUSE", "1.0"))
    run_id = _external_run_id(proc)
    proc.kill()
    proc.wait()
    wait_until(
        lambda: run_id in reap(store, heartbeat_timeout=2.0, client=thread_cluster), timeout=30, what="a reap"
    )
    assert get_run(store, run_id, viewer=SYSTEM).status == "interrupted"


FIT = """
    import numpy as np, keras
    from core import track
    x = np.random.default_rng(0).standard_normal((256, 8)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    layers = [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    with track.run("fit", {"epochs": 2000}) as run:
        print(run.id, flush=True)
        callback = track.KerasCallback(run, batch_size=16)
        history = model.fit(x, y, epochs=2000, batch_size=16, verbose=0, callbacks=[callback])
        print(len(history.history["loss"]), flush=True)
"""


@pytest.mark.slow
def test_a_stop_request_ends_the_scripts_fit(config: AppConfig) -> None:
    store = open_store(config)
    proc = _script(config, FIT)
    try:
        run_id = _external_run_id(proc)
        wait_until(
            lambda: "epoch/loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="an epoch"
        )
        stop_run(store, run_id, viewer=SYSTEM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    epochs = int(out.split()[-1])
    assert epochs < 2000
    run = wait_until_ended(store, run_id)
    assert run.status == "stopped"
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    assert metrics["epoch/loss"].steps == list(range(1, epochs + 1))
    assert metrics["batch/loss"].steps[-1] <= epochs * 16
    assert "epoch/samples_per_s" in metrics


# --- a store killed mid-logging -------------------------------------------------------------


@pytest.mark.slow
def test_a_postgres_server_killed_mid_logging_loses_no_point(tmp_path: Path) -> None:
    from tests.conftest import _Postgres

    server = _Postgres()  # its own server: this test kills it
    try:
        config = AppConfig.for_data_dir(
            tmp_path / "data", database_url=server.new_database(), heartbeat_seconds=0.2, heartbeat_timeout=60
        )
        store = open_store(config)
        proc = _script(config, LOOP.replace("PAUSE", "0.05"))
        run_id = _external_run_id(proc)
        wait_until(lambda: _count(store, run_id) > 500 or None, timeout=30, what="points before the kill")
        _pg_ctl(server, "stop", "-m", "immediate")
        time.sleep(3)  # the script goes on logging into its buffer
        assert proc.poll() is None
        _pg_ctl(server, "start", "-w", "-l", str(server.root / "log"), "-o", _pg_options(server))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "store write deferred" in err  # the outage happened while it logged
        steps = [
            s
            for (s,) in _rows(store, select(Metric.step).where(Metric.run_id == run_id, Metric.key == "loss"))
        ]
        assert sorted(steps) == list(range(10_000))
        assert wait_until_ended(store, run_id).status == "succeeded"
    finally:
        server.stop()


def _count(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    try:
        with store.session(SYSTEM) as s:
            return int(s.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) or 0)
    except Exception:  # noqa: BLE001 - the server may be down
        return 0


def _rows(store, query):  # type: ignore[no-untyped-def]
    with store.session(SYSTEM) as s:
        return list(s.execute(query))


def _pg_options(server) -> str:  # type: ignore[no-untyped-def]
    return f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c fsync=off"


def _pg_ctl(server, *args: str) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([*server.prefix, server.pg_ctl, "-D", str(server.datadir), *args], check=True, timeout=60)


def test_migrate_brings_a_fresh_store_to_this_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert "is at this Loom's schema version" in capsys.readouterr().out
    with track.run("after migrate", system_metrics=False) as run:
        run.log({"loss": 1.0})
    assert get_run(open_store(get_config()), run.id, viewer=SYSTEM).status == "succeeded"


def test_a_full_buffer_drops_new_points_with_a_warning_and_counts_them(
    config: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(config)
    with track.run("tiny buffer", app_config=config, system_metrics=False, max_buffered=100) as run:
        for step in range(1_000):  # far faster than a write: the buffer fills
            run.log({"loss": 1.0}, step=step)
        dropped = run.context.dropped
    stored = len(get_metrics(store, run.id, viewer=SYSTEM)["loss"].steps)
    assert dropped > 0 and stored + dropped == 1_000
    assert any("new points are dropped" in r.getMessage() for r in caplog.records)
    events = [e.message for e in get_events(store, run.id, viewer=SYSTEM) if e.kind == "metrics_dropped"]
    assert len(events) == 1 and f'"points": {dropped}' in events[0]
