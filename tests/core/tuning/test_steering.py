"""Steering a study's search space: a new phase that could not take effect is refused with a
message that says why, and two requests at once each make their own phase."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Store
from core.store import open_store
from core.store import thaw
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Choice
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import create_study
from core.tuning import current_space
from core.tuning import get_study
from core.tuning import new_phase

ASSETS = Path(__file__).resolve().parents[3] / "assets"
LR = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)
UNITS = Param("model.layers.0.units", "int", 4, 32)
OPTIMIZER = Param("optimizer.name", "categorical", choices=("adam", "sgd", "rmsprop"))


@pytest.fixture
def base(config: AppConfig) -> tuple[Store, dict]:
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    spec = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
    ).to_dict()
    return store, spec


def _study(store: Store, base: dict, *params: Param, sampler: str = "random") -> str:
    return create_study(store, StudySpec(base, SearchSpace(params).to_dict(), sampler=sampler), viewer=SYSTEM)


def test_the_same_space_again_is_refused_and_adds_no_phase(base) -> None:  # type: ignore[no-untyped-def]
    store, spec = base
    study_id = _study(store, spec, LR, UNITS)
    # The same parameters in another order are the same space.
    same = SearchSpace(
        (Param("model.layers.0.units", "int", 4, 32), Param(LR.path, "float", 0.0001, 0.3, log=True))
    )
    with pytest.raises(SpecError, match="phase 1's space already: nothing would change"):
        new_phase(store, study_id, same, viewer=SYSTEM)
    assert len(get_study(store, study_id, viewer=SYSTEM).phases) == 1
    narrowed = SearchSpace((LR, Param(UNITS.path, "int", 8, 16)))
    assert new_phase(store, study_id, narrowed, viewer=SYSTEM) == 2
    with pytest.raises(SpecError, match="phase 2's space already"):
        new_phase(store, study_id, narrowed, viewer=SYSTEM)
    assert current_space(store, study_id, viewer=SYSTEM) == (2, narrowed)


def test_changed_choices_are_refused_as_optuna_would_fail_every_later_trial(base) -> None:  # type: ignore[no-untyped-def]
    store, spec = base
    study_id = _study(store, spec, LR, OPTIMIZER)
    fewer: tuple[Choice, ...] = ("adam", "sgd")
    with pytest.raises(SpecError, match=r"optimizer.name: Optuna keeps one set of choices .* cannot change"):
        new_phase(
            store,
            study_id,
            SearchSpace((LR, Param(OPTIMIZER.path, "categorical", choices=fewer))),
            viewer=SYSTEM,
        )
    # Dropped, then brought back with other choices: still the same name in the same study.
    assert new_phase(store, study_id, SearchSpace((LR,)), viewer=SYSTEM) == 2
    with pytest.raises(SpecError, match="cannot change"):
        new_phase(
            store,
            study_id,
            SearchSpace((LR, Param(OPTIMIZER.path, "categorical", choices=fewer))),
            viewer=SYSTEM,
        )
    # What Optuna itself says about such a change, which is why it is refused.
    from optuna.distributions import CategoricalDistribution
    from optuna.distributions import check_distribution_compatibility

    with pytest.raises(ValueError, match="does not support dynamic value space"):
        check_distribution_compatibility(
            CategoricalDistribution(OPTIMIZER.choices), CategoricalDistribution(fewer)
        )


def test_a_range_whose_top_makes_an_invalid_training_spec_is_refused(base) -> None:  # type: ignore[no-untyped-def]
    store, spec = base
    study_id = _study(store, spec, LR)
    momentum = Param("optimizer.momentum", "float", 0.5, 1.0)  # 0.5 is fine; 1.0 is not
    with pytest.raises(SpecError, match=r"optimizer.momentum=1.0.*`0 <= momentum < 1` must hold"):
        new_phase(store, study_id, SearchSpace((LR, momentum)), viewer=SYSTEM)
    assert len(get_study(store, study_id, viewer=SYSTEM).phases) == 1


def test_a_grid_study_refuses_a_new_space(base) -> None:  # type: ignore[no-untyped-def]
    store, spec = base
    study_id = _study(store, spec, Param(UNITS.path, "int", 4, 8), sampler="grid")
    with pytest.raises(SpecError, match="grid sampler walks the grid fixed when the study started"):
        new_phase(store, study_id, SearchSpace((Param(UNITS.path, "int", 4, 6),)), viewer=SYSTEM)


def test_two_requests_at_once_each_make_their_own_phase(base) -> None:  # type: ignore[no-untyped-def]
    store, spec = base
    study_id = _study(store, spec, LR, UNITS)
    spaces = [
        SearchSpace((Param(LR.path, "float", 1e-3, 1e-2, log=True), UNITS)),
        SearchSpace((LR, Param(UNITS.path, "int", 5, 6))),
    ]
    with ThreadPoolExecutor(2) as pool:
        numbers = list(pool.map(lambda s: new_phase(store, study_id, s, viewer=SYSTEM), spaces))
    assert sorted(numbers) == [2, 3]
    phases = get_study(store, study_id, viewer=SYSTEM).phases
    assert [p["phase"] for p in phases] == [1, 2, 3]
    for number, space in zip(numbers, spaces, strict=True):
        assert SearchSpace.from_dict(thaw(phases[number - 1]["space"])) == space
