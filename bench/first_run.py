"""The first run of each kind on a freshly started cluster, launch to first point: TensorFlow,
scikit-learn (a random forest), JAX and PyTorch, on a process cluster started as the app starts
it (workers warm what ``LOOM_WARM_BACKENDS`` names, in the background), against the same first
runs on a cluster that warms nothing (``LOOM_WARM_BACKENDS=none``), measured in the same run.

    python bench/first_run.py [--quick]

Each first run is launched once its cluster's workers have finished warming (as a person would
after opening the app and picking data): the clock runs from ``submit_run`` to the run's first
stored training point (``batch/loss`` or, for a forest, ``epoch/loss``), polled every 20 ms.
``--quick``: TensorFlow and scikit-learn only. Target: <= 3 s each where its framework is
installed. The last line is ``first_run_slowest_s: N``, the slowest warm first run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _spec(store, ds, kind: str) -> dict:  # type: ignore[no-untyped-def]
    from core.models import EstimatorSpec
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict()
    if kind == "sklearn":
        model = EstimatorSpec("random_forest", "multiclass", {"n_estimators": 200}).to_dict()
        return TrainSpec(pipeline, model).to_dict()
    spec = TrainSpec(
        pipeline,
        mlp_template("multiclass", (16,), 0.0).to_dict(),
        OptimizerSpec("adam", 0.01).to_dict(),
        epochs=3,
        batch_size=8,
        backend=kind,
    )
    return spec.to_dict()


def _warmed(client) -> None:  # type: ignore[no-untyped-def]
    """Wait until every worker's warm-up thread has finished and its warm processes are idle."""

    def done() -> bool:
        import threading

        import psutil

        if any(t.name == "loom-warm-up" and t.is_alive() for t in threading.enumerate()):
            return False
        kids = psutil.Process().children(recursive=True)
        return sum(k.cpu_percent(interval=0.5) for k in kids) < 10

    deadline = time.monotonic() + 600
    while not all(client.run(done).values()):
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish warming in 600 s")
        time.sleep(1)


def _first_point(client, store, spec: dict, ds_id: str) -> float:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.compute import submit_run
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import get_run

    start = time.monotonic()
    run_id = submit_run(client, store, "train", spec, dataset_id=ds_id, viewer=SYSTEM)
    while not {"batch/loss", "epoch/loss"} & set(get_metrics(store, run_id, viewer=SYSTEM)):
        run = get_run(store, run_id, viewer=SYSTEM)
        if run.status in TERMINAL or time.monotonic() - start > 600:
            raise SystemExit(f"run {run_id} streamed no point: {run.status} {run.status_reason}")
        time.sleep(0.02)
    return time.monotonic() - start


def _measure(kinds: list[str], warm: str) -> dict[str, float]:
    from core.compute import create_client
    from core.config import AppConfig
    from core.data import ingest_file
    from core.store import open_store
    from core.training import WARM_UP

    os.environ["LOOM_WARM_BACKENDS"] = warm
    data = Path(tempfile.mkdtemp(prefix="loom-bench-first-run-")) / "data"
    config = AppConfig.for_data_dir(data, n_workers=1, threads_per_worker=2, warm_workers=True)
    store = open_store(config)
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    client = create_client(config, warm_up=(WARM_UP,))
    try:
        _warmed(client)
        return {kind: _first_point(client, store, _spec(store, ds, kind), ds.id) for kind in kinds}
    finally:
        client.shutdown()
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="TensorFlow and scikit-learn only")
    args = parser.parse_args()
    from importlib.util import find_spec

    kinds = ["tensorflow", "sklearn"] + [
        k for k in ("jax", "torch") if not args.quick and find_spec(k) is not None
    ]
    cold = _measure(kinds, "none")
    warm = _measure(kinds, "all")
    print(f"{'first run':<12} {'cold_s':>8} {'warm_s':>8} {'ratio':>7}")
    for kind in kinds:
        print(f"{kind:<12} {cold[kind]:8.2f} {warm[kind]:8.2f} {warm[kind] / cold[kind]:7.2f}")
    slowest = max(kinds, key=warm.__getitem__)
    print(f"slowest: {slowest} (target <= 3 s)")
    print(f"first_run_slowest_s: {warm[slowest]:.2f}")


if __name__ == "__main__":
    main()
