"""The study driver on a real cluster whose worker runs in this process (so the test can change
the driver's settings): it learns of each trial's end from Dask."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from core.config import AppConfig
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import open_store
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import load_optuna_study
from core.tuning import start_study
from tests.conftest import wait_until_ended

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"
LR = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)


@pytest.fixture(scope="module")
def setup(thread_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    config = AppConfig.for_data_dir(
        tmp_path_factory.mktemp("driver") / "data", heartbeat_seconds=0.5, heartbeat_timeout=10.0
    )
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
        batch_size=32,
    ).to_dict()
    return thread_cluster, store, base


def test_the_driver_learns_of_each_trial_end_from_dask(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With the store's timed read set to once an hour, the study still runs trial after trial:
    each end reaches the driver through its trial's Dask future, and the driver reads the store
    once per end."""
    import core.tuning._driver as driver_module

    client, store, base = setup
    monkeypatch.setattr(driver_module, "_POLL_SECONDS", 3600.0)
    reads: list[int] = []  # the driver's reads of which runs ended, by how many it asked about
    ended = driver_module._ended
    monkeypatch.setattr(
        driver_module, "_ended", lambda store, ids: reads.append(len(ids)) or ended(store, ids)
    )
    spec = StudySpec(base, SearchSpace((LR,)).to_dict(), sampler="random", n_trials=3, parallelism=1, seed=4)
    study_id, driver = start_study(client, store, spec, "woken by dask", viewer=SYSTEM)
    run = wait_until_ended(store, driver, 300)
    assert run.status == "succeeded", run.status_reason
    trials = load_optuna_study(store.config, study_id).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    # Every trial is labelled with its run and phase (written after submission) before it is told.
    assert all(t.user_attrs["loom_run"] and t.user_attrs["phase"] == 1 for t in trials)
    assert all(t.user_attrs["outcome"] == "complete" for t in trials)
    # About one read at the start and one per trial's end (reading on a timer would make dozens):
    # woken by Dask.
    assert len(reads) <= 2 * 3 + 1, reads
