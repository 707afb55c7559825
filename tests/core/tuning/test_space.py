from __future__ import annotations

import json
import math
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution

from core.errors import SpecError
from core.models import cnn_template
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.pipeline import PipelineSpec
from core.specs import spec_hash
from core.training import TrainSpec
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import apply
from core.tuning import tunable

DS = "0" * 32

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _pipeline() -> dict[str, Any]:
    steps = [{"type": "split", "method": "random", "validation": 0.2, "seed": 0}]
    return PipelineSpec.chain(DS, "label", steps).to_dict()


def mlp_spec(optimizer: OptimizerSpec | None = None, **settings: Any) -> dict[str, Any]:
    return TrainSpec(
        pipeline=_pipeline(),
        model=mlp_template(hidden=(64, 32), dropout=0.1).to_dict(),
        optimizer=(optimizer or OptimizerSpec("adam", 1e-3)).to_dict(),
        **settings,
    ).to_dict()


def cnn_spec() -> dict[str, Any]:
    return TrainSpec(
        pipeline=_pipeline(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("nesterov", 0.05, momentum=0.8).to_dict(),
        epochs=6,
        batch_size=64,
    ).to_dict()


def _get(spec: dict[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


SPACE = SearchSpace(
    (
        Param("optimizer.learning_rate", "float", 1e-4, 1e-1, log=True),
        Param("optimizer.name", "categorical", choices=("adam", "sgd", "rmsprop")),
        Param("optimizer.clipnorm", "categorical", choices=(None, 1.0, 5.0)),
        Param("model.layers.0.units", "int", 8, 256, log=True),
        Param("model.layers.1.rate", "float", 0.0, 0.5, step=0.1),
        Param("epochs", "int", 2, 20, step=2),
        Param("batch_size", "int", 16, 64),
    )
)

# A space as the store keeps it; if its hash changes, stored studies no longer match their spaces.
SPACE_JSON = """
{"type": "search_space", "params": [
  {"type": "param", "path": "optimizer.learning_rate", "kind": "float",
   "low": 0.0001, "high": 0.1, "log": true, "step": null, "choices": []},
  {"type": "param", "path": "model.layers.0.activation", "kind": "categorical",
   "low": null, "high": null, "log": false, "step": null, "choices": ["relu", "gelu"]},
  {"type": "param", "path": "batch_size", "kind": "int",
   "low": 16, "high": 128, "log": true, "step": null, "choices": []}
]}
"""
SPACE_JSON_HASH = "815103cfd63ef6f7ba1b0c33f3ec06cefa315dd9428e4f5bd93f6a74bba846ef"


def test_round_trips_through_json() -> None:
    again = SearchSpace.from_dict(json.loads(json.dumps(SPACE.to_dict())))
    assert again == SPACE
    assert again.hash == SPACE.hash
    for param in SPACE.params:
        assert Param.from_dict(json.loads(json.dumps(param.to_dict()))) == param


def test_literal_json_fixture_and_its_hash() -> None:
    space = SearchSpace.from_dict(json.loads(SPACE_JSON))
    assert space == SearchSpace(
        (
            Param("optimizer.learning_rate", "float", 1e-4, 0.1, log=True),
            Param("model.layers.0.activation", "categorical", choices=("relu", "gelu")),
            Param("batch_size", "int", 16, 128, log=True),
        )
    )
    assert space.to_dict() == json.loads(SPACE_JSON)
    assert space.hash == SPACE_JSON_HASH == spec_hash(json.loads(SPACE_JSON))


def test_equal_spaces_hash_equal_whatever_the_number_types() -> None:
    ints = SearchSpace([Param("model.layers.1.rate", "float", 0, 1, step=1)])
    floats = SearchSpace((Param("model.layers.1.rate", "float", 0.0, 1.0, step=1.0),))
    assert ints == floats and ints.hash == floats.hash
    assert Param("optimizer.name", "categorical", choices=["adam"]).choices == ("adam",)
    assert SPACE.hash != SPACE.narrowed("batch_size", high=32).hash


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"path": "optimizer.learning_rate", "kind": "float", "low": 0.1, "high": 0.01},
            r"`low <= high` must hold, but got low=0.1, high=0.01 for optimizer.learning_rate.",
        ),
        (
            {"path": "epochs", "kind": "int", "low": 10, "high": 2},
            r"`low <= high` must hold, but got low=10, high=2 for epochs.",
        ),
        (
            {"path": "optimizer.learning_rate", "kind": "float", "low": 0, "high": 0.1, "log": True},
            r"log scale needs `low > 0`, but got low=0.0 for optimizer.learning_rate.",
        ),
        (
            {"path": "batch_size", "kind": "int", "low": 0, "high": 64, "log": True},
            r"log scale needs `low > 0`, but got low=0 for batch_size.",
        ),
        (
            {
                "path": "optimizer.learning_rate",
                "kind": "float",
                "low": 1e-3,
                "high": 1.0,
                "log": True,
                "step": 0.1,
            },
            r"Pass `step` or `log=True`, not both .*, but got step=0.1, log=True for optimizer.learning_rate",
        ),
        (
            {"path": "batch_size", "kind": "int", "low": 8, "high": 64, "log": True, "step": 2},
            r"Pass `step` or `log=True`, not both",
        ),
        (
            {"path": "epochs", "kind": "int", "low": 1.0, "high": 10},
            r"An int parameter needs integer bounds, but got low=1.0 for epochs.",
        ),
        (
            {"path": "epochs", "kind": "int", "low": 1, "high": True},
            r"An int parameter needs integer bounds, but got high=True for epochs.",
        ),
        (
            {"path": "epochs", "kind": "int", "low": 1, "high": 10, "step": 0.5},
            r"An int parameter needs an integer `step >= 1`, but got step=0.5 for epochs.",
        ),
        (
            {"path": "epochs", "kind": "int", "low": 1, "high": 10, "step": 2},
            r"`high - low` must be a multiple of `step`, but got low=1, high=10, step=2 for epochs.",
        ),
        (
            {"path": "model.layers.1.rate", "kind": "float", "low": 0.0, "high": 0.5, "step": 0.2},
            r"`high - low` must be a multiple of `step`, but got low=0.0, high=0.5, step=0.2",
        ),
        (
            {"path": "model.layers.1.rate", "kind": "float", "low": 0.0, "high": 0.5, "step": -0.1},
            r"`step > 0` must hold, but got step=-0.1 for model.layers.1.rate.",
        ),
        (
            {"path": "optimizer.momentum", "kind": "float", "low": None, "high": 0.9},
            r"A float parameter needs finite numbers for `low` and `high`, but got low=None",
        ),
        (
            {"path": "optimizer.momentum", "kind": "float", "low": 0.5, "high": math.inf},
            r"A float parameter needs finite numbers for `low` and `high`, but got high=inf",
        ),
        (
            {"path": "optimizer.momentum", "kind": "float", "low": 0.5, "high": 0.9, "choices": (0.5,)},
            r"A float parameter takes `low` and `high`, not `choices`, but got choices=\[0.5\]",
        ),
        (
            {"path": "optimizer.momentum", "kind": "float", "low": 0.5, "high": 0.9, "log": "yes"},
            r"`log` must be true or false, but got log='yes' for optimizer.momentum.",
        ),
        (
            {"path": "optimizer.name", "kind": "categorical"},
            r"A categorical parameter needs at least one choice, but got choices=\[\] for optimizer.name.",
        ),
        (
            {"path": "optimizer.name", "kind": "categorical", "choices": "adam"},
            r"`choices` must be a list, but got choices='adam' for optimizer.name.",
        ),
        (
            {"path": "optimizer.name", "kind": "categorical", "choices": ("adam", ["sgd"])},
            r"Choices must be None, bool, int, float or str, but got \['sgd'\] \(list\) for optimizer.name.",
        ),
        (
            {"path": "optimizer.clipnorm", "kind": "categorical", "choices": (1.0, math.nan)},
            r"Choices must be finite numbers, but got nan for optimizer.clipnorm.",
        ),
        (
            {"path": "optimizer.name", "kind": "categorical", "choices": ("adam", "sgd", "adam")},
            r"Choices must differ, but got 'adam' and 'adam' in choices=\['adam', 'sgd', 'adam'\]",
        ),
        (
            {"path": "optimizer.clipnorm", "kind": "categorical", "choices": (1, 1.0)},
            r"Choices must differ, but got 1 and 1.0",
        ),
        (
            {"path": "optimizer.name", "kind": "categorical", "choices": ("adam",), "low": 0},
            r"A categorical parameter takes `choices`, not low/high/step/log, but got low=0",
        ),
        (
            {"path": "epochs", "kind": "uniform", "low": 1, "high": 3},
            r"Unknown kind 'uniform' for epochs. Valid kinds are: float, int, categorical.",
        ),
        (
            {"path": "optimizer.learning rate", "kind": "float", "low": 0.1, "high": 1},
            r"`path` may only hold letters, digits, `_` and `.`, but got path='optimizer.learning rate'.",
        ),
        (
            {"path": "", "kind": "float", "low": 0.1, "high": 1},
            r"`path` may only hold letters, digits, `_` and `.`, but got path=''.",
        ),
        (
            {"path": "pipeline.nodes.0.seed", "kind": "int", "low": 0, "high": 9},
            r"`path` must name a training setting \(epochs, .*\), but got path='pipeline.nodes.0.seed'.",
        ),
        (
            {"path": "model.layers.01.units", "kind": "int", "low": 8, "high": 64},
            r"`path` must name a training setting",
        ),
        (
            {"path": "optimizer.beta_1", "kind": "float", "low": 0.8, "high": 0.99},
            r"'beta_1' is not an optimizer setting: valid settings are name, learning_rate, .*"
            r"but got path='optimizer.beta_1'.",
        ),
        (
            {"path": "model.layers.0.neurons", "kind": "int", "low": 8, "high": 64},
            r"'neurons' is not a layer setting: valid settings are activation, .*units, "
            r"but got path='model.layers.0.neurons'.",
        ),
    ],
)
def test_invalid_params_say_the_rule_and_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Param(**kwargs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "search_space", "params": []}, r"The search space is empty: tick at least one setting"),
        ({"type": "search_space"}, r"The search space is empty"),
        (
            {
                "type": "search_space",
                "params": [
                    {"type": "param", "path": "epochs", "kind": "int", "low": 1, "high": 5},
                    {"type": "param", "path": "epochs", "kind": "int", "low": 2, "high": 9},
                ],
            },
            r"Each setting can be tuned once, but got epochs twice.",
        ),
        ({"type": "study", "params": []}, r'A search space is a JSON object with "type": "search_space"'),
        ({"type": "search_space", "params": {"epochs": 1}}, r'"params" must be a list'),
        (
            {"type": "search_space", "params": [{"type": "param", "path": "epochs", "kind": "int", "lo": 1}]},
            r"Invalid search parameter: .*unexpected keyword argument 'lo'",
        ),
        (
            {"type": "search_space", "params": [{"type": "dense", "units": 3}]},
            r'A search parameter is a JSON object with "type": "param"',
        ),
    ],
)
def test_invalid_spaces(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        SearchSpace.from_dict(data)


def test_params_must_be_params() -> None:
    with pytest.raises(SpecError, match=r"`params` must be a list of Param"):
        SearchSpace(({"path": "epochs"},))  # type: ignore[arg-type]


def test_distributions_match_optuna() -> None:
    dists = SPACE.distributions()
    assert list(dists) == list(SPACE.paths)
    assert dists["optimizer.learning_rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["optimizer.clipnorm"] == CategoricalDistribution((None, 1.0, 5.0))
    assert dists["model.layers.0.units"] == IntDistribution(8, 256, log=True)
    assert dists["model.layers.1.rate"] == FloatDistribution(0.0, 0.5, step=0.1)
    assert dists["epochs"] == IntDistribution(2, 20, step=2)


def test_suggest_draws_every_param_within_its_space() -> None:
    drawn: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        drawn.append(SPACE.suggest(trial))
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    study.optimize(objective, n_trials=20)
    assert len(drawn) == 20
    for values, trial in zip(drawn, study.trials, strict=True):
        assert trial.params == values  # recorded under the paths
        assert trial.distributions == SPACE.distributions()
        assert 1e-4 <= values["optimizer.learning_rate"] <= 1e-1
        assert values["optimizer.name"] in ("adam", "sgd", "rmsprop")
        assert values["optimizer.clipnorm"] in (None, 1.0, 5.0)
        units = values["model.layers.0.units"]
        assert type(units) is int and 8 <= units <= 256
        rate = values["model.layers.1.rate"]
        assert 0.0 <= rate <= 0.5 and math.isclose(rate * 10, round(rate * 10), abs_tol=1e-9)
        epochs = values["epochs"]
        assert type(epochs) is int and 2 <= epochs <= 20 and epochs % 2 == 0
        assert type(values["batch_size"]) is int and 16 <= values["batch_size"] <= 64
        assert SPACE.check(values) == values
    # Log scale: a uniform draw over [1e-4, 1e-1] would almost never go below 1e-2; log-uniform
    # puts two thirds of the draws there.
    small = [v["optimizer.learning_rate"] < 1e-2 for v in drawn]
    assert sum(small) >= 8
    assert len({v["optimizer.name"] for v in drawn}) == 3


def test_suggested_values_apply_to_a_valid_train_spec() -> None:
    spec = mlp_spec()
    space = SearchSpace(tuple(tunable(spec)))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        result = apply(spec, space.suggest(trial))
        TrainSpec.from_dict(result)
        for path, value in trial.params.items():
            assert _get(result, path) == value
        study.tell(trial, 0.0)


def test_enqueued_values_are_checked_then_used() -> None:
    values = SPACE.check(
        {"optimizer.learning_rate": 0.01, "model.layers.0.units": 128.0, "optimizer.name": "sgd"}
    )
    assert values == {"optimizer.learning_rate": 0.01, "model.layers.0.units": 128, "optimizer.name": "sgd"}
    assert type(values["model.layers.0.units"]) is int
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(values)
    drawn = SPACE.suggest(study.ask())
    assert {k: drawn[k] for k in values} == values


def test_check_accepts_bounds_and_grid_points() -> None:
    assert SPACE.check({}) == {}
    assert SPACE.check({"optimizer.learning_rate": 1e-4, "epochs": 20, "model.layers.1.rate": 0.3}) == {
        "optimizer.learning_rate": 1e-4,
        "epochs": 20,
        "model.layers.1.rate": 0.3,
    }
    assert SPACE.check({"model.layers.1.rate": 0.1 + 0.2}) == {"model.layers.1.rate": 0.1 + 0.2}
    assert SPACE.check({"optimizer.clipnorm": None, "batch_size": 16}) == {
        "optimizer.clipnorm": None,
        "batch_size": 16,
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"optimizer.learning_rate": 0.5},
            r"`0.0001 <= optimizer.learning_rate <= 0.1` must hold, but got optimizer.learning_rate=0.5.",
        ),
        ({"model.layers.0.units": 4}, r"`8 <= model.layers.0.units <= 256` must hold, but got .*=4."),
        ({"model.layers.0.units": 64.5}, r"model.layers.0.units must be a whole number, but got .*=64.5."),
        ({"epochs": "ten"}, r"epochs must be a number, but got epochs='ten'."),
        ({"epochs": True}, r"epochs must be a number, but got epochs=True."),
        ({"epochs": 5}, r"epochs moves in steps of 2 from 2, but got epochs=5."),
        ({"model.layers.1.rate": 0.25}, r"model.layers.1.rate moves in steps of 0.1 from 0.0, but got"),
        (
            {"optimizer.name": "nadam"},
            r"optimizer.name must be one of \['adam', 'sgd', 'rmsprop'\], but got optimizer.name='nadam'.",
        ),
        ({"optimizer.clipnorm": 0}, r"optimizer.clipnorm must be one of \[None, 1.0, 5.0\]"),
        (
            {"optimizer.momentum": 0.9},
            r"optimizer.momentum is not in the search space; it tunes: optimizer.learning_rate, ",
        ),
    ],
)
def test_check_rejects_out_of_space_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        SPACE.check(values)


def test_apply_sets_nested_values_on_a_copy() -> None:
    spec = mlp_spec()
    before = json.dumps(spec, sort_keys=True)
    result = apply(
        spec,
        {
            "optimizer.learning_rate": 0.02,
            "optimizer.name": "nesterov",
            "optimizer.momentum": 0.95,
            "optimizer.clipnorm": 1.0,
            "model.layers.0.units": 128,
            "model.layers.0.activation": "gelu",
            "model.layers.1.rate": 0.3,
            "epochs": 9,
            "batch_size": 48,
            "early_stopping": 2,
        },
    )
    assert json.dumps(spec, sort_keys=True) == before  # the input is untouched
    train = TrainSpec.from_dict(result)
    assert train.epochs == 9 and train.batch_size == 48 and train.early_stopping == 2
    assert OptimizerSpec.from_dict(train.optimizer) == OptimizerSpec(
        "nesterov", 0.02, momentum=0.95, clipnorm=1.0
    )
    layers = train.model["layers"]
    assert layers[0] == {"type": "dense", "units": 128, "activation": "gelu"}
    assert layers[1] == {"type": "dropout", "rate": 0.3}
    assert layers[2:] == spec["model"]["layers"][2:]
    assert train.pipeline == spec["pipeline"]


def test_apply_fills_an_optimizer_the_spec_left_to_its_default() -> None:
    spec = mlp_spec()
    del spec["optimizer"]
    result = apply(spec, {"optimizer.learning_rate": 0.05})
    assert OptimizerSpec.from_dict(result["optimizer"]) == OptimizerSpec(learning_rate=0.05)


def test_apply_on_a_cnn() -> None:
    result = apply(cnn_spec(), {"model.layers.0.filters": 64, "model.layers.0.kernel_size": 5})
    assert result["model"]["layers"][0] == {
        "type": "conv2d",
        "filters": 64,
        "kernel_size": 5,
        "activation": "relu",
        "padding": "valid",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"model.layers.4.units": 32},
            r"There is no layer 4 for model.layers.4.units: the model has 4 layer\(s\) \(indexes 0 to 3\).",
        ),
        (
            {"model.layers.1.units": 32},
            r"model.layers.1 is a Dropout layer, which has no `units`; its settings are: rate. "
            r"Got path='model.layers.1.units'.",
        ),
        ({"model.layers.0.filters": 32}, r"model.layers.0 is a Dense layer, which has no `filters`"),
        ({"optimizer.beta_1": 0.9}, r"'beta_1' is not an optimizer setting"),
        ({"seed": 3}, r"`path` must name a training setting .* but got path='seed'."),
        ({"model.task": "binary"}, r"`path` must name a training setting"),
    ],
)
def test_apply_refuses_paths_the_spec_lacks(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        apply(mlp_spec(), values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"model.layers.1.rate": 1.5, "epochs": 3},
            r"These values make an invalid training spec \(model.layers.1.rate=1.5, epochs=3\): "
            r"Dropout: `0 <= rate < 1` must hold",
        ),
        ({"optimizer.name": "lbfgs"}, r"invalid training spec .*Unknown optimizer 'lbfgs'"),
        ({"batch_size": 0}, r"invalid training spec .*`batch_size >= 1` must hold, but got batch_size=0."),
        ({"epochs": 2.5}, r"invalid training spec .*`epochs >= 1` must hold, but got epochs=2.5."),
    ],
)
def test_apply_refuses_values_that_make_an_invalid_spec(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        apply(mlp_spec(), values)


def test_apply_reports_a_broken_base_spec_as_such() -> None:
    spec = mlp_spec()
    spec["epochs"] = 0
    with pytest.raises(SpecError, match=r"^`epochs >= 1` must hold, but got epochs=0.$"):
        apply(spec, {"batch_size": 16})


def test_narrowed_returns_a_new_validated_space() -> None:
    space = SPACE.narrowed("optimizer.learning_rate", low=1e-3, high=1e-2)
    assert space.param("optimizer.learning_rate") == Param(
        "optimizer.learning_rate", "float", 1e-3, 1e-2, log=True
    )
    assert SPACE.param("optimizer.learning_rate").low == 1e-4  # unchanged
    assert space.paths == SPACE.paths
    assert space.narrowed("batch_size", high=32).param("batch_size") == Param("batch_size", "int", 16, 32)
    assert space.narrowed("epochs", low=10).param("epochs") == Param("epochs", "int", 10, 20, step=2)
    picked = SPACE.narrowed("optimizer.name", choices=["sgd", "adam"])
    assert picked.param("optimizer.name").choices == ("sgd", "adam")
    assert SPACE.narrowed("optimizer.name") == SPACE


@pytest.mark.parametrize(
    ("path", "kwargs", "message"),
    [
        (
            "optimizer.learning_rate",
            {"low": 1e-5},
            r"Narrowing keeps within the current range: `0.0001 <= low <= high <= 0.1` must hold, "
            r"but got low=1e-05, high=0.1 for optimizer.learning_rate.",
        ),
        ("batch_size", {"high": 128}, r"`16 <= low <= high <= 64` must hold, but got low=16, high=128"),
        (
            "batch_size",
            {"low": 40, "high": 20},
            r"`low <= high` must hold, but got low=40, high=20 for batch_size.",
        ),
        ("epochs", {"low": 3}, r"`high - low` must be a multiple of `step`, but got low=3, high=20, step=2"),
        ("batch_size", {"choices": [16, 32]}, r"batch_size is a int range: narrow it with `low` and `high`"),
        ("optimizer.name", {"low": 1}, r"optimizer.name is categorical: narrow it with `choices`"),
        (
            "optimizer.name",
            {"choices": ["adam", "nadam"]},
            r"Narrowing keeps to the current choices \['adam', 'sgd', 'rmsprop'\], but got \['nadam'\]",
        ),
        ("optimizer.name", {"choices": []}, r"A categorical parameter needs at least one choice"),
        ("optimizer.momentum", {"low": 0.5}, r"optimizer.momentum is not in the search space"),
    ],
)
def test_narrowed_refuses(path: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        SPACE.narrowed(path, **kwargs)


def _assert_defaults_hold_the_current_values(spec: dict[str, Any], params: list[Param]) -> None:
    space = SearchSpace(tuple(params))  # valid, no duplicate paths
    current = {p.path: _get(spec, p.path) for p in params}
    assert space.check(current) == current
    assert apply(spec, current) == spec


def test_tunable_on_an_mlp() -> None:
    spec = mlp_spec(epochs=5, batch_size=32)
    params = tunable(spec)
    _assert_defaults_hold_the_current_values(spec, params)
    by_path = {p.path: p for p in params}
    assert list(by_path) == [
        "optimizer.learning_rate",
        "optimizer.name",
        "batch_size",
        "epochs",
        "model.layers.0.units",
        "model.layers.1.rate",
        "model.layers.2.units",
        "model.layers.3.rate",
    ]
    lr = by_path["optimizer.learning_rate"]
    assert (lr.kind, lr.log) == ("float", True)
    assert math.isclose(lr.low or 0, 1e-4) and math.isclose(lr.high or 0, 1e-2)
    assert by_path["optimizer.name"].choices == ("adam", "adamw", "rmsprop", "sgd")
    assert by_path["batch_size"] == Param("batch_size", "int", 8, 128, log=True)
    assert by_path["epochs"] == Param("epochs", "int", 2, 10)
    assert by_path["model.layers.0.units"] == Param("model.layers.0.units", "int", 16, 256, log=True)
    assert by_path["model.layers.2.units"] == Param("model.layers.2.units", "int", 8, 128, log=True)
    assert by_path["model.layers.1.rate"] == Param("model.layers.1.rate", "float", 0.0, 0.5)
    assert [p.label for p in params] == [
        "learning rate",
        "optimizer",
        "batch size",
        "epochs",
        "layer 1 (Dense) units",
        "layer 2 (Dropout) rate",
        "layer 3 (Dense) units",
        "layer 4 (Dropout) rate",
    ]


def test_tunable_on_a_cnn() -> None:
    spec = cnn_spec()
    params = tunable(spec)
    _assert_defaults_hold_the_current_values(spec, params)
    by_path = {p.path: p for p in params}
    assert by_path["optimizer.name"].choices == ("adam", "adamw", "rmsprop", "sgd", "nesterov")
    assert by_path["optimizer.momentum"] == Param("optimizer.momentum", "float", 0.5, 0.99)
    assert by_path["model.layers.0.filters"] == Param("model.layers.0.filters", "int", 8, 128, log=True)
    assert by_path["model.layers.1.filters"] == Param("model.layers.1.filters", "int", 16, 256, log=True)
    assert by_path["model.layers.5.units"] == Param("model.layers.5.units", "int", 32, 512, log=True)
    assert by_path["model.layers.3.rate"].label == "layer 4 (Dropout) rate"
    assert by_path["model.layers.0.filters"].label == "layer 1 (Conv2D) filters"
    assert not any(p.path.startswith(("model.layers.2.", "model.layers.4.")) for p in params)  # pool, flatten


def test_tunable_ranges_stretch_to_hold_unusual_values() -> None:
    spec = mlp_spec(OptimizerSpec("momentum", 0.5, momentum=0.2), epochs=1, batch_size=4)
    spec["model"]["layers"][1]["rate"] = 0.7
    spec["model"]["layers"][0]["units"] = 2
    params = tunable(spec)
    _assert_defaults_hold_the_current_values(spec, params)
    by_path = {p.path: p for p in params}
    assert by_path["optimizer.momentum"] == Param("optimizer.momentum", "float", 0.2, 0.99)
    assert by_path["batch_size"] == Param("batch_size", "int", 4, 16, log=True)
    assert by_path["epochs"] == Param("epochs", "int", 1, 2)
    assert by_path["model.layers.0.units"] == Param("model.layers.0.units", "int", 2, 8, log=True)
    assert by_path["model.layers.1.rate"] == Param("model.layers.1.rate", "float", 0.0, 0.7)


def test_tunable_offers_weight_decay_for_adamw() -> None:
    spec = mlp_spec(OptimizerSpec("adamw", 1e-3, weight_decay=1e-2))
    params = tunable(spec)
    _assert_defaults_hold_the_current_values(spec, params)
    wd = next(p for p in params if p.path == "optimizer.weight_decay")
    assert wd.log and math.isclose(wd.low or 0, 1e-3) and math.isclose(wd.high or 0, 1e-1)
    assert wd.label == "weight decay"
    assert not any(p.path == "optimizer.momentum" for p in params)


def test_tunable_refuses_an_invalid_spec() -> None:
    spec = mlp_spec()
    spec["optimizer"]["name"] = "lbfgs"
    with pytest.raises(SpecError, match=r"Unknown optimizer 'lbfgs'"):
        tunable(spec)


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("epochs", "epochs"),
        ("batch_size", "batch size"),
        ("early_stopping", "early-stopping patience"),
        ("optimizer.learning_rate", "learning rate"),
        ("optimizer.name", "optimizer"),
        ("optimizer.decay_steps", "decay steps"),
        ("model.layers.0.units", "layer 1 (Dense) units"),
        ("model.layers.2.pool_size", "layer 3 (MaxPool2D) pool size"),
        ("model.layers.0.activation", "layer 1 activation"),  # Dense, Conv2D and Activation have one
    ],
)
def test_labels(path: str, label: str) -> None:
    assert Param(path, "categorical", choices=(1,)).label == label
