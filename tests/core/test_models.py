from __future__ import annotations

import json

import pytest

from core.errors import SpecError
from core.models import ModelSpec
from core.models import cnn_template
from core.models import count_params
from core.models import mlp_template
from core.optimizers import OPTIMIZERS
from core.optimizers import OptimizerSpec


def test_round_trips() -> None:
    for spec in (mlp_template(), cnn_template("binary")):
        again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
        assert again == spec and again.hash == spec.hash
    opt = OptimizerSpec("nesterov", 0.05, schedule="warmup_cosine", clipnorm=1.0)
    assert OptimizerSpec.from_dict(json.loads(json.dumps(opt.to_dict()))) == opt


def test_param_count_of_the_classic_cnn() -> None:
    # Keras reports 1,199,882 for the classic MNIST CNN (keras examples' mnist_cnn.py) on
    # 28x28x1 with 10 classes.
    assert count_params(cnn_template(), (28, 28, 1), 10) == 1_199_882


def test_cnn_on_tabular_data_is_explained() -> None:
    with pytest.raises(
        SpecError, match=r"Layer 1 \(conv2d\): Conv2D needs image input.*use the MLP template"
    ):
        count_params(cnn_template(), (12,), 3)


def test_dense_on_images_needs_flatten() -> None:
    with pytest.raises(SpecError, match="add a Flatten layer before it"):
        count_params(mlp_template(), (8, 8, 1), 10)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "model", "layers": [{"type": "lstm"}]}, "Unknown layer 'lstm'. Valid layers are: dense"),
        ({"type": "model", "layers": [{"type": "dropout", "rate": 1.5}]}, "`0 <= rate < 1` must hold"),
        ({"type": "model", "task": "ranking"}, "task must be one of"),
    ],
)
def test_bad_models(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModelSpec.from_dict(data)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_builds_in_keras(name: str) -> None:
    pytest.importorskip("keras")
    from core.optimizers import build_keras_optimizer

    for schedule in ("constant", "step", "exponential", "cosine", "warmup_cosine"):
        opt = build_keras_optimizer(OptimizerSpec(name, 0.01, schedule=schedule, clipnorm=2.0))
        assert opt.clipnorm == 2.0


@pytest.mark.parametrize("lr", [0, -1, float("nan")])
def test_learning_rate_must_be_positive(lr: float) -> None:
    with pytest.raises(SpecError, match="`learning_rate > 0` must hold"):
        OptimizerSpec("adam", lr)


def test_layer_editor_rows_round_trip_and_explain_bad_rows() -> None:
    import math

    from core.models import layer_rows
    from core.models import layers_from_rows

    spec = cnn_template("multiclass")
    rows = layer_rows(spec)
    # Tables hold floats and NaN for blanks: the rows still give the same model.
    floaty = [
        {k: (float(v) if isinstance(v, int) else (math.nan if v is None else v)) for k, v in r.items()}
        for r in rows
    ]
    assert (
        ModelSpec.from_dict({"type": "model", "task": "multiclass", "layers": layers_from_rows(floaty)})
        == spec
    )
    with pytest.raises(SpecError, match="Layer 2: choose a layer type"):
        layers_from_rows([{"type": "dense", "units": 8}, {"type": None}])
    with pytest.raises(SpecError, match=r"Layer 1 \(Dense\): units must be a whole number"):
        layers_from_rows([{"type": "dense", "units": 2.5}])
    with pytest.raises(SpecError, match="Layer 1: Dropout: `0 <= rate < 1`"):
        layers_from_rows([{"type": "dropout", "rate": 1.5}])
    with pytest.raises(SpecError, match="Layer 1: unknown layer 'lambda'"):
        layers_from_rows([{"type": "lambda"}])
    # Settings a layer does not have are ignored (blank in the table for that row).
    assert layers_from_rows([{"type": "flatten", "units": 64.0}]) == [{"type": "flatten"}]
