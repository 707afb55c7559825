"""Bundles and predictions: a real trained model packed, checked, and applied to new rows."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.data import save_upload
from core.errors import DataError
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from core.training import PredictSpec
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import export_bundle
from core.training import read_bundle
from core.training import save_bundle
from tests.conftest import wait_until_ended

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


@pytest.fixture(scope="module")
def trained(thread_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    """An iris classifier and a housing regressor, trained once for the module."""
    config = AppConfig.for_data_dir(tmp_path_factory.mktemp("bundle") / "data")
    store = open_store(config)
    runs = {}
    for name, target, task, epochs in (
        ("iris", "species", "multiclass", 40),
        ("housing", "price", "regression", 30),
    ):
        ds = ingest_file(store, ASSETS / f"{name}.csv", "csv", name)
        spec = TrainSpec(
            default_pipeline(ds.id, target, ds.profile_json, task).to_dict(),
            mlp_template(task, (32,), 0.0).to_dict(),
            OptimizerSpec("adam", 1e-2).to_dict(),
            epochs=epochs,
            batch_size=16,
        )
        run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
        run = wait_until_ended(store, run_id, 300)
        assert run.status == "succeeded", run.status_reason
        runs[name] = run_id
    return store, runs


def _predict(cluster, store, **spec):  # type: ignore[no-untyped-def]
    run_id = submit_run(cluster, store, "predict", PredictSpec(**spec).to_dict(), viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 120)
    return run, store.path_for("predictions", run_id, ".parquet")


def test_regression_metrics_are_in_the_targets_units(trained) -> None:  # type: ignore[no-untyped-def]
    store, runs = trained
    from core.store import get_run

    result = get_run(store, runs["housing"], viewer=SYSTEM).result_json
    prices = pd.read_csv(ASSETS / "housing.csv")["price"]
    scaling = result["target_scaling"]
    assert scaling["mean"] == pytest.approx(prices.mean(), rel=0.1)
    rmse = result["evaluation"]["validation_rmse"]
    # In dollars, and better than predicting the mean.
    assert 0.05 * prices.std() < rmse < prices.std()
    curve = get_metrics(store, runs["housing"], viewer=SYSTEM)["epoch/val_rmse"].values
    assert curve[-1] == pytest.approx(rmse, rel=0.05)


def test_bundle_round_trip_and_prediction_from_a_run(trained, thread_cluster) -> None:  # type: ignore[no-untyped-def]
    store, runs = trained
    data = export_bundle(store, runs["iris"], viewer=SYSTEM)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(
            ["loom.json", "model.keras", "pipeline.json", "pipeline_state.json", "metrics.csv"]
        )
        metrics = pd.read_csv(zf.open("metrics.csv"))
    assert set(metrics["key"]) >= {"batch/loss", "epoch/val_loss"}
    bundle, weights = read_bundle(data)
    assert bundle.classes == ["setosa", "versicolor", "virginica"]
    assert weights[:2] == b"PK"

    rows = pd.read_csv(ASSETS / "iris.csv").drop(columns=["species"]).iloc[::5].reset_index(drop=True)
    rows.loc[0, "sepal_length"] = np.nan  # filled with the training median, still predicted
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "new.csv", viewer=SYSTEM)
    run, path = _predict(thread_cluster, store, model_run=runs["iris"], rows_upload=upload, rows_format="csv")
    assert run.status == "succeeded", run.status_reason
    out = pd.read_parquet(path)
    assert len(out) == len(rows) and out["row"].tolist() == list(range(len(rows)))
    truth = pd.read_csv(ASSETS / "iris.csv")["species"].iloc[::5].to_numpy()
    assert (out["prediction"].to_numpy() == truth).mean() > 0.85
    probs = out[["p(setosa)", "p(versicolor)", "p(virginica)"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_uploaded_bundle_predicts_regression_in_dollars(trained, thread_cluster) -> None:  # type: ignore[no-untyped-def]
    store, runs = trained
    bundle_id = save_bundle(store, export_bundle(store, runs["housing"], viewer=SYSTEM), viewer=SYSTEM)
    ds_rows = pd.read_csv(ASSETS / "housing.csv").head(40)
    upload = save_upload(store, io.BytesIO(ds_rows.to_csv(index=False).encode()), "rows.csv", viewer=SYSTEM)
    run, path = _predict(thread_cluster, store, bundle=bundle_id, rows_upload=upload, rows_format="csv")
    assert run.status == "succeeded", run.status_reason
    out = pd.read_parquet(path)
    error = (out["prediction"] - ds_rows["price"]).abs().median()
    assert error < ds_rows["price"].std()


def test_missing_columns_fail_with_a_clear_message(trained, thread_cluster) -> None:  # type: ignore[no-untyped-def]
    store, runs = trained
    rows = pd.DataFrame({"sepal_length": [5.0], "colour": ["red"]})
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "bad.csv", viewer=SYSTEM)
    run, _ = _predict(thread_cluster, store, model_run=runs["iris"], rows_upload=upload, rows_format="csv")
    assert run.status == "failed"
    assert "lack column(s)" in run.status_reason and "petal_length" in run.status_reason


def _rezip(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    members = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buffer.getvalue()


def test_hostile_bundles_are_refused(trained) -> None:  # type: ignore[no-untyped-def]
    store, runs = trained
    good = export_bundle(store, runs["iris"], viewer=SYSTEM)
    with pytest.raises(DataError, match="not a zip"):
        read_bundle(b"garbage")
    with pytest.raises(DataError, match="unexpected files"):
        read_bundle(_rezip(good, lambda m: m.update({"../evil.py": b"x"})))

    def bad_layer(m):  # type: ignore[no-untyped-def]
        manifest = json.loads(m["loom.json"])
        manifest["model"]["layers"][0] = {"type": "lambda", "function": "__import__('os').system('x')"}
        m["loom.json"] = json.dumps(manifest).encode()

    with pytest.raises(DataError, match="cannot build"):
        read_bundle(_rezip(good, bad_layer))
    with pytest.raises(DataError, match="not a Loom model bundle"):
        read_bundle(_rezip(good, lambda m: m.update({"loom.json": b'{"format": "other"}'})))


def test_a_lambda_layer_in_the_keras_file_never_runs(trained, thread_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A .keras file whose config holds a Lambda that writes a canary: only weights are read."""
    store, runs = trained
    canary = tmp_path / "canary"
    script = f"""
import keras
write = lambda x: (open({str(canary)!r}, "w").write("ran"), x)[1]
m = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(write)])
m.save({str(tmp_path / "evil.keras")!r})
"""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    canary.unlink(missing_ok=True)  # building the model ran the lambda once, in that process
    evil = (tmp_path / "evil.keras").read_bytes()
    bundle_id = save_bundle(
        store,
        _rezip(export_bundle(store, runs["iris"], viewer=SYSTEM), lambda m: m.update({"model.keras": evil})),
        viewer=SYSTEM,
    )
    rows = pd.read_csv(ASSETS / "iris.csv").head(3)
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "rows.csv", viewer=SYSTEM)
    run, _ = _predict(thread_cluster, store, bundle=bundle_id, rows_upload=upload, rows_format="csv")
    assert run.status == "failed"
    assert "weights do not fit" in run.status_reason
    assert not canary.exists()


def test_predict_spec_validation() -> None:
    with pytest.raises(SpecError, match="exactly one of `model_run` and `bundle`"):
        PredictSpec(rows_dataset="a" * 32)
    with pytest.raises(SpecError, match="exactly one of `rows_upload` and `rows_dataset`"):
        PredictSpec(model_run="a" * 32)
