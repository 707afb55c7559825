"""The article's seed result through Loom: the classic Keras MNIST CNN, 5 epochs at batch 32 on
60,000 MNIST-shaped 28x28 images, tested on 10,000 more, against the same bare Keras script on
the same machine in the same run.

    python bench/seed_cnn.py [--quick] [--pairs N]

The data comes from ``assets/make_mnist_like.py`` (no download): an ``.npz`` with ``x``, ``y``
and a ``split`` column, ingested through ``core.data`` (timed; so is a ZIP of as many PNGs by
class). Then, in pairs whose order alternates (bare first, then Loom first, ...) so drift on a
shared machine cancels:

* **bare**: a Python process of its own (no Dask, no store) loads the ``.npz`` into NumPy arrays
  (pixels / 255), takes one tiny warm-up step (Loom's workers are warm too), builds the model
  (``core.models.cnn_template``, the same layers), fits it with ``model.fit`` (batch 32, Adam
  1e-3, shuffled) and evaluates it on the test rows; timed from building the model to the test
  accuracy.
* **Loom**: a ``train`` job submitted to Loom's own local Dask cluster (a warm worker process
  with the machine's cores as threads, like the app's), live metrics on: the dataset read from
  Parquet, the pipeline (split by the file's column, scale to [0, 1]), the same fit, checkpoints,
  the held-out results and the saved model; timed from submit until the store says it ended.

Issue 18's targets: Loom's wall time at most 1.10x the bare script's, and its test accuracy
within 0.5 points of the bare script's. ``--quick`` takes 6,000 + 1,000 images and 1 epoch (a
couple of minutes). The last line is ``seed_cnn_time_ratio: N`` (median over the pairs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "assets"))

from core.store import SYSTEM  # noqa: E402 - after the path is set

# (train images, test images, epochs, pairs) for the full run, then for --quick
_SIZES = ((60_000, 10_000, 5, 1), (6_000, 1_000, 1, 2))
BATCH = 32
LEARNING_RATE = 1e-3


def _bare_script(npz: Path, n_train: int, epochs: int) -> None:
    """The bare script, run as a process of its own (no Dask, no store in it): loads the arrays
    as a script would, warms TensorFlow up (as Loom's workers are), then prints its timed fit."""
    import numpy as np

    with np.load(npz) as data:
        x = data["x"][..., None].astype("float32") / 255.0
        y = data["y"]
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    _bare(x_train[:256], y_train[:256], x_test[:64], y_test[:64], 1)
    cpu = _cpu()
    wall, accuracy = _bare(x_train, y_train, x_test, y_test, epochs)
    print(f"bare: {wall:.3f} {accuracy:.6f} {_cpu() - cpu:.3f}")


def _cpu() -> float:
    """This process's CPU seconds, every thread."""
    return sum(os.times()[:2])


def _run_bare(npz: Path, n_train: int, epochs: int) -> tuple[float, float, float]:
    import subprocess

    command = [sys.executable, __file__, "--bare", str(npz), "--train", str(n_train), "--epochs", str(epochs)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("bare: ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"The bare script failed ({proc.returncode}): {proc.stderr[-2000:]}")
    wall, accuracy, cpu = line.removeprefix("bare: ").split()
    return float(wall), float(accuracy), float(cpu)


def _bare(x_train: Any, y_train: Any, x_test: Any, y_test: Any, epochs: int) -> tuple[float, float]:
    """Build, fit and test the model: (wall seconds, test accuracy)."""
    import keras

    from core.models import build_keras_model
    from core.models import cnn_template

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    model = build_keras_model(cnn_template(), x_train.shape[1:], 10)
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return time.perf_counter() - started, float(accuracy)


def _loom(client: Any, store: Any, dataset_id: str, epochs: int) -> tuple[float, float, float, float, int]:
    """A Loom training run: (wall seconds, test accuracy, CPU seconds of the worker process, CPU
    seconds of this one (the scheduler, the client, polling the store as a page does), live batch
    points it stored)."""
    from core.compute import TERMINAL
    from core.compute import submit_run
    from core.models import cnn_template
    from core.optimizers import OptimizerSpec
    from core.pipeline import PipelineSpec
    from core.store import get_metrics
    from core.store import get_run
    from core.training import TrainSpec

    pipeline = PipelineSpec.chain(
        dataset_id,
        "label",
        [{"type": "split", "method": "column", "label_column": "split"}, {"type": "scale_images"}],
    )
    spec = TrainSpec(
        pipeline=pipeline.to_dict(),
        model=cnn_template().to_dict(),
        optimizer=OptimizerSpec("adam", LEARNING_RATE).to_dict(),
        epochs=epochs,
        batch_size=BATCH,
        early_stopping=0,
        seed=0,
    )

    def worker_cpu() -> float:
        return sum(client.run(_cpu).values())

    worker, here = worker_cpu(), _cpu()
    started = time.perf_counter()
    run_id = submit_run(client, store, "train", spec.to_dict(), dataset_id=dataset_id, viewer=SYSTEM)
    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.5)  # a page polls about once a second
    elapsed = time.perf_counter() - started
    worker, here = worker_cpu() - worker, _cpu() - here
    if run.status != "succeeded":
        raise RuntimeError(f"The Loom run {run.status}: {run.status_reason}")
    points = len(get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].values)
    return elapsed, float(run.result_json["evaluation"]["test_accuracy"]), worker, here, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 + 1,000 images, 1 epoch")
    parser.add_argument("--pairs", type=int, default=None, help="bare/Loom pairs (default 1; 2 quick)")
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # the bare script's own process
    parser.add_argument("--train", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        _bare_script(args.bare, args.train, args.epochs)
        return
    n_train, n_test, epochs, pairs = _SIZES[1 if args.quick else 0]
    pairs = args.pairs or pairs

    from make_mnist_like import write_npz
    from make_mnist_like import write_zip

    from core.compute import create_client
    from core.config import AppConfig
    from core.data import ingest_file
    from core.store import open_store
    from core.training import WARM_UP

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="loom-bench-seed-") as tmp:
        npz = Path(tmp) / "mnist_like.npz"
        started = time.perf_counter()
        write_npz(npz, n_train, n_test, seed=0)
        made = time.perf_counter() - started
        print(f"data: {n_train:,} train + {n_test:,} test 28x28 images, made in {made:.1f} s")

        # The Loom side: a store, Loom's own local cluster (one warm worker with every core).
        config = AppConfig.for_data_dir(
            Path(tmp) / "data",
            n_workers=1,
            threads_per_worker=cores,
            warm_workers=True,
            heartbeat_timeout=120.0,
        )
        store = open_store(config)
        started = time.perf_counter()
        dataset = ingest_file(store, npz, "npz", "mnist-like")
        print(
            f"ingest_npz_s: {time.perf_counter() - started:.2f} ({dataset.n_rows:,} images through core.data)"
        )
        archive = Path(tmp) / "mnist_like.zip"  # the same number of images as PNGs by class
        write_zip(archive, n_train + n_test, seed=0)
        started = time.perf_counter()
        by_class = ingest_file(store, archive, "images", "mnist-like zip")
        print(f"ingest_zip_s: {time.perf_counter() - started:.2f} ({by_class.n_rows:,} PNGs by class)")

        bare: list[tuple[float, float, float]] = []
        loom: list[tuple[float, float, float]] = []
        with create_client(config, warm_up=(WARM_UP,)) as client:
            client.wait_for_workers(1, timeout=120)
            for i in range(pairs):
                for side in ("bare", "loom") if i % 2 == 0 else ("loom", "bare"):
                    if side == "bare":
                        bare.append(_run_bare(npz, n_train, epochs))
                        wall, accuracy, cpu = bare[-1]
                        print(
                            f"pair {i + 1} bare: {wall:.1f} s, test accuracy {accuracy:.4f}, CPU {cpu:.1f} s",
                            flush=True,
                        )
                    else:
                        wall, accuracy, worker, here, points = _loom(client, store, dataset.id, epochs)
                        loom.append((wall, accuracy, worker + here))
                        print(
                            f"pair {i + 1} loom: {wall:.1f} s, test accuracy {accuracy:.4f}, CPU "
                            f"{worker + here:.1f} s (worker {worker:.1f}, scheduler and client "
                            f"{here:.1f}), {points} live batch points",
                            flush=True,
                        )
            client.cluster.close()  # type: ignore[union-attr]

    ratio = statistics.median(lo[0] / ba[0] for ba, lo in zip(bare, loom, strict=True))
    cpu_ratio = statistics.median(lo[2] / ba[2] for ba, lo in zip(bare, loom, strict=True))
    bare_accuracy = statistics.median(a for _, a, _ in bare)
    loom_accuracy = statistics.median(a for _, a, _ in loom)
    print(f"setup: {cores} cores, epochs {epochs}, batch {BATCH}, Adam {LEARNING_RATE}, pairs {pairs}")
    print(f"bare_wall_s: {statistics.median(w for w, _, _ in bare):.1f}")
    print(f"loom_wall_s: {statistics.median(w for w, _, _ in loom):.1f}")
    # CPU seconds: on a shared machine, far less disturbed by other processes than the wall clock.
    print(f"seed_cnn_cpu_ratio: {cpu_ratio:.3f}")
    print(f"bare_test_accuracy: {bare_accuracy:.4f}")
    print(f"loom_test_accuracy: {loom_accuracy:.4f}")
    print(f"accuracy_gap_points: {100 * (loom_accuracy - bare_accuracy):+.2f} (target: within 0.5)")
    print(f"seed_cnn_time_ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
