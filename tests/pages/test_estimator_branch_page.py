"""scikit-learn branches on the run page (AppTest): a k-nearest-neighbours run says why it cannot
branch; a forest offers its kept chunks, and Train opened on one asks how many trees in all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.models import EstimatorSpec
from core.store import SYSTEM
from core.store import Run
from core.store import create_run
from core.store import open_store
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _estimator_run(kind: str, params: dict, chunks: tuple[int, ...] = ()) -> str:
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), EstimatorSpec(kind, "multiclass", params).to_dict())
    run = create_run(store, "train", spec.to_dict(), name=f"{kind} run", dataset_id=ds.id, author="local")
    write_metrics(store, run.id, [("epoch/loss", e, 1.0 / e, 1000.0 + e) for e in range(1, 4)])
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    for chunk in chunks:
        meta = {"epoch": chunk, "step": chunk, "metric": 1.0 / chunk, "model_vars": 0, "optimizer_vars": 0}
        with open(store.path_for("checkpoints", run.id, f".e{chunk}.npz"), "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)))
    return run.id


def test_a_knn_run_says_why_it_cannot_branch(app: AppTest) -> None:
    run_id = _estimator_run("knn", {})
    open_page(app, "pages/jobs.py", run=run_id)
    assert any(
        "not for this model, as k-nearest neighbours keeps the training rows" in c.value for c in app.caption
    )
    train = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(train, "pages/train.py", branch=run_id, epoch="1")
    assert any("cannot branch: k-nearest neighbours" in plain(e.value) for e in train.error)


def test_a_forest_offers_its_chunks_and_the_branch_form_asks_for_more_trees(app: AppTest) -> None:
    run_id = _estimator_run("random_forest", {"n_estimators": 30}, chunks=(2, 3))
    open_page(app, "pages/jobs.py", run=run_id)
    assert app.selectbox(key=f"branch_epoch_{run_id}").options == ["2", "3"]
    train = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(train, "pages/train.py", branch=run_id, epoch="3")
    assert train.number_input(key=f"branch_size_{run_id}").value == 60
    assert any("grows it on" in plain(i.value) for i in train.info)
