"""``train``: a training spec (or its short form) submitted as a run, its epochs printed."""

from __future__ import annotations

import json
import time
from typing import Any

from core.cli._common import out
from core.errors import SpecError


def spec_from_config(store, data: dict[str, Any], viewer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from core.data import get_dataset
    from core.models import cnn_template
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    if data.get("type") == "train":
        return TrainSpec.from_dict(data).to_dict()
    dataset = get_dataset(store, str(data["dataset_id"]), viewer=viewer)
    task = data.get("task", "multiclass")
    pipeline = default_pipeline(dataset.id, data["target"], dataset.profile, task)
    model: Any = cnn_template(task) if data.get("template") == "cnn" else mlp_template(task)
    if "estimator" in data:  # scikit-learn instead of a Keras template
        from core.models import EstimatorSpec

        estimator = data["estimator"]
        if not isinstance(estimator, dict):
            raise SpecError(
                '"estimator" is an object such as {"kind": "random_forest", "params": {"max_depth": 8}}, '
                f"but got estimator={estimator!r}."
            )
        model = EstimatorSpec(str(estimator.get("kind")), task, dict(estimator.get("params") or {}))
    return TrainSpec(
        pipeline=pipeline.to_dict(),
        model=model.to_dict(),
        optimizer=OptimizerSpec.from_dict(data.get("optimizer", {})).to_dict(),
        epochs=int(data.get("epochs", 5)),
        batch_size=int(data.get("batch_size", 32)),
        seed=int(data.get("seed", 0)),
        backend=str(data.get("backend", "tensorflow")),
    ).to_dict()


def _follow(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import get_run

    shown = 0
    while True:
        run = get_run(store, run_id, viewer=SYSTEM)
        epochs = get_metrics(store, run_id, viewer=SYSTEM)
        loss = epochs.get("epoch/loss")
        while loss and shown < len(loss.steps):
            parts = [f"epoch {loss.steps[shown]}"] + [
                f"{k.split('/')[1]}={s.values[shown]:.4g}"
                for k, s in sorted(epochs.items())
                if k.startswith("epoch/") and len(s.values) > shown and k != "epoch/samples_per_s"
            ]
            out("  ".join(parts))
            shown += 1
        if run.status in TERMINAL:
            out(f"{run.status}: {run.status_reason}")
            if run.result.evaluation:
                out(json.dumps(dict(run.result.evaluation)))
            return 0 if run.status == "succeeded" else 1
        time.sleep(0.5)


def train(store, config, args, viewer, data: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    from core.compute import create_client
    from core.compute import submit_run
    from core.training import check_backend

    spec = spec_from_config(store, data, viewer)
    client = create_client(config)
    check_backend(client, spec.get("backend", "tensorflow"))  # before anything is stored
    run_id = submit_run(
        client,
        store,
        "train",
        spec,
        viewer=viewer,
        team=args.team,
        name=f"cli {args.config.name}",
        dataset_id=spec.get("pipeline", {}).get("dataset_id"),
    )
    out(f"run {run_id} submitted")
    return _follow(store, run_id)
