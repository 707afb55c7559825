"""The classic CNN on MNIST-shaped images, end to end: an .npz with its own train/test column is
ingested, split by that column, scaled, and trained by a real train job on a real LocalCluster
with live metrics; the held-out results are on exactly the file's test rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.models import cnn_template
from core.optimizers import OptimizerSpec
from core.pipeline import PipelineSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from core.training import TrainSpec
from tests.conftest import wait_until_ended
from tests.mnist_like import write_npz

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


def test_the_classic_cnn_trains_on_mnist_shaped_images(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    npz = tmp_path / "mnist_like.npz"
    write_npz(npz, 1_500, 300, seed=2)
    ds = ingest_file(store, npz, "npz", "mnist-like")
    pipeline = PipelineSpec.chain(
        ds.id,
        "label",
        [{"type": "split", "method": "column", "label_column": "split"}, {"type": "scale_images"}],
    )
    spec = TrainSpec(
        pipeline=pipeline.to_dict(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("adam", 1e-3).to_dict(),
        epochs=2,
        batch_size=32,
        early_stopping=0,
    )
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 300)
    assert run.status == "succeeded", run.status_reason
    result = run.result_json
    assert result["rows"] == {"train": 1_500, "validation": 0, "test": 300}
    assert result["input_shape"] == [28, 28, 1]
    assert result["params"] == 1_199_882
    assert result["evaluation"]["test_accuracy"] > 0.3  # 10 balanced classes: chance is 0.1
    assert sum(map(sum, result["confusion"]["matrix"])) == 300
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    steps_per_epoch = -(-1_500 // 32)
    assert {1, steps_per_epoch, 2 * steps_per_epoch} <= set(metrics["batch/loss"].steps)  # live points
    assert metrics["epoch/loss"].steps == [1, 2]
    assert metrics["epoch/loss"].values[1] < metrics["epoch/loss"].values[0]
    assert "epoch/val_loss" not in metrics  # no validation rows: the file's split has none


def test_the_article_network_trains_on_every_row_and_validates_on_the_test_file(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # As the seed's MNIST: the training file's every row trains, the test file validates
    # (Keras's validation_data) and gives the held-out results. Fewer rows and epochs here.
    from core.models import model_template
    from core.training import default_pipeline

    store = open_store(config)
    write_npz(tmp_path / "train.npz", 1_200, 0, seed=3)
    write_npz(tmp_path / "test.npz", 0, 300, seed=4)
    train = ingest_file(store, tmp_path / "train.npz", "npz", "mnist-like train")
    test = ingest_file(store, tmp_path / "test.npz", "npz", "mnist-like test")
    spec = TrainSpec(
        pipeline=default_pipeline(train.id, "label", train.profile, "multiclass").to_dict(),
        model=model_template("cnn_article").to_dict(),
        optimizer=OptimizerSpec("adam", 1e-3).to_dict(),
        epochs=2,
        batch_size=32,
        validation_dataset=test.id,
    )
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=train.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 300)
    assert run.status == "succeeded", run.status_reason
    assert run.spec_json["validation_dataset"] == test.id
    result = run.result_json
    assert result["rows"] == {"train": 1_200, "validation": 300, "test": 0}
    assert result["params"] == 693_962
    assert result["evaluation"]["validation_accuracy"] > 0.3  # 10 balanced classes: chance is 0.1
    assert sum(map(sum, result["confusion"]["matrix"])) == 300
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    assert metrics["epoch/val_loss"].steps == [1, 2]  # validated on the test file every epoch
    assert metrics["batch/loss"].steps[-1] == 2 * -(-1_200 // 32)  # every training row, each epoch
