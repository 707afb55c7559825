"""GPU check: the classic CNN on MNIST-shaped synthetic images (40,000 rows, 10 % validation,
batch 128, 4 epochs) trained through Loom's training job (``run_training`` in an inline job on
a real store) and with a bare ``model.fit`` on the same arrays, 5 interleaved A/B pairs in one
process, median of the pairs. Samples/s are over the steady-state epochs 2..N; the first epoch,
which builds and compiles the step functions, is reported apart.

    python bench/gpu_check.py [--quick] [--force-cpu]

Keras backend: ``KERAS_BACKEND`` if set, else TensorFlow if installed, else JAX, else PyTorch;
the output says which ran. Without a GPU it says so and exits 0 (``--force-cpu`` runs the
comparison on the CPU anyway, to test this script). With ``OUT`` set, a summary is also written
to ``$OUT/gpu_check.json``.

Target: ratio >= 0.95. The last line is ``gpu_check_ratio: N`` (``n/a`` without a GPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.95
BATCH = 128
BACKENDS = ("tensorflow", "jax", "torch")


def _pick_backend() -> str | None:
    # Before Keras is imported: Keras reads KERAS_BACKEND once, at import.
    chosen = os.environ.get("KERAS_BACKEND") or next(
        (b for b in BACKENDS if importlib.util.find_spec(b) is not None), None
    )
    if chosen:
        os.environ["KERAS_BACKEND"] = chosen
    return chosen


def _gpu(backend: str) -> tuple[str | None, str]:
    """(the first GPU's name or None, the backend library's version)."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None, tf.__version__
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
        except (ValueError, RuntimeError):
            name = None
        return str(name or gpus[0].name), tf.__version__
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return (str(device.device_kind) if device.platform == "gpu" else None), jax.__version__
    if backend == "torch":
        import torch

        return (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None), torch.__version__
    return None, "?"


def _images(n: int, seed: int = 0) -> tuple[Any, Any]:
    # Ten fixed random pixel masks plus noise: learnable (the loss falls), MNIST's shape and dtype.
    import numpy as np

    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, 28, 28)) > 0.75).astype(np.float32)
    y = rng.integers(0, 10, n)
    x = 0.7 * prototypes[y] + 0.3 * rng.random((n, 28, 28), dtype=np.float32)
    return (x * 255).round().astype(np.uint8), y


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _write_summary(summary: dict[str, Any]) -> None:
    out = os.environ.get("OUT")
    if out:
        path = Path(out) / "gpu_check.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"summary: {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 rows, 3 epochs, 3 pairs")
    parser.add_argument(
        "--force-cpu", action="store_true", help="without a GPU, run the comparison on the CPU anyway"
    )
    parser.add_argument("--rows", type=int, help="rows in the dataset (overrides the preset)")
    parser.add_argument("--epochs", type=int, help="epochs per fit, >= 2 (overrides the preset)")
    parser.add_argument("--pairs", type=int, help="A/B pairs (overrides the preset)")
    args = parser.parse_args()
    rows, epochs, pairs = (3000, 3, 3) if args.quick else (40_000, 4, 5)
    rows, epochs, pairs = args.rows or rows, args.epochs or epochs, args.pairs or pairs
    if epochs < 2:
        parser.error(f"`epochs >= 2` must hold (epoch 1 compiles and is not measured), but got {epochs}.")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = _pick_backend()
    if backend is None:
        print("no Keras backend: install tensorflow, jax or torch")
        print("gpu_check_ratio: n/a")
        return 1
    gpu, backend_version = _gpu(backend)
    summary: dict[str, Any] = {
        "backend": backend,
        "backend_version": backend_version,
        "device": gpu or "CPU",
        "gpu": gpu is not None,
        "target": TARGET,
        "ratio": None,
    }
    print(f"backend: {backend} {backend_version}")
    print(f"device: {gpu or 'CPU'}")
    if gpu is None and not args.force_cpu:
        print(f"no GPU: {backend} sees only the CPU, nothing to check (--force-cpu runs it there)")
        _write_summary(summary)
        print("gpu_check_ratio: n/a")
        return 0

    import keras
    import numpy as np
    import pyarrow.parquet as pq
    from sqlalchemy import select

    from core.compute._context import inline_job
    from core.config import AppConfig
    from core.data import ingest_file
    from core.models import ModelSpec
    from core.models import build_keras_model
    from core.models import cnn_template
    from core.optimizers import OptimizerSpec
    from core.optimizers import build_keras_optimizer
    from core.pipeline import SPLIT_COLUMN
    from core.pipeline import PipelineSpec
    from core.pipeline import run_pandas
    from core.store import SYSTEM
    from core.store import Metric
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import _arrays
    from core.training import run_training

    data_dir = Path(tempfile.mkdtemp(prefix="loom-bench-gpu-"))
    store = open_store(AppConfig.for_data_dir(data_dir))
    x, y = _images(rows)
    np.savez(data_dir / "synthetic-mnist.npz", x=x, y=y)
    dataset = ingest_file(store, data_dir / "synthetic-mnist.npz", "npz", "synthetic-mnist")
    split = {"type": "split", "method": "stratified", "validation": 0.1, "seed": 0}
    pipeline = PipelineSpec.chain(dataset.id, "label", [split, {"type": "scale_images"}])
    spec = TrainSpec(
        pipeline=pipeline.to_dict(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("adam", 1e-3).to_dict(),
        epochs=epochs,
        batch_size=BATCH,
    ).to_dict()

    # The bare fit gets the very arrays the job trains on: the same pipeline and conversion.
    table = pq.read_table(store.path_for("datasets", dataset.id, ".parquet"))
    out = run_pandas(pipeline, table.to_pandas()).frame
    x_train, y_train, classes = _arrays(out[out[SPLIT_COLUMN] == "train"], "label", "multiclass", None)
    x_val, y_val, _ = _arrays(out[out[SPLIT_COLUMN] == "validation"], "label", "multiclass", classes)
    n_train, n_classes = len(x_train), len(classes or [])
    steps = -(-n_train // BATCH)
    # JAX without x64 says so for every int64 label array, on both sides alike: noise here.
    warnings.filterwarnings("ignore", message="Explicitly requested dtype int64")

    class EpochClock(keras.callbacks.Callback):
        # Epoch hooks only: Keras keeps dispatching batch callbacks asynchronously, and the
        # epoch's logs are already host floats here, so the device has finished the epoch.
        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.ends.append(time.perf_counter())

    def bare(n_epochs: int) -> dict[str, float]:
        keras.utils.set_random_seed(0)
        model = build_keras_model(ModelSpec.from_dict(spec["model"]), x_train.shape[1:], n_classes)
        model.compile(
            optimizer=build_keras_optimizer(OptimizerSpec.from_dict(spec["optimizer"])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        clock = EpochClock()
        start = time.perf_counter()
        model.fit(
            x_train,
            y_train,
            batch_size=BATCH,
            epochs=n_epochs,
            validation_data=(x_val, y_val),
            callbacks=[clock],
            verbose=0,
            shuffle=True,
        )
        ends = clock.ends
        return {
            "first_epoch_s": ends[0] - start,
            "samples_per_s": (len(ends) - 1) * n_train / (ends[-1] - ends[0]) if len(ends) > 1 else 0.0,
        }

    def loom() -> dict[str, Any]:
        with inline_job(store, "train", spec) as ctx:
            start = time.perf_counter()
            result = run_training(ctx, spec)
            total = time.perf_counter() - start
        # Epoch ends as the job's callback logged them: `epoch/samples_per_s` is its last write
        # in an epoch, after the epoch's metrics and its checkpoint.
        with store.session(SYSTEM) as s:
            logged = s.execute(
                select(Metric.key, Metric.step, Metric.value, Metric.ts).where(
                    Metric.run_id == ctx.run_id, Metric.key.startswith("epoch/")
                )
            ).all()
        ends = {step: (value, ts) for key, step, value, ts in logged if key == "epoch/samples_per_s"}
        firsts: dict[int, float] = {}
        for _, step, _, ts in logged:
            firsts[step] = min(ts, firsts.get(step, ts))
        last = max(ends)
        return {
            # The callback's own rate counts from its creation, just before fit: invert it.
            "first_epoch_s": steps * BATCH / ends[1][0],
            "samples_per_s": (last - 1) * n_train / (ends[last][1] - ends[1][1]),
            "checkpoint_s": _median([ends[e][1] - firsts[e] for e in ends if e in firsts]),
            "run_s": total,
            "device": result["environment"].get("device", "?"),
            "accuracy": result["evaluation"].get("validation_accuracy", float("nan")),
        }

    print(f"keras: {keras.__version__}")
    print(
        f"rows: {n_train} train, {len(x_val)} validation; batch {BATCH}; {epochs} epochs; "
        f"samples/s over epochs 2..{epochs} (epoch 1 compiles and is reported apart)"
    )
    bare(1)  # warm-up: the process's first model pays one-time backend start-up costs
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "loom": []}
    for i in range(pairs):  # interleaved, alternating which goes first
        for kind in ("bare", "loom") if i % 2 == 0 else ("loom", "bare"):
            runs[kind].append(bare(epochs) if kind == "bare" else loom())
    shutil.rmtree(data_dir, ignore_errors=True)  # the runs' models and checkpoints
    ratios = [
        lm["samples_per_s"] / b["samples_per_s"] for b, lm in zip(runs["bare"], runs["loom"], strict=True)
    ]
    bare_sps = [r["samples_per_s"] for r in runs["bare"]]
    loom_sps = [r["samples_per_s"] for r in runs["loom"]]
    ratio = _median(ratios)
    loom_device = runs["loom"][0]["device"]
    summary.update(
        {
            "keras": keras.__version__,
            "loom_device": loom_device,
            "rows_train": n_train,
            "rows_validation": len(x_val),
            "batch_size": BATCH,
            "epochs": epochs,
            "measured_epochs": f"2..{epochs}",
            "pairs": pairs,
            "quick": args.quick,
            "bare": runs["bare"],
            "loom": runs["loom"],
            "ratios": ratios,
            "ratio": ratio,
        }
    )

    def med(kind: str, key: str) -> float:
        return _median([r[key] for r in runs[kind]])

    share = med("loom", "checkpoint_s") * _median(loom_sps) / n_train
    print(f"loom_reported_device: {loom_device}")
    print(f"first_epoch_s: bare {med('bare', 'first_epoch_s'):.2f}, loom {med('loom', 'first_epoch_s'):.2f}")
    print(f"loom_checkpoint_s: {med('loom', 'checkpoint_s'):.3f} per epoch ({share:.1%} of a measured epoch)")
    print(f"loom_run_s: {med('loom', 'run_s'):.2f} (pipeline, fit, evaluation, model file)")
    print(f"loom_validation_accuracy: {med('loom', 'accuracy'):.3f}")
    print(f"bare_samples_per_s: {_median(bare_sps):.0f}")
    print(f"loom_samples_per_s: {_median(loom_sps):.0f}")
    print(f"pairs: {pairs}, ratios: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"ratio_of_medians: {_median(loom_sps) / _median(bare_sps):.3f}")
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target: >= {TARGET}: {verdict} on {gpu or 'the CPU (--force-cpu)'} with {backend}")
    _write_summary(summary)
    print(f"gpu_check_ratio: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
