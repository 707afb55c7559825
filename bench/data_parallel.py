"""Data-parallel training: samples/s of one run on 1 vs 2 Dask workers with the same global batch,
the scaling efficiency, and what the platform adds per step — measured in the same run.

    python bench/data_parallel.py [--quick]

On 2 shared cores no speed-up is possible (two workers split the same two cores), so the figure
that matters here is the overhead per step; on a machine with free cores or GPUs the efficiency
is the headline. The last line is ``data_parallel_efficiency: N``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import SYSTEM  # noqa: E402 - after the path is set


def _images(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):  # a learnable signal: a bright bar whose row is the label
        images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 220
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats (about a minute)")
    args = parser.parse_args()
    rows, epochs, repeats = (4000, 2, 1) if args.quick else (12000, 3, 3)

    import numpy as np
    from distributed import Client
    from distributed import LocalCluster

    from core.compute import submit_run
    from core.config import AppConfig
    from core.data import ingest_file
    from core.models import cnn_template
    from core.optimizers import OptimizerSpec
    from core.pipeline import PipelineSpec
    from core.store import get_metrics
    from core.store import get_run
    from core.store import open_store
    from core.training import TrainSpec

    with tempfile.TemporaryDirectory() as tmp:
        config = AppConfig.for_data_dir(Path(tmp) / "data", heartbeat_timeout=60.0)
        store = open_store(config)
        x, y = _images(rows)
        npz = Path(tmp) / "digits.npz"
        np.savez(npz, x=x, y=y)
        ds = ingest_file(store, npz, "npz", "bench images")
        pipeline = PipelineSpec.chain(
            ds.id,
            "label",
            [{"type": "split", "method": "random", "validation": 0.1, "seed": 0}, {"type": "scale_images"}],
        )

        def spec(workers: int) -> dict:
            return TrainSpec(
                pipeline.to_dict(),
                cnn_template().to_dict(),
                OptimizerSpec("sgd", 0.05).to_dict(),
                epochs=epochs,
                batch_size=128,
                seed=0,
                multi_worker=True,
                workers=workers,
            ).to_dict()

        results: dict[int, list[dict]] = {1: [], 2: []}
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster:
            with Client(cluster) as client:
                for _ in range(repeats):
                    for n in (1, 2):
                        run_id = submit_run(client, store, "train", spec(n), dataset_id=ds.id, viewer=SYSTEM)
                        while (run := get_run(store, run_id, viewer=SYSTEM)).status not in (
                            "succeeded",
                            "failed",
                            "stopped",
                            "interrupted",
                        ):
                            time.sleep(0.2)
                        if run.status != "succeeded":
                            raise RuntimeError(f"{n}-worker run {run.status}: {run.status_reason}")
                        sps = get_metrics(store, run_id, viewer=SYSTEM)["epoch/samples_per_s"].values
                        results[n].append(
                            {
                                "samples_per_s": sps[-1],
                                "steps": run.result_json["steps"],
                                "wall_s": (run.ended_at - run.started_at).total_seconds(),
                            }
                        )
    one = statistics.median(r["samples_per_s"] for r in results[1])
    two = statistics.median(r["samples_per_s"] for r in results[2])
    steps = results[1][0]["steps"]
    step_ms = {n: 1000 * 128 / statistics.median(r["samples_per_s"] for r in results[n]) for n in (1, 2)}
    efficiency = two / (2 * one)
    print(f"cores: {os.cpu_count()} (each worker: 1 thread; 2 workers share them)")
    print(f"rows: {rows}, epochs: {epochs}, global batch 128, steps per run: {steps}, repeats: {repeats}")
    print(f"one_worker_samples_per_s: {one:.0f}")
    print(f"two_workers_samples_per_s: {two:.0f}")
    print(f"speedup: {two / one:.2f}")
    print(f"ms_per_step: 1 worker {step_ms[1]:.1f}, 2 workers {step_ms[2]:.1f}")
    # Two workers each compute half a batch; on shared cores the halves cannot run at once, so the
    # time beyond one worker's full step is what splitting, all-reducing and agreeing costs.
    print(f"overhead_ms_per_step: {step_ms[2] - step_ms[1]:.1f} (2 workers vs 1, same global batch)")
    print(f"data_parallel_efficiency: {efficiency:.3f}")


if __name__ == "__main__":
    main()
