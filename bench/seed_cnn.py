"""The seed's MNIST as the TensorFlow article trains it, through Loom: the article's network
(Conv2D 32 3x3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU → Dense 10 softmax, Loom's
``cnn_article`` template), 5 epochs at batch 32 on every one of 60,000 training images, validated
on the standard 10,000 test images (Keras's ``validation_data``), against a bare Keras script of
the same network on the same rows, on the same machine, in the same run.

    python bench/seed_cnn.py [--quick] [--pairs N] [--mnist mnist.npz] [--zip]

The data comes from ``assets/make_mnist_like.py`` (no download): a training ``.npz`` and a test
``.npz``, each with ``x``, ``y`` and ``split``. ``--mnist`` takes the real MNIST instead, as
Keras ships it (an ``.npz`` with ``x_train``, ``y_train``, ``x_test`` and ``y_test``, e.g.
``~/.keras/datasets/mnist.npz``); ``--quick`` then keeps its first 6,000 + 1,000 images. Both
files are ingested through ``core.data`` (timed; ``--zip`` also times a ZIP of as many PNGs by
class). Then, in pairs whose order alternates (bare first, then Loom first, ...) so drift on a
shared machine cancels:

* **bare**: a Python process of its own (no Dask, no store, no Loom code) loads the two ``.npz``
  into NumPy arrays (pixels / 255), takes one tiny warm-up step (Loom's workers are warm too),
  builds the article's model with ``keras.Sequential``, fits it with ``model.fit`` (batch 32, Adam
  1e-3, shuffled, ``validation_data`` the test rows as the article does) and evaluates it on the
  test rows; timed from building the model to the test accuracy.
* **Loom**: a ``train`` job submitted to Loom's own local Dask cluster (a warm worker process
  with the machine's cores as threads, like the app's), live metrics on, as the Train page
  launches it: Loom's default pipeline (its split skipped: every row trains; images scaled to
  [0, 1]), the ``cnn_article`` template, "Validate on" the test dataset; checkpoints, the
  held-out results on the test rows and the saved model; timed from submit until the store says
  it ended.

Issue 25's goals: Loom's test accuracy within 0.2 points of the bare script's, at most 1.10x its
wall time. ``--quick`` takes 6,000 + 1,000 images and 1 epoch (a couple of minutes). The last
line is ``seed_cnn_time_ratio: N`` (median over the pairs).
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
ACCURACY_GOAL_POINTS = 0.2
TIME_GOAL_RATIO = 1.10


def _bare_script(train: Path, test: Path, epochs: int) -> None:
    """The bare script, run as a process of its own (no Dask, no store in it): loads the arrays
    as a script would, warms TensorFlow up (as Loom's workers are), then prints its timed fit."""
    import numpy as np

    arrays = []
    for path in (train, test):
        with np.load(path) as data:
            arrays += [data["x"][..., None].astype("float32") / 255.0, data["y"]]
    x_train, y_train, x_test, y_test = arrays
    _bare(x_train[:256], y_train[:256], x_test[:64], y_test[:64], 1)
    cpu = _cpu()
    wall, accuracy = _bare(x_train, y_train, x_test, y_test, epochs)
    print(f"bare: {wall:.3f} {accuracy:.6f} {_cpu() - cpu:.3f}")


def _cpu() -> float:
    """This process's CPU seconds, every thread."""
    return sum(os.times()[:2])


def _run_bare(train: Path, test: Path, epochs: int) -> tuple[float, float, float]:
    import subprocess

    command = [sys.executable, __file__, "--bare", str(train), "--test", str(test), "--epochs", str(epochs)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("bare: ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"The bare script failed ({proc.returncode}): {proc.stderr[-2000:]}")
    wall, accuracy, cpu = line.removeprefix("bare: ").split()
    return float(wall), float(accuracy), float(cpu)


def _bare(x_train: Any, y_train: Any, x_test: Any, y_test: Any, epochs: int) -> tuple[float, float]:
    """Build, fit and test the article's model in plain Keras: (wall seconds, test accuracy)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    model = keras.Sequential(
        [
            keras.Input(shape=x_train.shape[1:]),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=True,
        validation_data=(x_test, y_test),
        verbose=0,
    )
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return time.perf_counter() - started, float(accuracy)


def _loom(
    client: Any, store: Any, train: Any, test: Any, epochs: int
) -> tuple[float, float, float, float, int]:
    """A Loom training run as the Train page launches it: (wall seconds, test accuracy, CPU
    seconds of the worker process, CPU seconds of this one (the scheduler, the client, polling
    the store as a page does), live batch points it stored)."""
    from core.compute import TERMINAL
    from core.compute import submit_run
    from core.models import model_template
    from core.optimizers import OptimizerSpec
    from core.store import get_metrics
    from core.store import get_run
    from core.training import TrainSpec
    from core.training import default_pipeline

    spec = TrainSpec(
        pipeline=default_pipeline(train.id, "label", train.profile, "multiclass").to_dict(),
        model=model_template("cnn_article").to_dict(),
        optimizer=OptimizerSpec("adam", LEARNING_RATE).to_dict(),
        epochs=epochs,
        batch_size=BATCH,
        early_stopping=0,
        seed=0,
        validation_dataset=test.id,
    )

    def worker_cpu() -> float:
        return sum(client.run(_cpu).values())

    worker, here = worker_cpu(), _cpu()
    started = time.perf_counter()
    run_id = submit_run(client, store, "train", spec.to_dict(), dataset_id=train.id, viewer=SYSTEM)
    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.5)  # a page polls about once a second
    elapsed = time.perf_counter() - started
    worker, here = worker_cpu() - worker, _cpu() - here
    if run.status != "succeeded":
        raise RuntimeError(f"The Loom run {run.status}: {run.status_reason}")
    points = len(get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].values)
    rows = run.result_json["rows"]
    if (rows["train"], rows["validation"]) != (train.n_rows, test.n_rows):
        raise RuntimeError(f"The Loom run used other rows than the bare script: {rows}")
    # Validated on the test file: its held-out results are on exactly the bare script's test rows.
    return elapsed, float(run.result_json["evaluation"]["validation_accuracy"]), worker, here, points


def _write_data(tmp: Path, n_train: int, n_test: int, mnist: Path | None) -> tuple[Path, Path]:
    """The training and test files, each an ``.npz`` with ``x``, ``y`` and ``split``."""
    import numpy as np
    from make_mnist_like import write_npz

    train, test = tmp / "mnist_train.npz", tmp / "mnist_test.npz"
    if mnist is None:
        write_npz(train, n_train, 0, seed=0)
        write_npz(test, 0, n_test, seed=1)
        return train, test
    with np.load(mnist) as data:
        for path, part, n in ((train, "train", n_train), (test, "test", n_test)):
            x, y = data[f"x_{part}"][:n], data[f"y_{part}"][:n].astype("int64")
            np.savez(path, x=x, y=y, split=np.array([part] * len(y)))
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 + 1,000 images, 1 epoch")
    parser.add_argument("--pairs", type=int, default=None, help="bare/Loom pairs (default 1; 2 quick)")
    parser.add_argument(
        "--mnist", type=Path, default=None, help="the real MNIST as Keras ships it (mnist.npz: x_train, ...)"
    )
    parser.add_argument("--zip", action="store_true", help="also time a ZIP of as many PNGs by class")
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # the bare script's own process
    parser.add_argument("--test", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        _bare_script(args.bare, args.test, args.epochs)
        return
    n_train, n_test, epochs, pairs = _SIZES[1 if args.quick else 0]
    pairs = args.pairs or pairs

    from make_mnist_like import write_zip

    from core.compute import create_client
    from core.config import AppConfig
    from core.data import ingest_file
    from core.store import open_store
    from core.training import WARM_UP

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="loom-bench-seed-") as tmp:
        started = time.perf_counter()
        train_npz, test_npz = _write_data(Path(tmp), n_train, n_test, args.mnist)
        made = time.perf_counter() - started
        source = f"MNIST from {args.mnist}" if args.mnist else "MNIST-like (assets/make_mnist_like.py)"
        print(f"data: {source}, {n_train:,} train + {n_test:,} test 28x28 images, made in {made:.1f} s")

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
        train = ingest_file(store, train_npz, "npz", "mnist train")
        test = ingest_file(store, test_npz, "npz", "mnist test")
        print(
            f"ingest_npz_s: {time.perf_counter() - started:.2f} ({train.n_rows:,} + {test.n_rows:,} images "
            "through core.data)"
        )
        if args.zip:
            archive = Path(tmp) / "mnist_like.zip"  # as many images as PNGs by class
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
                        bare.append(_run_bare(train_npz, test_npz, epochs))
                        wall, accuracy, cpu = bare[-1]
                        print(
                            f"pair {i + 1} bare: {wall:.1f} s, test accuracy {accuracy:.4f}, CPU {cpu:.1f} s",
                            flush=True,
                        )
                    else:
                        wall, accuracy, worker, here, points = _loom(client, store, train, test, epochs)
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
    print(
        f"setup: the article's network (693,962 parameters), {cores} cores, {n_train:,} rows trained, "
        f"{n_test:,} validated and tested, epochs {epochs}, batch {BATCH}, Adam {LEARNING_RATE}, "
        f"pairs {pairs}"
    )
    print(f"bare_wall_s: {statistics.median(w for w, _, _ in bare):.1f}")
    print(f"loom_wall_s: {statistics.median(w for w, _, _ in loom):.1f}")
    # CPU seconds: on a shared machine, far less disturbed by other processes than the wall clock.
    print(f"seed_cnn_cpu_ratio: {cpu_ratio:.3f}")
    print(f"bare_test_accuracy: {bare_accuracy:.4f}")
    print(f"loom_test_accuracy: {loom_accuracy:.4f}")
    gap = 100 * (loom_accuracy - bare_accuracy)
    print(f"accuracy_gap_points: {gap:+.2f} (goal: within {ACCURACY_GOAL_POINTS})")
    met = abs(gap) <= ACCURACY_GOAL_POINTS and ratio <= TIME_GOAL_RATIO
    print(
        f"goals: {'met' if met else 'not met'} (accuracy within {ACCURACY_GOAL_POINTS} points, "
        f"time <= {TIME_GOAL_RATIO}x)"
    )
    print(f"seed_cnn_time_ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
