"""Branch from here in the browser (AppTest): a finished run's page offers its kept epochs and
links to Train on a branch; Train opened on ``?branch=&epoch=`` is prefilled with the run's
settings and Launch records the branch; a branch's page draws its parent's history faded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Run
from core.store import create_run
from core.store import get_run
from core.store import open_store
from core.store import thaw
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _finished_run(store, epochs=(3, 5, 6)) -> str:  # type: ignore[no-untyped-def]
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(
        pipeline.to_dict(), mlp_template().to_dict(), OptimizerSpec("adam", 2e-3).to_dict(), epochs=6
    )
    run = create_run(store, "train", spec.to_dict(), name="parent run", dataset_id=ds.id, author="local")
    write_metrics(store, run.id, [("epoch/loss", e, 1.0 / e, 1000.0 + e) for e in range(1, 7)])
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    for epoch in epochs:  # kept per-epoch checkpoints, as the writer leaves them
        meta = {
            "epoch": epoch,
            "step": epoch * 8,
            "metric": 1.0 / epoch,
            "model_vars": 0,
            "optimizer_vars": 0,
        }
        with open(store.path_for("checkpoints", run.id, f".e{epoch}.npz"), "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)))
    return run.id


def test_run_page_offers_kept_epochs_and_train_opens_prefilled(app: AppTest) -> None:
    store = open_store(get_config())
    run_id = _finished_run(store)
    open_page(app, "pages/jobs.py", run=run_id)
    assert any("Checkpoints: epochs 3, 5, 6 kept" in c.value for c in app.caption)
    assert app.selectbox(key=f"branch_epoch_{run_id}").options == ["3", "5", "6"]
    app.selectbox(key=f"branch_epoch_{run_id}").set_value(3).run()
    links = [e for e in app.get("page_link") if "Branch from epoch" in e.proto.label]
    assert [link.proto.label for link in links] == ["Branch from epoch 3"]

    # The link's URL: Train on a branch of this run from epoch 3, prefilled with its settings.
    open_page(app, "pages/train.py", branch=run_id, epoch="3")
    assert any(f"Branching **parent run** (`{run_id}`) from epoch 3" in plain(i.value) for i in app.info)
    assert app.number_input(key=f"branch_lr_{run_id}").value == 2e-3
    assert app.number_input(key=f"branch_epochs_{run_id}").value == 6
    assert app.selectbox(key=f"branch_opt_{run_id}").value == "adam"
    app.number_input(key=f"branch_lr_{run_id}").set_value(5e-4)
    app.number_input(key=f"branch_epochs_{run_id}").set_value(9)
    app.button(key="branch_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    children = [r for r in _children(store, run_id)]
    assert len(children) == 1
    child = get_run(store, children[0], viewer=SYSTEM)
    assert child.parent_kind == "branched" and child.spec["branch"] == {"run": run_id, "epoch": 3, "step": 24}
    assert child.spec["optimizer"]["learning_rate"] == 5e-4 and child.spec["epochs"] == 9


def test_a_bad_epoch_in_the_url_is_said_not_raised(app: AppTest) -> None:
    store = open_store(get_config())
    run_id = _finished_run(store)
    open_page(app, "pages/train.py", branch=run_id, epoch="three")
    assert any("`epoch` must be a whole number" in plain(e.value) for e in app.error)
    open_page(app, "pages/train.py", branch="f" * 32, epoch="3")
    assert app.error  # an unknown run: said, nothing drawn


def test_a_branch_page_draws_the_parent_history_faded(app: AppTest) -> None:
    store = open_store(get_config())
    parent = _finished_run(store)
    spec = thaw(get_run(store, parent, viewer=SYSTEM).spec) | {
        "branch": {"run": parent, "epoch": 3, "step": 24}
    }
    child = create_run(
        store, "train", spec, name="the branch", parent_id=parent, parent_kind="branched", author="local"
    )
    write_metrics(store, child.id, [("epoch/loss", e, 0.5 / e, 2000.0 + e) for e in (4, 5)])
    with store.session(SYSTEM) as s:
        s.get(Run, child.id).status = "succeeded"
    open_page(app, "pages/jobs.py", run=child.id)
    figures = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    figure = next(f for f in figures if any(t["name"] == "epoch/loss (parent)" for t in f["data"]))
    parent_trace = next(t for t in figure["data"] if t["name"] == "epoch/loss (parent)")
    assert parent_trace["opacity"] < 0.5
    assert len(figure["data"]) == 2  # the parent's epochs 1..3 beneath the branch's 4..5
    # The lineage: the parent at the root, this branch under it at epoch 3.
    app.tabs  # noqa: B018
    said = " ".join(m.value for m in app.markdown)
    assert "@ epoch 3" in said and f"/jobs?run={child.id}" in said


def _children(store, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    from core.store import child_runs

    return [cid for cid, _, how in child_runs(store, run_id, viewer=SYSTEM) if how == "branched"]
