"""Data-parallel training across two real Dask worker processes (CPU), through Loom's job."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


@pytest.fixture(scope="module")
def setup(two_process_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    config = AppConfig.for_data_dir(
        tmp_path_factory.mktemp("dp") / "data", heartbeat_seconds=0.5, heartbeat_timeout=30.0
    )
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    return two_process_cluster, store, pipeline, ds.id


def _spec(pipeline, workers: int, epochs: int = 3, batch_size: int = 16) -> dict:  # type: ignore[no-untyped-def]
    return TrainSpec(
        pipeline.to_dict(),
        mlp_template("multiclass", (16,), 0.0).to_dict(),
        OptimizerSpec("sgd", 0.05).to_dict(),
        epochs=epochs,
        batch_size=batch_size,
        seed=7,
        multi_worker=True,
        workers=workers,
    ).to_dict()


def test_one_and_two_workers_give_the_same_loss_curve(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, pipeline, ds = setup
    curves = {}
    for n in (1, 2):
        run_id = submit_run(client, store, "train", _spec(pipeline, n), dataset_id=ds, viewer=SYSTEM)
        run = wait_until_ended(store, run_id, 300)
        assert run.status == "succeeded", run.status_reason
        assert len(run.result_json["workers"]) == n
        curves[n] = get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].values
        assert (store.data_dir / "models" / f"{run_id}.keras").exists()
    assert len(curves[1]) == len(curves[2]) > 10
    np.testing.assert_allclose(curves[1], curves[2], rtol=1e-4, atol=1e-6)
    assert curves[2][-1] < curves[2][0]


def test_a_participant_dying_fails_the_run_and_the_next_run_works(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, pipeline, ds = setup
    run_id = submit_run(client, store, "train", _spec(pipeline, 2, epochs=3000), dataset_id=ds, viewer=SYSTEM)
    wait_until(lambda: "batch/loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="a loss")

    def kill_participant_1() -> list[int]:
        import psutil

        killed = []
        for proc in psutil.Process().children(recursive=True):
            cmd = " ".join(proc.cmdline())
            if "core.training._dp_child" in cmd and '"index": 1' in cmd:
                proc.send_signal(signal.SIGKILL)
                killed.append(proc.pid)
        return killed

    killed = client.run(kill_participant_1)
    assert sum(len(v) for v in killed.values()) == 1, killed
    run = wait_until_ended(store, run_id, 180)
    assert run.status == "failed"
    assert "participant 1" in run.status_reason and "other participants were stopped" in run.status_reason
    # No leftover training process anywhere, and the cluster takes the next run.
    leftovers = client.run(
        lambda: [
            p.pid
            for p in __import__("psutil").Process().children(recursive=True)
            if "_dp_child" in " ".join(p.cmdline())
        ]
    )
    assert not any(leftovers.values()), leftovers
    after = submit_run(client, store, "train", _spec(pipeline, 2, epochs=1), dataset_id=ds, viewer=SYSTEM)
    assert wait_until_ended(store, after, 300).status == "succeeded"


def test_stop_reaches_every_participant(setup) -> None:  # type: ignore[no-untyped-def]
    from core.compute import stop_run

    client, store, pipeline, ds = setup
    run_id = submit_run(client, store, "train", _spec(pipeline, 2, epochs=3000), dataset_id=ds, viewer=SYSTEM)
    wait_until(lambda: "batch/loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="a loss")
    stop_run(store, run_id, client, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 120)
    assert run.status == "stopped", run.status_reason


def test_multi_worker_specs_are_checked(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, pipeline, ds = setup
    with pytest.raises(SpecError, match="batch_size % workers == 0"):
        TrainSpec(
            pipeline.to_dict(),
            mlp_template("multiclass").to_dict(),
            batch_size=15,
            multi_worker=True,
            workers=2,
        )
    run_id = submit_run(
        client, store, "train", _spec(pipeline, 3, batch_size=18), dataset_id=ds, viewer=SYSTEM
    )
    run = wait_until_ended(store, run_id, 60)
    assert run.status == "failed" and "asks for 3 workers, but the cluster has 2" in run.status_reason
    assert os.environ.get("TF_CONFIG") is None  # nothing leaks into the test process
