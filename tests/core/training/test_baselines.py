"""Baselines in one click: dummy, linear and gradient boosting launched together for a neural
run's data on a real LocalCluster, findable by tag, and compared beside the neural run."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.experiments import BASELINE_TAG
from core.experiments import ExperimentQuery
from core.experiments import compare_runs
from core.experiments import list_experiments
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import child_runs
from core.store import get_run
from core.store import open_store
from core.store import thaw
from core.training import BASELINE_KINDS
from core.training import TrainSpec
from core.training import baseline_specs
from core.training import baselines_for_run
from core.training import default_pipeline
from core.training import launch_baselines
from tests.conftest import wait_until_ended

ASSETS = Path(__file__).resolve().parents[3] / "assets"


def test_baseline_specs_are_a_dummy_a_linear_model_and_boosting() -> None:
    pipeline = default_pipeline("d1", "price", {"columns": []}, "regression").to_dict()
    specs = baseline_specs(pipeline, "regression", pipeline_id="p1")
    assert (
        [s.model["kind"] for s in specs]
        == list(BASELINE_KINDS)
        == ["dummy", "linear", "hist_gradient_boosting"]
    )
    assert all(
        s.pipeline == pipeline and s.pipeline_id == "p1" and s.model["task"] == "regression" for s in specs
    )
    with pytest.raises(SpecError, match="task must be one of"):
        baseline_specs(pipeline, "clustering")


@pytest.mark.slow
def test_baselines_for_a_neural_run_launch_together_and_compare_beside_it(
    thread_cluster, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict()
    spec = TrainSpec(
        pipeline,
        mlp_template("multiclass", (16,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=5,
        batch_size=16,
    )
    neural = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    assert wait_until_ended(store, neural, 300).status == "succeeded"

    ids = baselines_for_run(thread_cluster, store, neural, viewer=SYSTEM)
    assert len(ids) == 3 and neural not in ids
    runs = [wait_until_ended(store, i, 120) for i in ids]
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.status_reason for r in runs]
    assert [r.name.split(" · ")[:3] for r in runs] == [
        ["Baseline", "dummy (majority)", "iris"],
        ["Baseline", "logistic regression", "iris"],
        ["Baseline", "histogram gradient boosting", "iris"],
    ]
    assert all(thaw(r.spec)["pipeline"] == pipeline and r.dataset_id == ds.id for r in runs)
    assert sorted(c[0] for c in child_runs(store, neural, viewer=SYSTEM) if c[2] == "baseline") == sorted(ids)
    # Launching again for the same data reuses them.
    assert baselines_for_run(thread_cluster, store, neural, viewer=SYSTEM) == ids

    # Findable: the Experiments tag filter lists exactly them, with their model kind.
    rows, total = list_experiments(store, ExperimentQuery(tag=BASELINE_TAG), viewer=SYSTEM)
    assert total == 3 and {r.id for r in rows} == set(ids)
    assert {r.model for r in rows} == {
        "dummy (majority)",
        "logistic regression",
        "histogram gradient boosting",
    }

    # Compare: the same metrics table and curves, the baselines marked as such.
    comparison = compare_runs(store, [neural, *ids], "epoch/val_accuracy", viewer=SYSTEM)
    assert comparison.baselines == ids
    assert [(row["model"], row["baseline"]) for row in comparison.table] == [
        ("MLP", False),
        ("dummy (majority)", True),
        ("logistic regression", True),
        ("histogram gradient boosting", True),
    ]
    assert {"epoch/val_loss", "epoch/val_accuracy", "epoch/loss", "epoch/accuracy"} <= set(comparison.keys)
    assert all(comparison.curves[i]["value"] for i in [neural, *ids])
    accuracy = {row["run"]: row["result validation_accuracy"] for row in comparison.table}
    assert accuracy[ids[0]] < 0.5 < accuracy[ids[2]]  # the majority class of 3 vs boosting


@pytest.mark.slow
def test_regression_baselines_from_a_pipeline(thread_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    pipeline = default_pipeline(ds.id, "price", ds.profile_json, "regression").to_dict()
    ids = launch_baselines(
        thread_cluster, store, pipeline, "regression", viewer=SYSTEM, dataset_name="housing"
    )
    runs = [wait_until_ended(store, i, 120) for i in ids]
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.status_reason for r in runs]
    rmse = [r.result_json["evaluation"]["validation_rmse"] for r in runs]
    assert max(rmse[1], rmse[2]) < 0.8 * rmse[0]  # ridge and boosting both beat the mean
    assert get_run(store, ids[0], viewer=SYSTEM).name.startswith("Baseline · dummy (mean) · housing")
