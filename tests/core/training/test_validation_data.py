"""Train on every row, validate on another dataset (Keras's ``validation_data``): the spec field
round-trips and keeps old hashes, the split is skipped, the other dataset goes through the
pipeline fitted on the training rows, and a dataset whose columns, classes or model input differ
is refused before launch, naming what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.errors import DataError
from core.errors import SpecError
from core.models import mlp_template
from core.models import model_template
from core.pipeline import PipelineSpec
from core.pipeline import run_pandas
from core.specs import spec_hash
from core.store import open_store
from core.training import TrainSpec
from core.training import check_validation_data
from core.training import default_pipeline
from core.training import validation_differences
from core.training._data import prepare_data
from tests.mnist_like import write_npz

ASSETS = Path(__file__).resolve().parents[3] / "assets"
PIPELINE = PipelineSpec.chain("d1", "y", [{"type": "split", "validation": 0.2}]).to_dict()

# A spec as stored by a run that validated on another dataset (literal JSON, as Keras's
# serialization tests keep them): it must keep reading the same.
STORED = {
    "type": "train",
    "pipeline": PIPELINE,
    "model": mlp_template("multiclass", (8,), 0.0).to_dict(),
    "optimizer": {"type": "optimizer", "name": "adam", "learning_rate": 0.001},
    "epochs": 3,
    "batch_size": 16,
    "seed": 0,
    "early_stopping": 0,
    "pipeline_id": None,
    "resume_from": None,
    "trial": None,
    "multi_worker": False,
    "workers": 1,
    "gpu": False,
    "backend": "tensorflow",
    "validation_dataset": "d2",
}


def test_the_validation_dataset_round_trips_and_is_hashed() -> None:
    spec = TrainSpec.from_dict(json.loads(json.dumps(STORED)))
    assert spec.validation_dataset == "d2"
    again = TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.to_dict()["validation_dataset"] == "d2"
    without = TrainSpec.from_dict({k: v for k, v in STORED.items() if k != "validation_dataset"})
    assert spec_hash(spec.to_dict()) != spec_hash(without.to_dict())


def test_a_spec_without_one_keeps_its_dict_and_hash() -> None:
    # Stored before the field existed: no key written, so its hash (baselines reuse by hash) holds.
    old = {k: v for k, v in STORED.items() if k != "validation_dataset"}
    spec = TrainSpec.from_dict(old)
    assert spec.validation_dataset is None
    assert spec.to_dict() == old and spec_hash(spec.to_dict()) == spec_hash(old)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", r"`validation_dataset` must be a dataset ID or None, but got validation_dataset=''"),
        (7, r"`validation_dataset` must be a dataset ID or None, but got validation_dataset=7"),
        ("d1", r"`validation_dataset != the training dataset` must hold, but got validation_dataset='d1'"),
    ],
)
def test_a_bad_validation_dataset_is_refused(value: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TrainSpec.from_dict({**STORED, "validation_dataset": value})


def test_differences_name_missing_and_extra_columns_and_unseen_classes() -> None:
    pipeline = PipelineSpec.from_dict(PIPELINE)
    assert validation_differences(pipeline, "multiclass", ["a", "y"], ["a", "y"], [0, 1], [1, 0]) == []
    found = validation_differences(pipeline, "multiclass", ["a", "b", "y"], ["a", "y", "c"], [0, 1], [1, 2])
    assert found == [
        "it lacks column(s) ['b'] of the training data",
        "it has column(s) ['c'] the training data has not",
        "its target 'y' has class(es) [2] that the training data has not (it has [0, 1])",
    ]
    # Regression has no classes; missing values are no class.
    assert validation_differences(pipeline, "regression", ["a", "y"], ["a", "y"], [0.5], [9.5]) == []
    assert validation_differences(pipeline, "binary", ["y"], ["y"], [0, 1], [1, float("nan"), None]) == []


def test_a_column_splits_own_column_may_differ() -> None:
    # The file's own train/test column is read only by the split, which is skipped.
    pipeline = PipelineSpec.chain("d1", "y", [{"type": "split", "method": "column", "label_column": "part"}])
    assert validation_differences(pipeline, "multiclass", ["x", "part", "y"], ["x", "y"], [0], [0]) == []


def test_every_row_trains_when_the_split_is_skipped() -> None:
    frame = pd.DataFrame({"x": range(10), "part": ["train"] * 6 + ["test"] * 4, "y": [0, 1] * 5})
    pipeline = PipelineSpec.chain(
        "d1",
        "y",
        [
            {"type": "split", "method": "column", "label_column": "part"},
            {"type": "standardize", "columns": ["x"]},
        ],
    )
    split = run_pandas(pipeline, frame)
    assert (split.frame["__split__"] == "train").sum() == 6
    every = run_pandas(pipeline, frame, every_row_trains=True)
    assert list(every.frame["__split__"]) == ["train"] * 10 and "part" not in every.frame
    mean, _ = every.states["s2"]["mean_std"]["x"]
    assert mean == pytest.approx(4.5)  # fitted on all ten rows, not the six


def _iris(store, tmp_path: Path, name: str, change=lambda f: f):  # type: ignore[no-untyped-def]
    frame = change(pd.read_csv(ASSETS / "iris.csv"))
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return ingest_file(store, path, "csv", name)


def test_prepare_data_trains_on_every_row_and_validates_on_the_other(
    config: AppConfig, tmp_path: Path
) -> None:
    store = open_store(config)
    train = _iris(store, tmp_path, "iris-train", lambda f: f.iloc[::2])
    other = _iris(store, tmp_path, "iris-test", lambda f: f.iloc[1::2])
    pipeline = default_pipeline(train.id, "species", train.profile, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), batch_size=8, validation_dataset=other.id)
    assert check_validation_data(config, pipeline.to_dict(), other.id, "multiclass") == {
        "rows": 75,
        "train_rows": 75,
        "shape": [4],
    }
    prep = prepare_data(store, spec)
    assert (len(prep.train), len(prep.val), len(prep.test)) == (75, 75, 0)
    assert prep.x_train.shape == (75, 4) and prep.x_val.shape == (75, 4)
    assert prep.classes == ["setosa", "versicolor", "virginica"]
    # The other rows go through the scaling learned on the training rows (every one of them).
    standardize = next(s for s in prep.fitted.states.values() if "mean_std" in s)
    mean, std = standardize["mean_std"]["sepal_length_cm"]
    expected = (pd.read_csv(ASSETS / "iris.csv").iloc[1]["sepal_length_cm"] - mean) / std
    assert prep.x_val[0, 0] == pytest.approx(expected, rel=1e-5)
    # Columns in another order still meet the model in the training order.
    shuffled = _iris(store, tmp_path, "iris-shuffled", lambda f: f.iloc[1::2, ::-1])
    again = prepare_data(
        store,
        TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), batch_size=8, validation_dataset=shuffled.id),
    )
    assert (again.x_val == prep.x_val).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["petal_width_cm"]),
            r"Validation dataset 'other' differs from the training data: it lacks column\(s\) "
            r"\['petal_width_cm'\] of the training data\. Choose a dataset",
        ),
        (
            lambda f: f.assign(colour="blue"),
            r"it has column\(s\) \['colour'\] the training data has not",
        ),
        (
            lambda f: f.assign(species=f["species"].replace({"setosa": "iris-x"})),
            r"its target 'species' has class\(es\) \['iris-x'\] that the training data has not "
            r"\(it has \['setosa', 'versicolor', 'virginica'\]\)",
        ),
        (
            lambda f: f.assign(sepal_length_cm="long"),
            r"differs from the training data: the pipeline cannot turn its rows into model input",
        ),
    ],
    ids=["missing column", "extra column", "unseen class", "text for numbers"],
)
def test_a_dataset_that_differs_is_refused_naming_what(
    config: AppConfig, tmp_path: Path, change, message: str
) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    train = _iris(store, tmp_path, "iris")
    other = _iris(store, tmp_path, "other", change)
    pipeline = default_pipeline(train.id, "species", train.profile, "multiclass")
    with pytest.raises(DataError, match=message):
        check_validation_data(config, pipeline.to_dict(), other.id, "multiclass")
    if "cannot turn" in message:
        return  # the job's own check compares columns and classes; the pipeline fails on its own
    spec = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), validation_dataset=other.id)
    with pytest.raises(DataError, match=message):  # the job checks again: a hand-written spec
        prepare_data(store, spec)


def test_images_of_another_size_are_refused(config: AppConfig, tmp_path: Path) -> None:
    import numpy as np

    store = open_store(config)
    write_npz(tmp_path / "train.npz", 60, 0, seed=1)
    small = tmp_path / "small.npz"
    np.savez(small, x=np.zeros((20, 14, 14), np.uint8), y=np.arange(20) % 10, split=np.array(["test"] * 20))
    train = ingest_file(store, tmp_path / "train.npz", "npz", "train")
    other = ingest_file(store, small, "npz", "small")
    pipeline = default_pipeline(train.id, "label", train.profile, "multiclass")
    with pytest.raises(
        DataError, match=r"its rows give model input of shape \(14, 14, 1\), the training rows \(28, 28, 1\)"
    ):
        check_validation_data(config, pipeline.to_dict(), other.id, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), model_template("cnn_article").to_dict(), validation_dataset="0" * 32)
    with pytest.raises(DataError, match=f"Validation dataset {'0' * 32} no longer exists"):
        prepare_data(store, spec)


def test_baselines_validate_on_the_runs_other_dataset() -> None:
    # Beside a run validated on another dataset, baselines are scored on the same rows.
    from core.training import baseline_specs

    specs = baseline_specs(PIPELINE, "multiclass", validation_dataset="d2")
    assert [s.validation_dataset for s in specs] == ["d2"] * 3
    assert all("validation_dataset" not in s.to_dict() for s in baseline_specs(PIPELINE, "multiclass"))
