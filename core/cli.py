"""Headless Loom: the same path as the UI (store → Dask job → store), from a terminal.

    python -m core ingest FILE [--name NAME]
    python -m core train --config run.json

``run.json`` is a training spec as the Train page stores it (``{"type": "train", "pipeline":
..., "model": ..., "optimizer": ..., "epochs": ...}``), or a short form::

    {"dataset_id": "<id>", "target": "species", "task": "multiclass", "template": "mlp",
     "epochs": 20, "optimizer": {"name": "adam", "learning_rate": 0.001}}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import AppError

__all__ = ["main"]


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _spec_from_config(store, data: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from core.data import get_dataset
    from core.models import cnn_template
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    if data.get("type") == "train":
        return TrainSpec.from_dict(data).to_dict()
    dataset = get_dataset(store, str(data["dataset_id"]))
    task = data.get("task", "multiclass")
    pipeline = default_pipeline(dataset.id, data["target"], dataset.profile_json, task)
    model = cnn_template(task) if data.get("template") == "cnn" else mlp_template(task)
    return TrainSpec(
        pipeline=pipeline.to_dict(),
        model=model.to_dict(),
        optimizer=OptimizerSpec.from_dict(data.get("optimizer", {})).to_dict(),
        epochs=int(data.get("epochs", 5)),
        batch_size=int(data.get("batch_size", 32)),
        seed=int(data.get("seed", 0)),
    ).to_dict()


def _follow(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import get_metrics
    from core.store import get_run

    shown = 0
    while True:
        run = get_run(store, run_id)
        epochs = get_metrics(store, run_id)
        loss = epochs.get("epoch/loss")
        while loss and shown < len(loss.steps):
            parts = [f"epoch {loss.steps[shown]}"] + [
                f"{k.split('/')[1]}={s.values[shown]:.4g}"
                for k, s in sorted(epochs.items())
                if k.startswith("epoch/") and len(s.values) > shown and k != "epoch/samples_per_s"
            ]
            _out("  ".join(parts))
            shown += 1
        if run.status in TERMINAL:
            _out(f"{run.status}: {run.status_reason}")
            if run.result_json.get("evaluation"):
                _out(json.dumps(run.result_json["evaluation"]))
            return 0 if run.status == "succeeded" else 1
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Loom without a browser.")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="add a dataset from a file")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--name", default=None)
    train = sub.add_parser("train", help="train a model on the cluster and print its progress")
    train.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)

    from core.compute import create_client
    from core.compute import submit_run
    from core.config import get_config
    from core.store import open_store

    try:
        config = get_config()
        store = open_store(config)
        if args.command == "ingest":
            from core.data import detect_format
            from core.data import ingest_file

            dataset = ingest_file(
                store, args.file, detect_format(args.file.name), args.name or args.file.name
            )
            _out(f"dataset {dataset.id}: {dataset.name}, {dataset.n_rows} rows, {dataset.n_cols} columns")
            return 0
        try:
            data = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            _out(f"error: cannot read {args.config}: {exc}")
            return 2
        spec = _spec_from_config(store, data)
        client = create_client(config)
        run_id = submit_run(client, store, "train", spec, name=f"cli {args.config.name}")
        _out(f"run {run_id} submitted")
        return _follow(store, run_id)
    except (AppError, KeyError) as exc:
        _out(f"error: {exc}")
        return 2
