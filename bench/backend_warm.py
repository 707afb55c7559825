"""Launch to first live point of a Keras run on JAX and on PyTorch: the first run (a new training
process: imports, then the first step's compile) against the next ones (the warm process the
first run left idle), beside TensorFlow runs on the worker itself, in the same run of the script.

    python bench/backend_warm.py [--quick]

Each run is the iris MLP (one epoch, batch 8) submitted to a threads-only LocalCluster with one
worker, as the app runs it; the clock runs from ``submit_run`` to the first ``batch/loss`` point
readable in the store (polled every 20 ms). ``--quick``: one warm run per backend instead of 3
(the median is reported). The last line is ``backend_warm_first_point_s: N``, the slower
backend's warm launch-to-first-point.
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


def _first_point(client, store, spec: dict, ds_id: str) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """Seconds from launch to the run's first stored live point; the run's id."""
    from core.compute import TERMINAL
    from core.compute import submit_run
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import get_run

    start = time.monotonic()
    run_id = submit_run(client, store, "train", spec, dataset_id=ds_id, viewer=SYSTEM)
    while "batch/loss" not in get_metrics(store, run_id, viewer=SYSTEM):
        if time.monotonic() - start > 600:
            raise SystemExit(f"run {run_id} streamed no point in 600 s")
        time.sleep(0.02)
    took = time.monotonic() - start
    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.05)
    if run.status != "succeeded":
        raise SystemExit(f"run {run_id} ({spec['backend']}) ended {run.status}: {run.status_reason}")
    return took, run.result_json["environment"].get("process", "worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warm run per backend instead of 3")
    args = parser.parse_args()
    warm_runs = 1 if args.quick else 3

    import distributed

    from core.config import AppConfig
    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.training._backend_pool import close_idle

    config = AppConfig.for_data_dir(Path(tempfile.mkdtemp(prefix="loom-bench-warm-")))
    store = open_store(config)
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (16,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
        batch_size=8,
    ).to_dict()
    seconds: dict[str, tuple[float, float]] = {}
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        for backend in ("tensorflow", "jax", "torch"):
            close_idle()
            spec = {**base, "backend": backend}
            first, how = _first_point(client, store, spec, ds.id)
            warm = []
            for _ in range(warm_runs):
                took, how_warm = _first_point(client, store, spec, ds.id)
                if backend != "tensorflow" and (how, how_warm) != ("new", "warm"):
                    raise SystemExit(f"{backend}: expected a new then a warm process, got {how}, {how_warm}")
                warm.append(took)
            seconds[backend] = (first, statistics.median(warm))
            print(f"{backend}_first_s: {first:.2f} ({how} process)", flush=True)
            print(f"{backend}_warm_s: {seconds[backend][1]:.2f} (median of {warm_runs})", flush=True)
        close_idle()
    tf_warm = seconds["tensorflow"][1]
    for backend in ("jax", "torch"):
        first, warm = seconds[backend]
        print(
            f"{backend}_vs_tensorflow: first {first / tf_warm:.1f}x, warm {warm / tf_warm:.1f}x "
            f"(warm saves {first - warm:.1f} s)"
        )
    print(f"backend_warm_first_point_s: {max(seconds['jax'][1], seconds['torch'][1]):.2f}")


if __name__ == "__main__":
    main()
