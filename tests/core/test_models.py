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


def test_the_article_network_layer_table_and_parameters() -> None:
    # The TensorFlow MNIST article's network on 28x28x1 with 10 classes, as Keras's summary reads.
    from core.models import TEMPLATES
    from core.models import article_cnn_template
    from core.models import layer_rows
    from core.models import model_template

    spec = model_template("cnn_article")
    assert spec == article_cnn_template()
    assert spec.shapes((28, 28, 1), 10) == [
        ("conv2d", (26, 26, 32), 320),
        ("maxpool2d", (13, 13, 32), 0),
        ("flatten", (5408,), 0),
        ("dense", (128,), 692_352),
        ("output", (10,), 1_290),
    ]
    assert count_params(spec, (28, 28, 1), 10) == 693_962
    assert [row["type"] for row in layer_rows(spec)] == ["conv2d", "maxpool2d", "flatten", "dense"]
    assert layer_rows(spec)[0] == {
        "type": "conv2d",
        "units": None,
        "filters": 32,
        "kernel_size": 3,
        "pool_size": None,
        "rate": None,
        "activation": "relu",
        "padding": "valid",
    }
    # Both CNNs are offered, named so a person tells them apart; "cnn" stays the keras.io one.
    assert list(TEMPLATES) == ["cnn_article", "cnn", "mlp"]
    assert TEMPLATES["cnn_article"].startswith("CNN (TensorFlow MNIST article): Conv2D 32 3×3 ReLU")
    assert TEMPLATES["cnn"].startswith("CNN (keras.io MNIST example)")
    assert model_template("cnn") == cnn_template()
    assert count_params(model_template("cnn"), (28, 28, 1), 10) == 1_199_882


def test_model_template_by_name() -> None:
    from core.models import Flatten
    from core.models import model_template

    assert model_template("mlp", "binary", hidden=(8,), dropout=0.0) == mlp_template("binary", (8,), 0.0)
    assert model_template("mlp", images=True).layers[0] == Flatten()
    assert model_template("cnn_article", "binary").task == "binary"
    with pytest.raises(
        SpecError, match=r"Unknown model template 'lenet'\. Valid templates are: cnn_article, cnn, mlp"
    ):
        model_template("lenet")
    with pytest.raises(SpecError, match=r"`hidden widths` must be an integer >= 1, but got hidden widths=0"):
        model_template("mlp", hidden=(64, 0))
    with pytest.raises(SpecError, match=r"`0 <= dropout < 1` must hold, but got dropout=1.5"):
        model_template("mlp", dropout=1.5)


def test_a_saved_classic_cnn_spec_still_reads() -> None:
    # A run stored before the templates were named keeps its layers: the spec, not a template ID.
    stored = {
        "type": "model",
        "task": "multiclass",
        "layers": [
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu", "padding": "valid"},
            {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu", "padding": "valid"},
            {"type": "maxpool2d", "pool_size": 2},
            {"type": "dropout", "rate": 0.25},
            {"type": "flatten"},
            {"type": "dense", "units": 128, "activation": "relu"},
            {"type": "dropout", "rate": 0.5},
        ],
    }
    assert ModelSpec.from_dict(stored) == cnn_template()
