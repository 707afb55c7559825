"""scikit-learn branches (issue 30): a random forest keeps per-chunk checkpoints (skops bytes in
an ``.npz``, read with ``allow_pickle=False``), and a branch grows the checkpoint's trees with
``warm_start``, its steps continuing the parent's; models without warm_start say why not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import SpecError
from core.models import EstimatorSpec
from core.training import CheckpointRule
from core.training import TrainSpec
from core.training import branch_spec
from core.training import default_pipeline

ASSETS = Path(__file__).resolve().parents[3] / "assets"


def _forest(**params) -> TrainSpec:  # type: ignore[no-untyped-def]
    pipeline = default_pipeline("0" * 32, "species", {"columns": []}, "multiclass")
    model = EstimatorSpec("random_forest", "multiclass", {"n_estimators": 30, **params})
    return TrainSpec(
        pipeline.to_dict(), model.to_dict(), checkpoints=CheckpointRule(last=2, every=0).to_dict()
    )


def test_an_estimator_branch_changes_hyperparameters_and_must_grow() -> None:
    spec = branch_spec(_forest(), "a" * 32, 10, 10, {"params": {"n_estimators": 60, "max_depth": 4}})
    assert spec.model["params"]["n_estimators"] == 60 and spec.model["params"]["max_depth"] == 4
    assert spec.branch == {"run": "a" * 32, "epoch": 10, "step": 10}
    with pytest.raises(SpecError, match=r"`n_estimators > 9` must hold for a branch from chunk 3"):
        branch_spec(_forest(), "a" * 32, 3, 3, {"params": {"n_estimators": 9}})
    with pytest.raises(SpecError, match="cannot change 'learning_rate': it has no optimizer"):
        branch_spec(_forest(), "a" * 32, 3, 3, {"learning_rate": 0.1})
    with pytest.raises(SpecError, match="A branch of a Keras network cannot change `params`"):
        from core.models import mlp_template

        pipeline = default_pipeline("0" * 32, "species", {"columns": []}, "multiclass")
        keras = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), epochs=5)
        branch_spec(keras, "a" * 32, 2, 2, {"params": {"n_estimators": 9}})


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("knn", "keeps the training rows"),
        ("svm", "have no warm_start"),
        ("linear", "fitted in one solve"),
        ("dummy", "nothing to grow"),
    ],
)
def test_models_without_warm_start_say_why_not(kind: str, why: str) -> None:
    from core.training import estimator_branch_refusal

    assert why in (estimator_branch_refusal(kind) or "")
    assert estimator_branch_refusal("random_forest") is None
    assert estimator_branch_refusal("hist_gradient_boosting") is None


def test_a_forest_branch_grows_the_checkpoints_trees(thread_cluster, config) -> None:  # type: ignore[no-untyped-def]
    from core.compute import submit_run
    from core.data import ingest_file
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import open_store
    from core.training import branch_run
    from core.training import epoch_checkpoints
    from tests.conftest import wait_until_ended

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    knn = TrainSpec(pipeline.to_dict(), EstimatorSpec("knn", "multiclass").to_dict())
    plain = submit_run(thread_cluster, store, "train", knn.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    spec = TrainSpec(
        pipeline.to_dict(),
        EstimatorSpec("random_forest", "multiclass", {"n_estimators": 30}).to_dict(),
        checkpoints=CheckpointRule(last=2, every=3, best=0).to_dict(),
    )
    parent = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, parent, 180)
    assert run.status == "succeeded", run.status_reason
    kept = epoch_checkpoints(store, parent)
    assert [c.epoch for c in kept] == [3, 6, 9, 10]  # every 3rd chunk, and the last 2
    # The checkpoint is plain arrays: skops bytes and JSON, no pickle.
    with np.load(store.path_for("checkpoints", parent, ".e3.npz"), allow_pickle=False) as data:
        assert data["estimator"].dtype == np.uint8 and "random_forest" in str(data["meta"])
    assert wait_until_ended(store, plain, 180).status == "succeeded"
    with pytest.raises(SpecError, match="cannot branch: k-nearest neighbours keeps the training rows"):
        branch_run(store, thread_cluster, plain, 1, {}, viewer=SYSTEM)

    child = branch_run(store, thread_cluster, parent, 3, {"params": {"n_estimators": 60}}, viewer=SYSTEM)
    branched = wait_until_ended(store, child, 180)
    assert branched.status == "succeeded", branched.status_reason
    mine = get_metrics(store, child, viewer=SYSTEM)
    # Chunks of 6 trees up to 60: those above the checkpoint's 9, numbered on from chunk 3.
    assert mine["epoch/n_estimators"].steps[0] == 4
    assert mine["epoch/n_estimators"].values == [12, 18, 24, 30, 36, 42, 48, 54, 60]
