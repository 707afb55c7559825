"""scikit-learn runs: estimator specs, each classic model trained on a real LocalCluster with
live points and used in Predict, skops bundles (round trip, refusal of files Loom did not write),
stop between chunks, and evaluation on a dataset."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.compute import stop_run
from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.data import save_upload
from core.errors import DataError
from core.errors import SpecError
from core.models import ESTIMATORS
from core.models import EstimatorSpec
from core.models import mlp_template
from core.models import model_from_dict
from core.models import model_label
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import EvaluateSpec
from core.training import PredictSpec
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import export_bundle
from core.training import read_bundle
from core.training import save_bundle
from tests.conftest import wait_until_ended
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[3] / "assets"

# A literal stored spec: what a run's "model" holds for a random forest.
FOREST_JSON = {
    "type": "estimator",
    "kind": "random_forest",
    "task": "multiclass",
    "params": {"n_estimators": 20, "max_depth": None, "min_samples_leaf": 1, "max_features": "sqrt"},
}


# --- specs (no cluster) -------------------------------------------------------------------------


def test_specs_round_trip_and_fill_defaults() -> None:
    assert EstimatorSpec.from_dict(FOREST_JSON).to_dict() == FOREST_JSON
    for kind in ESTIMATORS:
        for task in ("binary", "multiclass", "regression"):
            spec = EstimatorSpec(kind, task)
            assert EstimatorSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
            assert model_from_dict(spec.to_dict()) == spec
    assert EstimatorSpec("knn", "binary").params == {"n_neighbors": 5, "weights": "uniform"}
    assert EstimatorSpec("random_forest", params={"n_estimators": 25}).chunks == [
        3,
        6,
        9,
        12,
        15,
        18,
        21,
        24,
        25,
    ]
    assert EstimatorSpec("svm").chunks == [0]  # one fit, one point
    assert EstimatorSpec("hist_gradient_boosting", params={"max_iter": 7.0}).params["max_iter"] == 7


def test_model_labels_name_the_kind() -> None:
    assert model_label(FOREST_JSON) == "random forest"
    assert model_label(EstimatorSpec("linear", "regression").to_dict()) == "ridge regression"
    assert model_label(EstimatorSpec("linear", "binary").to_dict()) == "logistic regression"
    assert model_label(EstimatorSpec("dummy", "multiclass").to_dict()) == "dummy (majority)"
    assert model_label(mlp_template().to_dict()) == "MLP"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**FOREST_JSON, "kind": "xgboost"}, "Valid estimators are: dummy, linear, random_forest"),
        ({**FOREST_JSON, "params": {"n_trees": 3}}, "unknown setting(s) ['n_trees']"),
        ({**FOREST_JSON, "params": {"n_estimators": 0}}, "`1 <= n_estimators <= 5000` must hold"),
        ({**FOREST_JSON, "params": {"n_estimators": 2.5}}, "must be a whole number"),
        ({**FOREST_JSON, "params": {"max_features": "all"}}, "must be one of ['sqrt', 'log2', 1.0]"),
        ({**FOREST_JSON, "task": "ranking"}, "task must be one of"),
        ({**FOREST_JSON, "extra": 1}, "unknown key(s) ['extra']"),
        ({"type": "estimator", "kind": "svm", "params": {"C": "big"}}, "`C` must be a number"),
    ],
)
def test_bad_estimator_specs_say_what_to_change(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=_literal(message)):
        EstimatorSpec.from_dict(data)


def _literal(text: str) -> str:
    import re

    return re.escape(text)


def test_train_spec_takes_an_estimator_but_not_multi_worker() -> None:
    pipeline = default_pipeline("d1", "species", {"columns": []}, "multiclass").to_dict()
    spec = TrainSpec(pipeline, FOREST_JSON)
    assert TrainSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="scikit-learn models train on one worker"):
        TrainSpec(pipeline, FOREST_JSON, multi_worker=True, workers=2, batch_size=32)


# --- on a real cluster ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(thread_cluster, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Every estimator kind trained on iris (multiclass) and housing (regression), once."""
    store = open_store(AppConfig.for_data_dir(tmp_path_factory.mktemp("estimators") / "data"))
    datasets, runs = {}, {}
    for name, target, task in (("iris", "species", "multiclass"), ("housing", "price", "regression")):
        ds = ingest_file(store, ASSETS / f"{name}.csv", "csv", name)
        datasets[name] = ds.id
        pipeline = default_pipeline(ds.id, target, ds.profile_json, task).to_dict()
        for kind in ESTIMATORS:
            params = {"n_estimators": 30} if kind == "random_forest" else {}
            params |= {"max_iter": 20} if kind == "hist_gradient_boosting" else {}
            spec = TrainSpec(pipeline, EstimatorSpec(kind, task, params).to_dict())
            runs[name, kind] = submit_run(
                thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM
            )
    for key, run_id in runs.items():
        run = wait_until_ended(store, run_id, 300)
        assert run.status == "succeeded", (key, run.status_reason)
    return store, datasets, runs


def _predict(cluster, store, **spec):  # type: ignore[no-untyped-def]
    run_id = submit_run(cluster, store, "predict", PredictSpec(**spec).to_dict(), viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 120)
    return run, store.path_for("predictions", run_id, ".parquet")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_each_classifier_trains_with_live_points_and_predicts(trained, thread_cluster, kind: str) -> None:  # type: ignore[no-untyped-def]
    store, datasets, runs = trained
    run_id = runs["iris", kind]
    run = get_run(store, run_id, viewer=SYSTEM)
    result = run.result_json
    assert (store.data_dir / "models" / f"{run_id}.skops").exists()
    assert not (store.data_dir / "models" / f"{run_id}.keras").exists()
    assert result["environment"]["backend"] == "scikit-learn"
    metrics = get_metrics(store, run_id, viewer=SYSTEM)
    chunks = EstimatorSpec.from_dict(dict(run.spec["model"])).chunks
    # The same metric names a Keras run writes, one point per chunk (trees / iterations).
    for key in ("epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy"):
        assert metrics[key].steps == list(range(1, len(chunks) + 1)), key
    if kind == "random_forest":
        assert metrics["epoch/n_estimators"].values == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    floor = 0.2 if kind == "dummy" else 0.85
    assert result["evaluation"]["validation_accuracy"] > floor
    confusion = result["confusion"]
    assert confusion["classes"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, confusion["matrix"])) == result["rows"]["validation"]
    assert [c["class"] for c in result["per_class"]] == confusion["classes"]

    rows = pd.read_csv(ASSETS / "iris.csv").drop(columns=["species"]).iloc[::5].reset_index(drop=True)
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "new.csv", viewer=SYSTEM)
    predicted, path = _predict(thread_cluster, store, model_run=run_id, rows_upload=upload, rows_format="csv")
    assert predicted.status == "succeeded", predicted.status_reason
    out = pd.read_parquet(path)
    assert len(out) == len(rows)
    probs = out[["p(setosa)", "p(versicolor)", "p(virginica)"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    truth = pd.read_csv(ASSETS / "iris.csv")["species"].iloc[::5].to_numpy()
    assert (out["prediction"].to_numpy() == truth).mean() > floor


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_each_regressor_reports_in_the_targets_units_and_predicts(trained, thread_cluster, kind: str) -> None:  # type: ignore[no-untyped-def]
    store, datasets, runs = trained
    run_id = runs["housing", kind]
    result = get_run(store, run_id, viewer=SYSTEM).result_json
    prices = pd.read_csv(ASSETS / "housing.csv")["price"]
    rmse = result["evaluation"]["validation_rmse"]
    if kind == "dummy":  # the mean: an RMSE about the target's spread
        assert 0.8 * prices.std() < rmse < 1.2 * prices.std()
    else:  # in dollars, and better than the mean
        assert 0.01 * prices.std() < rmse < 0.9 * prices.std()
    curve = get_metrics(store, run_id, viewer=SYSTEM)["epoch/val_rmse"].values
    assert curve[-1] == pytest.approx(rmse, rel=1e-6)
    rows = pd.read_csv(ASSETS / "housing.csv").head(40)
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "rows.csv", viewer=SYSTEM)
    predicted, path = _predict(thread_cluster, store, model_run=run_id, rows_upload=upload, rows_format="csv")
    assert predicted.status == "succeeded", predicted.status_reason
    out = pd.read_parquet(path)
    assert (out["prediction"] - rows["price"]).abs().median() < 1.5 * rows["price"].std()


@pytest.mark.slow
def test_skops_bundle_round_trip_predicts_from_an_upload(trained, thread_cluster) -> None:  # type: ignore[no-untyped-def]
    store, datasets, runs = trained
    data = export_bundle(store, runs["iris", "hist_gradient_boosting"], viewer=SYSTEM)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(
            ["loom.json", "model.skops", "pipeline.json", "pipeline_state.json", "metrics.csv"]
        )
    bundle, model_bytes = read_bundle(data)
    assert isinstance(bundle.model, EstimatorSpec) and bundle.model.kind == "hist_gradient_boosting"
    assert model_bytes[:2] == b"PK"  # a skops file is a zip of JSON and arrays
    bundle_id = save_bundle(store, data, viewer=SYSTEM)
    rows = pd.read_csv(ASSETS / "iris.csv").drop(columns=["species"]).head(30)
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "r.csv", viewer=SYSTEM)
    run, path = _predict(thread_cluster, store, bundle=bundle_id, rows_upload=upload, rows_format="csv")
    assert run.status == "succeeded", run.status_reason
    assert (pd.read_parquet(path)["prediction"] == "setosa").mean() > 0.9


def _with_member(data: bytes, name: str, content: bytes, drop: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in (name, drop):
                dst.writestr(info, src.read(info.filename))
        dst.writestr(name, content)
    return out.getvalue()


def _foreign_skops() -> bytes:
    """A .skops Loom never writes: a scikit-learn pipeline whose step calls an arbitrary
    function (skops records it by name; loading would import and call it)."""
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return sio.dumps(make_pipeline(FunctionTransformer(func=Path.unlink)))


@pytest.mark.slow
def test_a_foreign_or_tampered_skops_is_refused(trained, thread_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    from core.training import load_model

    store, datasets, runs = trained
    data = export_bundle(store, runs["iris", "random_forest"], viewer=SYSTEM)
    bundle, _ = read_bundle(data)
    canary = tmp_path / "model.skops"

    # A file with types outside Loom's allowlist: refused before anything is loaded.
    canary.write_bytes(_foreign_skops())
    with pytest.raises(DataError, match="holds type\\(s\\) Loom never writes"):
        load_model(bundle, canary)
    # A scikit-learn model of another class than the manifest says.
    x = np.random.default_rng(0).random((20, 4))
    canary.write_bytes(sio.dumps(DecisionTreeClassifier().fit(x, np.arange(20) % 3)))
    with pytest.raises(DataError, match="holds a sklearn.tree.*DecisionTreeClassifier.*random forest"):
        load_model(bundle, canary)
    # Not a skops file at all.
    canary.write_bytes(b"\x80\x04K\x01.")  # a pickle
    with pytest.raises(DataError, match="not a skops file Loom wrote"):
        load_model(bundle, canary)

    # The same refusals reach an uploaded bundle's prediction job, which fails with the reason.
    tampered = _with_member(data, "model.skops", _foreign_skops())
    bundle_id = save_bundle(store, tampered, viewer=SYSTEM)  # the manifest itself is valid
    rows = pd.read_csv(ASSETS / "iris.csv").drop(columns=["species"]).head(5)
    upload = save_upload(store, io.BytesIO(rows.to_csv(index=False).encode()), "r.csv", viewer=SYSTEM)
    run, path = _predict(thread_cluster, store, bundle=bundle_id, rows_upload=upload, rows_format="csv")
    assert run.status == "failed" and "Loom never writes" in run.status_reason
    assert not path.exists()
    # A manifest naming an estimator beside a Keras file, or naming another kind than the file.
    keras_instead = _with_member(data, "model.keras", b"PK", drop="model.skops")
    with pytest.raises(DataError, match="describes a model.skops model"):
        read_bundle(keras_instead)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("loom.json"))
    manifest["model"] = EstimatorSpec("knn", "multiclass").to_dict()
    relabelled, _ = read_bundle(_with_member(data, "loom.json", json.dumps(manifest).encode()))
    canary.write_bytes(read_bundle(data)[1])
    with pytest.raises(DataError, match="the bundle's manifest says k-nearest neighbours"):
        load_model(relabelled, canary)


@pytest.mark.slow
def test_a_forest_stops_between_chunks(thread_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    pipeline = default_pipeline(ds.id, "price", ds.profile_json, "regression").to_dict()
    model = EstimatorSpec("random_forest", "regression", {"n_estimators": 5000, "min_samples_leaf": 1})
    spec = TrainSpec(pipeline, model.to_dict())
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    wait_until(
        lambda: "epoch/val_loss" in get_metrics(store, run_id, viewer=SYSTEM), timeout=120, what="a point"
    )
    stop_run(store, run_id, thread_cluster, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 120)
    assert run.status == "stopped"
    assert len(get_metrics(store, run_id, viewer=SYSTEM)["epoch/val_loss"].steps) < 10
    assert not (store.data_dir / "models" / f"{run_id}.skops").exists()
    # The stop is shown as taken at the chunk where it took effect.
    from core.compute import control_log

    (request,) = control_log(store, run_id, viewer=SYSTEM)
    assert (request.action, request.state) == ("stop", "taken") and request.step is not None


@pytest.mark.slow
def test_a_forest_fits_on_the_workers_threads_in_a_worker_process(process_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    """A Dask worker process is daemonic: joblib's process backend falls back to one job there
    ("Inside a Dask worker with daemon=True, setting n_jobs=1"); Loom fits on threads instead."""
    from core.store import get_events

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict()
    spec = TrainSpec(pipeline, EstimatorSpec("random_forest", "multiclass", {"n_estimators": 20}).to_dict())
    run_id = submit_run(process_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 180)
    assert run.status == "succeeded", run.status_reason
    said = [e.message for e in get_events(store, run_id, viewer=SYSTEM) if e.kind == "log"]
    assert any("scikit-learn fits on 2 threads" in m for m in said), said


@pytest.mark.slow
def test_an_estimator_run_is_evaluated_on_another_dataset(trained, thread_cluster) -> None:  # type: ignore[no-untyped-def]
    from core.training import list_evaluations

    store, datasets, runs = trained
    run_id = runs["iris", "linear"]
    spec = EvaluateSpec(run_id, datasets["iris"]).to_dict()
    job = submit_run(thread_cluster, store, "evaluate", spec, viewer=SYSTEM)
    assert wait_until_ended(store, job, 120).status == "succeeded"
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert evaluation.metrics["accuracy"] > 0.9 and evaluation.metrics["loss"] < 0.5
    assert sum(map(sum, evaluation.confusion["matrix"])) == 150
