"""Training overhead of Loom's live metrics: the classic CNN on MNIST-shaped data (12,000
samples, batch 128, 3 epochs), bare ``model.fit`` vs the same fit with Loom's per-batch live
metrics written to a real store, interleaved A/B in one process, median of the pairs.

    python bench/training_overhead.py [--quick]

Target (issue 5): ratio <= 1.02. The last line is ``training_overhead_ratio: N``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 samples, 1 epoch, 3 pairs")
    args = parser.parse_args()
    n, epochs, pairs = (3000, 1, 3) if args.quick else (12_000, 3, 5)

    import keras
    import numpy as np

    from core.compute._context import inline_job
    from core.config import AppConfig
    from core.models import build_keras_model
    from core.models import cnn_template
    from core.store import open_store
    from core.training import _callback

    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)
    store = open_store(AppConfig.for_data_dir(Path(tempfile.mkdtemp(prefix="loom-bench-train-"))))

    def fit(live: bool) -> float:
        keras.utils.set_random_seed(0)
        model = build_keras_model(cnn_template(), (28, 28, 1), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        if not live:
            t = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
            return time.perf_counter() - t
        # The run record exists before training starts (as when submitted); leaving the block
        # stores every buffered metric, which is part of Loom's cost.
        with inline_job(store, "train", {}) as ctx:
            callback = _callback(ctx, -(-n // 128), epochs, 128)
            t = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=epochs, callbacks=[callback], verbose=0)
        return time.perf_counter() - t

    fit(False)  # warm-up: TensorFlow's first graph build is not what we measure
    bare, loom = [], []
    for i in range(pairs):  # interleaved, alternating which goes first
        order = (False, True) if i % 2 == 0 else (True, False)
        for live in order:
            (loom if live else bare).append(fit(live))
    ratios = [b / a for a, b in zip(bare, loom, strict=True)]
    print(f"bare_fit_median_s: {statistics.median(bare):.2f}")
    print(f"loom_fit_median_s: {statistics.median(loom):.2f}")
    print(f"pairs: {pairs}, samples: {n}, epochs: {epochs}")
    print(f"ratio_of_medians: {statistics.median(loom) / statistics.median(bare):.3f}")
    print(f"training_overhead_ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
