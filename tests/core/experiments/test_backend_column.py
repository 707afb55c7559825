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


def test_compare_lists_only_the_settings_each_model_has_and_metrics_first(store: Store) -> None:
    from core.store import write_metrics

    base = {"type": "train", "pipeline": {"seed": 1}, "optimizer": {"type": "adam"}, "epochs": 5}
    mlp = create_run(store, "train", {**base, "model": {"type": "model"}}, name="mlp").id
    forest = {"type": "estimator", "kind": "random_forest", "params": {"n_estimators": 100}}
    sk = create_run(store, "train", {**base, "epochs": 1, "model": forest}, name="forest").id
    write_metrics(store, mlp, [("epoch/val_loss", 1, 0.5, 0.0)])
    comparison = compare_runs(store, [mlp, sk], viewer=SYSTEM)
    diff = {row["setting"]: row for row in comparison.diff}
    # A scikit-learn run has no epochs or optimizer: "—", and no difference is claimed.
    assert (diff["epochs"][mlp], diff["epochs"][sk], diff["epochs"]["differs"]) == (5, "—", False)
    assert diff["optimizer.type"][sk] == "—"
    assert diff["model.params.n_estimators"][mlp] == "—"  # nor has the MLP a forest's trees
    assert diff["backend"][sk] == "scikit-learn" and diff["backend"]["differs"]
    # Metrics first: the run's name, its metrics, then what identifies it.
    columns = list(comparison.table[0])
    assert columns[:2] == ["name", "epoch/val_loss"]
    assert columns[-4:] == ["model", "baseline", "status", "run"]
