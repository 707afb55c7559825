"""Experiments rows and Compare's settings say what each training run trained on: its Keras
backend, TensorFlow for specs stored before backends existed, scikit-learn for an estimator."""

from __future__ import annotations

from core.experiments import ExperimentQuery
from core.experiments import compare_runs
from core.experiments import list_experiments
from core.store import SYSTEM
from core.store import Store
from core.store import create_run


def test_each_training_run_names_its_backend(store: Store) -> None:
    base = {"type": "train", "pipeline": {}, "model": {"type": "model"}, "epochs": 1}
    old = create_run(store, "train", base, name="old").id  # stored before backends existed
    jax = create_run(store, "train", {**base, "backend": "jax"}, name="jax").id
    torch = create_run(store, "train", {**base, "backend": "torch"}, name="torch").id
    sk = create_run(store, "train", {**base, "model": {"type": "estimator", "kind": "random_forest"}}).id
    smoke = create_run(store, "smoke", {"type": "smoke"}).id
    rows, _ = list_experiments(store, ExperimentQuery(page_size=50, kinds=("train", "smoke")), viewer=SYSTEM)
    backend = {r.id: r.backend for r in rows}
    assert backend == {old: "tensorflow", jax: "jax", torch: "torch", sk: "scikit-learn", smoke: ""}

    diff = {row["setting"]: row for row in compare_runs(store, [old, jax, torch], viewer=SYSTEM).diff}
    row = diff["backend"]
    assert (row[old], row[jax], row[torch], row["differs"]) == ("tensorflow", "jax", "torch", True)
