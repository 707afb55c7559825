"""A population whose workers are killed mid-segment, on a real LocalCluster of worker processes:
each member loses at most the epochs since its last checkpoint (the driver, here in the test's
process so the kill spares it, resumes the segment from the interrupted run's last kept one)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from core.compute import JobContext
from core.compute import request_control
from core.compute import transition
from core.compute._lifecycle import Started
from core.config import AppConfig
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import create_run
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import epoch_checkpoints
from core.tuning import Param
from core.tuning import PBTSpec
from core.tuning import SearchSpace
from core.tuning import get_population
from core.tuning._pbt import create_pbt
from core.tuning._pbt_driver import run_pbt
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


def _epochs(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    series = get_metrics(store, run_id, viewer=SYSTEM).get("epoch/val_loss")
    return len(series.steps) if series else 0


def _population(tmp_path, name: str, *, interval: int, epochs: int, seed: int):  # type: ignore[no-untyped-def]
    """A 2-member population on iris, its driver run started inline in a thread here (so the
    cluster's worker can be killed under it). Returns the store, the study, the driver's thread,
    its JobContext and the dict its outcome lands in."""
    config = AppConfig.for_data_dir(tmp_path / "data", heartbeat_seconds=0.5, heartbeat_timeout=5.0)
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
        batch_size=16,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),))
    spec = PBTSpec(base, space.to_dict(), members=2, interval=interval, epochs=epochs, seed=seed)
    study_id = create_pbt(store, spec, name, viewer=SYSTEM)
    driver = create_run(store, "pbt", {"study": study_id}, study_id=study_id)
    transition(store, driver.id, Started(worker="inline"))
    ctx = JobContext(store, driver.id, heartbeat_seconds=0.5)
    ctx.start()
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(run_pbt(ctx, {"study": study_id})), daemon=True)
    thread.start()
    wait_until(lambda: len(get_population(store, study_id, viewer=SYSTEM).segments) == 2, timeout=60)
    return store, study_id, thread, ctx, outcome


def test_a_killed_worker_costs_a_member_at_most_the_epochs_since_its_checkpoint(
    two_process_cluster, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Long enough that the victim is still training when the pause reaches it: with six epochs it
    # could finish first on a busy machine, and no pause would ever show.
    epochs = 20
    store, study_id, thread, ctx, outcome = _population(
        tmp_path, "killed", interval=epochs, epochs=epochs, seed=2
    )
    try:
        victim = get_population(store, study_id, viewer=SYSTEM).segments[0].run_id
        wait_until(lambda: _epochs(store, victim) >= 2, timeout=120, what="two epochs of the victim")
        # Paused mid-run (it acts within a batch), so the kill lands between two checkpoints.
        request_control(store, victim, "pause", viewer=SYSTEM)
        wait_until(
            lambda: any(e.kind == "marker" for e in get_events(store, victim, viewer=SYSTEM)),
            timeout=60,
            what=lambda: (
                f"the pause taking effect (the victim is {get_run(store, victim, viewer=SYSTEM).status}"
                f" after {_epochs(store, victim)} epochs)"
            ),
        )
        done = _epochs(store, victim)
        assert done < epochs
        for pid in two_process_cluster.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
        thread.join(timeout=300)
        assert not thread.is_alive(), "the population did not finish after the kill"
    finally:
        ctx.close()
    assert get_run(store, victim, viewer=SYSTEM).status == "interrupted"
    population = get_population(store, study_id, viewer=SYSTEM)
    retry = next(e for e in population.events if e.event == "retry" and e.data["after"] == victim)
    # Resumed from the newest checkpoint the killed run kept (at least the epochs the store had
    # seen: a checkpoint is written as its epoch ends, its points within a tick).
    newest = max(c.epoch for c in epoch_checkpoints(store, victim))
    start = retry.data["from_epoch"]
    assert start == newest >= done
    resumed = get_run(store, retry.data["run"], viewer=SYSTEM)
    assert resumed.parent_id == victim and resumed.spec["branch"]["epoch"] == start
    assert resumed.status == "succeeded" and f"member {retry.member} resumed from epoch {start}" in retry.text
    assert outcome["finished"] == 2
    # The member's curve has every epoch once: the checkpointed ones, then the resumed ones.
    assert [s for s in get_metrics(store, resumed.id, viewer=SYSTEM)["epoch/val_loss"].steps] == list(
        range(start + 1, epochs + 1)
    )


@pytest.fixture
def strict_cluster():  # type: ignore[no-untyped-def]
    """One worker process, one thread, that Dask gives up on a task after a single worker death
    (as it does after the fourth by default) and that is sent every task at once, so a
    segment waits in the worker's queue as a run still queued in the store."""
    import dask
    import distributed

    settings = {"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": "inf"}
    with dask.config.set(settings):
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_a_segment_whose_task_dask_gave_up_on_before_it_started_is_retried(strict_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The population's driver holds its segments' futures, so an erred task stays known to the
    scheduler: a segment still queued when Dask gave up on its task (KilledWorker) was never
    marked, and the driver waited on it for ever. It is marked interrupted and retried."""
    # Long enough that the running segment is still training when the pause reaches it.
    store, study_id, thread, ctx, outcome = _population(tmp_path, "erred", interval=30, epochs=30, seed=3)
    try:
        runs = [s.run_id for s in get_population(store, study_id, viewer=SYSTEM).segments]

        def running() -> str | None:
            return next((r for r in runs if get_run(store, r, viewer=SYSTEM).status == "running"), None)

        victim = wait_until(running, timeout=120, what="a segment running")
        waiting = next(r for r in runs if r != victim)
        request_control(store, victim, "pause", viewer=SYSTEM)  # held, so the other stays queued
        wait_until(
            lambda: any(e.kind == "marker" for e in get_events(store, victim, viewer=SYSTEM)),
            timeout=60,
            what="the pause taking effect",
        )
        assert get_run(store, waiting, viewer=SYSTEM).status == "queued"
        for pid in strict_cluster.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
        thread.join(timeout=300)
        assert not thread.is_alive(), "the population still waits on a segment whose task Dask gave up on"
    finally:
        ctx.close()
    lost = get_run(store, waiting, viewer=SYSTEM)
    assert lost.status == "interrupted" and "no longer knows this job" in lost.status_reason
    population = get_population(store, study_id, viewer=SYSTEM)
    retried = {e.data["after"] for e in population.events if e.event == "retry"}
    assert {victim, waiting} <= retried
    assert outcome["finished"] == 2, population.events
