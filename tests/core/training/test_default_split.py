"""The default pipeline splits by a dataset's own split column (train / validation / test, or the
split step's synonyms) when it has one, and never feeds that column to the model; any other
column keeps today's random split. Datasets are ingested for real, so the profile is the one the
Train page reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.pipeline import SPLIT_COLUMN
from core.pipeline import run_pandas
from core.store import open_store
from core.training import default_pipeline
from core.training import describe_split
from core.training import feature_columns
from core.training import own_split_column
from tests.mnist_like import write_npz


def _table(n: int, part: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x1": [float(i % 7) for i in range(n)],
            "colour": [["red", "green", "blue"][i % 3] for i in range(n)],
            "part": [part[i % len(part)] for i in range(n)],
            "species": [["a", "b"][i % 2] for i in range(n)],
        }
    )


def _ingest(config: AppConfig, tmp_path: Path, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    store = open_store(config)
    return store, ingest_file(store, path, "csv", "rows")


def _run(store, dataset, pipeline) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    table = pq.read_table(store.path_for("datasets", dataset.id, ".parquet")).to_pandas()
    return run_pandas(pipeline, table).frame


def test_a_split_column_of_part_names_splits_the_rows_and_never_reaches_the_model(
    config: AppConfig, tmp_path: Path
) -> None:
    # Synonyms and any case, as the split step reads them: Train / val / TEST.
    frame = _table(60, ["Train", "Train", "Train", "val", "TEST"])
    store, dataset = _ingest(config, tmp_path, frame)
    assert own_split_column(dataset.profile, "species") == "part"

    pipeline = default_pipeline(dataset.id, "species", dataset.profile, "multiclass")
    splits = [n.step.to_dict() for n in pipeline.nodes if n.step.to_dict()["type"] == "split"]
    assert [(s["method"], s.get("label_column")) for s in splits] == [("column", "part")]
    assert all("part" not in (n.step.to_dict().get("columns") or []) for n in pipeline.nodes)
    assert describe_split(pipeline).startswith("Split: by the dataset's own `part` column")

    out = _run(store, dataset, pipeline)
    features = feature_columns(out, "species")
    assert not [c for c in features if c.startswith("part")], features  # not a feature, not one-hot
    assert {"x1", "colour=red", "colour=green", "colour=blue"} <= set(features)
    expected = frame["part"].str.lower().map({"train": "train", "val": "validation", "test": "test"})
    assert list(out[SPLIT_COLUMN]) == list(expected)


def test_a_column_with_other_values_keeps_the_random_split(config: AppConfig, tmp_path: Path) -> None:
    # "holdout" names no part: the column is an ordinary categorical feature, as before.
    store, dataset = _ingest(config, tmp_path, _table(60, ["train", "test", "holdout"]))
    assert own_split_column(dataset.profile, "species") is None
    pipeline = default_pipeline(dataset.id, "species", dataset.profile, "multiclass")
    (split,) = [n.step.to_dict() for n in pipeline.nodes if n.step.to_dict()["type"] == "split"]
    assert split["method"] == "stratified" and split["validation"] == 0.2 and "label_column" not in split
    assert describe_split(pipeline) == "Split: stratified, 20% validation (seed 0)."
    out = _run(store, dataset, pipeline)
    assert {"part=train", "part=test", "part=holdout"} <= set(feature_columns(out, "species"))


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (["train", "train", "train"], "only training rows: nothing held out"),
        (["test", "validation"], "no training rows"),
        (["train", "test", None], "a missing value names no part"),
    ],
)
def test_columns_that_cannot_split_keep_the_random_split(
    config: AppConfig, tmp_path: Path, values: list[str | None], why: str
) -> None:
    _, dataset = _ingest(config, tmp_path, _table(60, values))  # type: ignore[arg-type]
    assert own_split_column(dataset.profile, "species") is None, why


def test_the_target_is_never_the_split_column(config: AppConfig, tmp_path: Path) -> None:
    _, dataset = _ingest(config, tmp_path, _table(60, ["train", "test"]))
    assert own_split_column(dataset.profile, "part") is None


def test_mnist_like_images_split_by_their_own_column(config: AppConfig, tmp_path: Path) -> None:
    path = tmp_path / "digits.npz"
    write_npz(path, n_train=40, n_test=10)
    store = open_store(config)
    dataset = ingest_file(store, path, "npz", "digits")
    pipeline = default_pipeline(dataset.id, "label", dataset.profile, "multiclass")
    assert [n.step.to_dict()["type"] for n in pipeline.nodes] == ["split", "scale_images"]
    assert pipeline.nodes[0].step.to_dict()["label_column"] == "split"
    out = _run(store, dataset, pipeline)
    assert feature_columns(out, "label") == ["image"]
    assert list(out[SPLIT_COLUMN]) == ["train"] * 40 + ["test"] * 10
