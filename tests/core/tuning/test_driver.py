"""The study driver on a real cluster whose worker runs in this process (so the test can change
the driver's settings): it learns of each trial's end from Dask, and a search space narrowed while
the study runs applies to every trial asked afterwards."""

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
from core.store import thaw
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import get_study
from core.tuning import load_optuna_study
from core.tuning import new_phase
from core.tuning import start_study
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

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


def test_a_range_narrowed_while_the_study_runs_applies_to_every_later_trial(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    spec = StudySpec(base, SearchSpace((LR,)).to_dict(), sampler="tpe", n_trials=6, parallelism=1, seed=5)
    study_id, driver = start_study(client, store, spec, "narrowed live", viewer=SYSTEM)

    def trials():  # type: ignore[no-untyped-def]
        return load_optuna_study(store.config, study_id).get_trials(deepcopy=False)

    wait_until(
        lambda: any(t.state == TrialState.COMPLETE for t in trials()),
        timeout=300,
        what="the study's first trial to finish",
    )
    narrow = SearchSpace((Param("optimizer.learning_rate", "float", 2e-3, 4e-3, log=True),))
    assert new_phase(store, study_id, narrow, "2e-3 to 4e-3 looked best", viewer=SYSTEM) == 2
    # Trials that exist now may have drawn from phase 1; every trial asked from here on must not.
    before = {t.number for t in trials()}
    phase = get_study(store, study_id, viewer=SYSTEM).phases[-1]
    assert phase["phase"] == 2 and SearchSpace.from_dict(thaw(phase["space"])) == narrow
    assert wait_until_ended(store, driver, 600).status == "succeeded"
    later = [t for t in trials() if t.number not in before]
    assert later, f"no trial was asked after the narrowing (trials before it: {sorted(before)})"
    for t in later:
        assert t.user_attrs["phase"] == 2, (t.number, t.user_attrs)
        assert 2e-3 <= t.params["optimizer.learning_rate"] <= 4e-3, (t.number, t.params)
        assert t.state == TrialState.COMPLETE, (t.number, t.user_attrs.get("outcome"))


def test_a_hand_run_added_while_the_study_runs_counts_toward_n_trials(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As Optuna's MaxTrialsCallback counts a trial added with add_trial: a study of 3 trials
    that takes in a hand run while its first trial trains asks 2 trials of its own, not 3."""
    import copy

    from sqlalchemy import update

    import core.tuning._driver as driver_module
    from core.store import Run
    from core.store import create_run
    from core.store import summarize_run
    from core.store import write_metrics
    from core.tuning import add_hand_runs

    client, store, base = setup
    monkeypatch.setattr(driver_module, "_SYNC_SECONDS", 0.0)  # look for people's trials every wake-up
    hand_spec = copy.deepcopy(base)
    hand_spec["optimizer"]["learning_rate"] = 0.02
    hand = create_run(store, "train", hand_spec, name="by hand", dataset_id=base["pipeline"]["dataset_id"])
    write_metrics(store, hand.id, [("epoch/val_loss", 1, 0.4, 0.0)])
    summarize_run(store, hand.id)
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == hand.id).values(status="succeeded"))
    spec = StudySpec(base, SearchSpace((LR,)).to_dict(), sampler="random", n_trials=3, parallelism=1, seed=6)
    study_id, driver = start_study(client, store, spec, "hand run mid-study", viewer=SYSTEM)

    def trials():  # type: ignore[no-untyped-def]
        return load_optuna_study(store.config, study_id).get_trials(deepcopy=False)

    wait_until(lambda: len(trials()) == 1, timeout=300, what="the study's first trial to be asked")
    add_hand_runs(store, study_id, [hand.id], viewer=SYSTEM)  # while trial 0 trains
    assert wait_until_ended(store, driver, 600).status == "succeeded"
    hand_runs = [t for t in trials() if t.user_attrs.get("hand_run")]
    own = [t for t in trials() if not t.user_attrs.get("hand_run")]
    assert len(hand_runs) == 1 and len(own) == 2, [(t.number, t.user_attrs) for t in trials()]
    assert all(t.state == TrialState.COMPLETE for t in own)
