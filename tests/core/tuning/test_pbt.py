"""Population-based training: the spec's rules and JSON, the pure exploit/explore steps, and
populations of TensorFlow members on a real LocalCluster (exploit steps as branches, a person's
kill, clone and freeze, who may act)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Viewer
from core.store import get_run
from core.store import open_store
from core.training import TrainSpec
from core.training import branch_lineage
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import PBTSpec
from core.tuning import SearchSpace
from core.tuning import get_population
from core.tuning import get_study
from core.tuning import pbt_action
from core.tuning import population_curves
from core.tuning import start_pbt
from core.tuning._pbt_spec import branch_changes
from core.tuning._pbt_spec import exploit_pairs
from core.tuning._pbt_spec import explore
from core.tuning._pbt_spec import initial_values
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[3] / "assets"
LR = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)
BATCH = Param("batch_size", "int", 8, 64)
SPACE = SearchSpace((LR, BATCH))


def _base(dataset_id: str = "0" * 32) -> dict:
    return TrainSpec(
        default_pipeline(dataset_id, "species", {"columns": []}, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
        batch_size=32,
    ).to_dict()


# --- the spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"members": 1}, r"`members >= 2` must hold, but got members=1"),
        (
            {"interval": 5, "epochs": 3},
            r"`1 <= interval <= epochs` must hold, but got \(interval=5, epochs=3\)",
        ),
        ({"interval": 0}, r"`1 <= interval <= epochs` must hold"),
        ({"quantile": 0.75}, r"`0 < quantile <= 0.5` must hold, but got quantile=0.75"),
        ({"explore": "mutate"}, "Unknown explore 'mutate'. Valid explores are: perturb, resample"),
        (
            {"resample_probability": 1.5},
            r"`0 <= resample_probability <= 1` must hold, but got resample_probability=1.5",
        ),
        ({"metric": "params"}, "PBT ranks by a per-epoch metric"),
        ({"space": SearchSpace((Param("model.layers.0.units", "int", 4, 8),)).to_dict()}, "cannot explore"),
    ],
)
def test_bad_populations_are_refused_with_the_rule(kw: dict, message: str) -> None:
    args = {"base": _base(), "space": SPACE.to_dict(), **kw}
    with pytest.raises(SpecError, match=message):
        PBTSpec(**args)


def test_the_spec_round_trips_through_json_and_hashes_stably() -> None:
    spec = PBTSpec(_base(), SPACE.to_dict(), members=4, interval=2, epochs=6, explore="resample", seed=3)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["type"] == "pbt" and data["members"] == 4
    assert PBTSpec.from_dict(data) == spec
    assert PBTSpec.from_dict(data).hash() == spec.hash() != PBTSpec(_base(), SPACE.to_dict()).hash()
    literal = {
        "type": "pbt",
        "base": _base(),
        "space": SPACE.to_dict(),
        "members": 2,
        "interval": 1,
        "epochs": 1,
    }
    assert PBTSpec.from_dict(literal).quantile == 0.25
    assert PBTSpec.from_dict(literal).resample_probability == 0.25  # Ray Tune's default
    with pytest.raises(SpecError, match="Invalid population spec"):
        PBTSpec.from_dict({**literal, "population": 3})


# --- exploit and explore ----------------------------------------------------------------------


def test_a_population_is_recorded_like_a_study_with_an_empty_optuna_study(tmp_path: Path) -> None:
    """One path records every kind of study (core.tuning._steering.record_study): the row, its
    first phase, its name, and an Optuna study that alerts and reports find."""
    import optuna

    from core.store import thaw
    from core.tuning._pbt import create_pbt
    from core.tuning._storage import optuna_storage

    store = open_store(AppConfig.for_data_dir(tmp_path))
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    spec = PBTSpec(_base(ds.id), SPACE.to_dict(), members=2, interval=1, epochs=2)
    owner = Viewer.local("dana")
    study_id = create_pbt(store, spec, viewer=owner)
    study = get_study(store, study_id, viewer=owner)
    assert study.name == f"population {study_id[:8]}" and study.status == "queued"
    assert PBTSpec.from_dict(thaw(study.spec)).hash() == spec.hash()
    assert [p["phase"] for p in study.phases] == [1]
    loaded = optuna.load_study(study_name=study_id, storage=optuna_storage(store.config))
    assert loaded.trials == [] and loaded.direction.name == "MINIMIZE"
    assert get_study(store, create_pbt(store, spec, "mine", viewer=owner), viewer=owner).name == "mine"


def test_the_bottom_quantile_copies_the_top_and_unknown_scores_rank_last() -> None:
    rng = random.Random(0)
    scores = {0: 1.0, 1: 0.5, 2: float("nan"), 3: 0.2, 4: 0.3, 5: 0.9, 6: 0.1, 7: 2.0}
    pairs = exploit_pairs(scores, 0.25, "minimize", rng)
    assert {loser for loser, _ in pairs} == {7, 2}
    assert {winner for _, winner in pairs} <= {6, 3}
    maximize = exploit_pairs({0: 0.9, 1: 0.1}, 0.25, "maximize", rng)
    assert maximize == [(1, 0)]
    assert exploit_pairs({0: 1.0}, 0.5, "minimize", rng) == []


def test_explore_perturbs_within_the_range_and_leaves_frozen_settings() -> None:
    rng = random.Random(1)
    values = {"optimizer.learning_rate": 0.01, "batch_size": 32}
    for _ in range(20):
        new = explore(values, SPACE, "perturb", rng)
        assert new["optimizer.learning_rate"] in (pytest.approx(0.008), pytest.approx(0.012))
        assert new["batch_size"] in (26, 38)
    assert (
        explore({"optimizer.learning_rate": 0.29, "batch_size": 64}, SPACE, "perturb", random.Random(5))[
            "batch_size"
        ]
        <= 64
    )
    frozen = explore(values, SPACE, "resample", rng, frozenset({"batch_size"}))
    assert frozen["batch_size"] == 32 and frozen["optimizer.learning_rate"] != 0.01
    # With "perturb", a setting is drawn afresh with resample_probability (Ray Tune's PBT).
    mixed = [explore(values, SPACE, "perturb", rng, resample_probability=0.25) for _ in range(400)]
    perturbed = sum(
        m["optimizer.learning_rate"] in (pytest.approx(0.008), pytest.approx(0.012)) for m in mixed
    )
    assert 0.65 < perturbed / 400 < 0.85
    assert all(1e-4 <= m["optimizer.learning_rate"] <= 0.3 for m in mixed)
    drawn = initial_values(SPACE, 8, random.Random(2))
    assert len({d["optimizer.learning_rate"] for d in drawn}) == 8
    assert all(1e-4 <= d["optimizer.learning_rate"] <= 0.3 and 8 <= d["batch_size"] <= 64 for d in drawn)
    assert branch_changes(values) == {"batch_size": 32, "optimizer": {"learning_rate": 0.01}}


# --- real populations -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(two_process_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    config = AppConfig.for_data_dir(
        tmp_path_factory.mktemp("pbt") / "data", heartbeat_seconds=0.5, heartbeat_timeout=10.0
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
    return two_process_cluster, store, base


@pytest.mark.slow
def test_a_population_trains_in_rounds_and_each_exploit_is_a_branch(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    spec = PBTSpec(base, SPACE.to_dict(), members=4, interval=1, epochs=2, quantile=0.25, seed=7)
    study_id, driver = start_pbt(client, store, spec, "rounds", viewer=SYSTEM)
    run = wait_until_ended(store, driver, 240)
    assert run.status == "succeeded", run.status_reason
    assert get_study(store, study_id, viewer=SYSTEM).status == "finished"
    population = get_population(store, study_id, viewer=SYSTEM)
    assert population.members == (0, 1, 2, 3)
    assert [(s.start, s.end) for s in population.segments] == [(0, 1)] * 4 + [(1, 2)] * 4
    assert all(s.status == "succeeded" for s in population.segments)
    exploits = [e for e in population.events if e.event == "exploit"]
    assert len(exploits) == 1 and exploits[0].who == "population"
    loser, winner = exploits[0].member, exploits[0].data["from_member"]
    assert loser != winner and exploits[0].data["from_epoch"] == 1
    assert "copied member" in exploits[0].text
    # The loser's second segment is a branch of the winner's first, from epoch 1.
    first = {s.member: s for s in population.segments if s.end == 1}
    second = next(s for s in population.segments if s.member == loser and s.end == 2)
    branch = get_run(store, second.run_id, viewer=SYSTEM)
    assert branch.parent_id == first[winner].run_id and branch.parent_kind == "branched"
    assert branch.study_id == study_id and branch.spec["branch"]["epoch"] == 1
    tree = branch_lineage(store, second.run_id, viewer=SYSTEM)
    assert tree.run_id == first[winner].run_id and second.run_id in {c.run_id for c in tree.children}
    curves = population_curves(store, population)
    assert sorted(curves) == [0, 1, 2, 3] and all([e for e, _ in c] == [1, 2] for c in curves.values())
    assert run.result_json["finished"] == 4 and run.result_json["best_member"] in range(4)


@pytest.mark.slow
def test_a_person_kills_clones_and_freezes_while_the_population_trains(setup) -> None:  # type: ignore[no-untyped-def]
    client, store, base = setup
    ada = Viewer(name="ada", teams=("lab",))  # sees the population, may not change it
    spec = PBTSpec(base, SPACE.to_dict(), members=3, interval=1, epochs=4, quantile=0.5, seed=1)
    study_id, driver = start_pbt(client, store, spec, "steered", viewer=SYSTEM, team="lab")
    wait_until(lambda: len(get_population(store, study_id, viewer=SYSTEM).segments) >= 3, timeout=60)
    with pytest.raises(PermissionDeniedError):
        pbt_action(store, study_id, "freeze", viewer=ada, path="batch_size")
    with pytest.raises(SpecError, match="not explored by this population"):
        pbt_action(store, study_id, "freeze", viewer=SYSTEM, path="optimizer.momentum")
    with pytest.raises(SpecError, match="no live member 9 to kill"):
        pbt_action(store, study_id, "kill", 9, viewer=SYSTEM)
    pbt_action(store, study_id, "freeze", viewer=SYSTEM, path="batch_size")
    pbt_action(store, study_id, "kill", 0, viewer=SYSTEM)
    pbt_action(store, study_id, "clone", 1, viewer=SYSTEM, values={"optimizer.learning_rate": 0.02})
    run = wait_until_ended(store, driver, 240)
    assert run.status == "succeeded", run.status_reason
    population = get_population(store, study_id, viewer=SYSTEM)
    assert [e.event for e in population.events if e.who != "population"] == ["freeze", "kill", "clone"]
    assert population.frozen == ("batch_size",) and 0 in population.killed
    assert max(s.end for s in population.segments if s.member == 0) <= 2  # no rounds after its kill
    clone = [s for s in population.segments if s.member == 3]
    assert clone and clone[-1].end == 4 and clone[0].values["optimizer.learning_rate"] == 0.02
    # Once frozen, explore leaves the batch size as each winner had it.
    freeze = next(e.id for e in population.events if e.event == "freeze")
    later = [e for e in population.events if e.event == "exploit" and e.id > freeze]
    assert later
    for event in later:
        assert event.data["frozen"] == ["batch_size"]
        assert event.data["values"]["batch_size"] == event.data["from_values"]["batch_size"]
    with pytest.raises(SpecError, match="nothing to kill"):
        pbt_action(store, study_id, "kill", 1, viewer=SYSTEM)
