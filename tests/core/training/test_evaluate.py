"""A real training run scored on other files by the ``evaluate`` job on a real LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.models import mlp_template
from core.store import SYSTEM
from core.store import Viewer
from core.store import open_store
from core.training import EvaluateSpec
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import list_evaluations
from tests.conftest import wait_until_ended

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


def _evaluate(cluster, store, run_id: str, dataset_id: str):  # type: ignore[no-untyped-def]
    spec = EvaluateSpec(run_id, dataset_id).to_dict()
    job = submit_run(cluster, store, "evaluate", spec, dataset_id=dataset_id, viewer=SYSTEM, parent_id=run_id)
    return wait_until_ended(store, job, 120)


def test_evaluation_on_a_second_file_has_the_known_accuracy(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:
    from core.training._bundle import bundle_for_run
    from core.training._predict import predict_frame

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), epochs=3, batch_size=16)
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 300)
    assert run.status == "succeeded", run.status_reason

    # A second file whose labels agree with the model's predictions on exactly 60 of 150 rows.
    frame = pd.read_csv(ASSETS / "iris.csv")
    weights = store.path_for("models", run_id, ".keras")
    predicted = predict_frame(bundle_for_run(store, run_id), weights, frame)["prediction"].tolist()
    classes = sorted(frame["species"].unique())
    wrong = [classes[(classes.index(p) + 1) % 3] for p in predicted]
    frame["species"] = predicted[:60] + wrong[60:]
    (tmp_path / "relabelled.csv").write_text(frame.to_csv(index=False))
    second = ingest_file(store, tmp_path / "relabelled.csv", "csv", "relabelled")

    job = _evaluate(thread_cluster, store, run_id, second.id)
    assert job.status == "succeeded", job.status_reason
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert evaluation.id == job.id and evaluation.dataset_name == "relabelled"
    assert evaluation.metrics["accuracy"] == pytest.approx(60 / 150, abs=1e-6)
    assert sum(map(sum, evaluation.confusion["matrix"])) == 150  # type: ignore[index]
    assert [p["class"] for p in evaluation.per_class] == classes
    assert sum(p["support"] for p in evaluation.per_class) == 150
    assert evaluation.rows == {"read": 150, "scored": 150, "removed": 0}
    # An evaluation is visible exactly when its run is.
    assert list_evaluations(store, run_id, viewer=Viewer(name="mallory")) == []

    # A dataset without a column the pipeline needs: named; the run and its evaluation untouched.
    frame.drop(columns=["petal_width_cm"]).to_csv(tmp_path / "short.csv", index=False)
    short = ingest_file(store, tmp_path / "short.csv", "csv", "short")
    failed = _evaluate(thread_cluster, store, run_id, short.id)
    assert failed.status == "failed" and "petal_width_cm" in failed.status_reason
    # A class the model never learned: named.
    frame.assign(species=["daisy"] * 150).to_csv(tmp_path / "daisy.csv", index=False)
    daisy = ingest_file(store, tmp_path / "daisy.csv", "csv", "daisy")
    failed = _evaluate(thread_cluster, store, run_id, daisy.id)
    assert failed.status == "failed" and "daisy" in failed.status_reason
    assert [e.id for e in list_evaluations(store, run_id, viewer=SYSTEM)] == [job.id]
    assert wait_until_ended(store, run_id).status == "succeeded"


def test_bad_evaluate_specs_are_refused() -> None:
    with pytest.raises(SpecError, match="dataset_id"):
        EvaluateSpec("run", "")
    with pytest.raises(SpecError, match="Invalid evaluation spec"):
        EvaluateSpec.from_dict({"model_run": "r", "dataset": "d"})
