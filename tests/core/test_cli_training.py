"""The CLI's short training config: every template the Train page offers, a ``layers`` list in
the layer table's form, and a validation dataset; clear errors listing the valid names."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli._main import _parser
from core.cli._training import model_from_config
from core.cli._training import spec_from_config
from core.config import AppConfig
from core.data import ingest_file
from core.errors import NotFoundError
from core.errors import SpecError
from core.models import TEMPLATES
from core.models import ModelSpec
from core.models import count_params
from core.models import layer_rows
from core.models import model_template
from core.store import SYSTEM
from core.store import open_store
from tests.mnist_like import write_npz

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_template_of_the_train_page_is_accepted(name: str) -> None:
    assert model_from_config({"template": name}, "multiclass", images=False) == model_template(name)


def test_the_article_network_by_name() -> None:
    model = model_from_config({"template": "cnn_article"}, "multiclass", images=True)
    assert count_params(model, (28, 28, 1), 10) == 693_962


def test_mlp_settings_and_images() -> None:
    model = model_from_config({"hidden": [16], "dropout": 0.0}, "binary", images=False)
    assert model == model_template("mlp", "binary", hidden=(16,), dropout=0.0)
    assert model_from_config({}, "multiclass", images=True).layers[0].type == "flatten"


def test_layers_in_the_layer_tables_form() -> None:
    article = model_template("cnn_article")
    rows = layer_rows(article)  # exactly the Train page's table rows, blanks included
    assert model_from_config({"layers": rows}, "multiclass", images=True) == article
    # Only the settings a layer has, and numbers as the table holds them (floats).
    short = [
        {"type": "conv2d", "filters": 32.0, "kernel_size": 3, "activation": "relu"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 128, "activation": "relu"},
    ]
    assert model_from_config({"layers": short}, "multiclass", images=True) == article
    model = model_from_config({"layers": [{"type": "dense", "units": 8}]}, "regression", images=False)
    assert model == ModelSpec.from_dict(
        {"type": "model", "task": "regression", "layers": [{"type": "dense", "units": 8}]}
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"template": "lenet"},
            r"Unknown model template 'lenet'\. Valid templates are: cnn_article, cnn, mlp \(or give "
            r'"layers"',
        ),
        ({"layers": [{"type": "lstm"}]}, r"Layer 1: unknown layer 'lstm'\. Valid layers are: dense, conv2d"),
        ({"layers": [{"units": 8}]}, r"Layer 1: choose a layer type \(dense, conv2d"),
        (
            {"layers": [{"type": "dense", "units": "many"}]},
            r"Layer 1 \(Dense\): units must be a whole number",
        ),
        ({"layers": [{"type": "dropout", "rate": 1.5}]}, r"`0 <= rate < 1` must hold, but got rate=1.5"),
        ({"layers": []}, r'"layers" is a list of the layer table\'s rows'),
        ({"layers": {"type": "dense"}}, r'"layers" is a list of the layer table\'s rows'),
        ({"layers": [{"type": "flatten"}], "template": "cnn"}, r'Give "template" or "layers", not both'),
        ({"hidden": "64,32"}, r'"hidden" is a list of whole numbers such as \[64, 32\]'),
        ({"hidden": [64, 0]}, r"`hidden widths` must be an integer >= 1"),
    ],
)
def test_bad_model_configs_are_explained(config: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        model_from_config(config, "multiclass", images=False)


def test_the_train_command_takes_a_validation_dataset() -> None:
    args = _parser().parse_args(["train", "--config", "run.json", "--validation-dataset", "abc"])
    assert args.validation_dataset == "abc"
    assert _parser().parse_args(["train", "--config", "run.json"]).validation_dataset is None


def test_spec_from_config_with_a_template_and_a_validation_dataset(config: AppConfig, tmp_path: Path) -> None:
    store = open_store(config)
    write_npz(tmp_path / "train.npz", 40, 0, seed=1)
    write_npz(tmp_path / "test.npz", 0, 10, seed=2)
    train = ingest_file(store, tmp_path / "train.npz", "npz", "train")
    test = ingest_file(store, tmp_path / "test.npz", "npz", "test")
    short = {"dataset_id": train.id, "target": "label", "template": "cnn_article", "epochs": 2}
    spec = spec_from_config(store, short, SYSTEM, validation_dataset=test.id)
    assert spec["validation_dataset"] == test.id
    assert ModelSpec.from_dict(spec["model"]) == model_template("cnn_article")
    assert spec["pipeline"]["dataset_id"] == train.id and spec["epochs"] == 2
    # In the config itself, either form; the flag wins.
    assert (
        spec_from_config(store, {**short, "validation_dataset": test.id}, SYSTEM)["validation_dataset"]
        == test.id
    )
    full = {k: v for k, v in spec.items() if k != "validation_dataset"}
    assert spec_from_config(store, full, SYSTEM, validation_dataset=test.id) == spec
    assert "validation_dataset" not in spec_from_config(store, short, SYSTEM)
    # MLP on images starts with a Flatten layer, as on the Train page.
    mlp = spec_from_config(store, {**short, "template": "mlp"}, SYSTEM)
    assert mlp["model"]["layers"][0] == {"type": "flatten"}
    with pytest.raises(NotFoundError):
        spec_from_config(store, short, SYSTEM, validation_dataset="f" * 32)
