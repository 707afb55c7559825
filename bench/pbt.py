"""Population-based training against random search at the same budget, and a warm branch's
Launch to first point (issue #30).

    python bench/pbt.py [--quick] [--seeds N]

Targets (issue #30): ``pbt_vs_random_best_ratio <= 0.95``, ``branch_first_point_s <= 3``. The last
line is ``pbt_vs_random_best_ratio: N``.

What is measured, and why this way (``core`` is not changed for the benchmark):

* **The task**: a generated classification table (no download): 3,000 rows, 20 features (8
  informative), 4 classes, 5% of labels flipped, made by scikit-learn's ``make_classification``
  with a fixed seed; Loom's default pipeline (its validation split) and an MLP (32, 16). The
  searched setting is Adam's learning rate, log-uniform in [1e-5, 1]: the range a person would
  give when they do not know it, where most draws are too small or too large.
* **PBT** (the study kind as built): ``start_pbt`` with 8 members x 10 epochs, exploit every 2
  epochs, quantile 0.25, perturb x0.8 / x1.2, on a 2-worker ``LocalCluster`` (processes, 1
  thread each, warmed with one training run). Its best = the lowest ``epoch/val_loss`` any
  member's segment reached.
* **Random search**: 8 independent training runs of 10 epochs (the same 80 epochs), their
  learning rates drawn log-uniform from the same range with another seed, submitted at once on
  the same cluster. Its best = the lowest ``epoch/val_loss`` any run reached.
* Per seed, ratio = PBT's best / random's best; the headline is the mean over the seeds (3).
* **branch_first_point_s**: after the populations (the workers warm), ``branch_run`` of the
  best member's last segment from its last epoch with a new learning rate; the time from the
  call to the branch's first metric in the store (polled every 20 ms); the median of 3.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import SYSTEM  # noqa: E402 - after the path is set

# (rows, members, epochs, interval, seeds) for the full run, then for --quick
_SIZES = {False: (3000, 8, 10, 2, 3), True: (600, 4, 2, 1, 1)}


def _dataset(store, rows: int, tmp: Path):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    from core.data import ingest_file

    x, y = make_classification(
        n_samples=rows, n_features=20, n_informative=8, n_classes=4, flip_y=0.05, random_state=0
    )
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"f{i}" for i in range(20)])
    frame["label"] = [f"c{v}" for v in y]
    path = tmp / "generated.csv"
    frame.to_csv(path, index=False)
    return ingest_file(store, path, "csv", "generated")


def _wait(store, run_id: str, timeout: float = 3600.0):  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import get_run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = get_run(store, run_id, viewer=SYSTEM)
        if run.status in TERMINAL:
            return run
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not end in {timeout:.0f} s")


def _best(store, run_ids: list[str]) -> float:
    from core.store import get_metrics

    values = []
    for run_id in run_ids:
        series = get_metrics(store, run_id, viewer=SYSTEM).get("epoch/val_loss")
        values += [v for v in (series.values if series else []) if math.isfinite(v)]
    return min(values) if values else math.nan


def _first_point_s(store, client, run_id: str, epoch: int) -> float:  # type: ignore[no-untyped-def]
    from core.store import get_metrics
    from core.training import branch_run

    started = time.perf_counter()
    branch = branch_run(
        store, client, run_id, epoch, {"learning_rate": 1e-3, "epochs": epoch + 1}, viewer=SYSTEM
    )
    while not any(not k.startswith("system/") for k in get_metrics(store, branch, viewer=SYSTEM)):
        time.sleep(0.02)
    took = time.perf_counter() - started
    _wait(store, branch)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 members x 2 epochs, 600 rows, 1 seed")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds to average (default 3; 1 with --quick)"
    )
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import distributed

    from core.compute import submit_run
    from core.config import AppConfig
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import Param
    from core.tuning import PBTSpec
    from core.tuning import SearchSpace
    from core.tuning import apply
    from core.tuning import get_population
    from core.tuning import start_pbt
    from core.tuning._pbt_spec import initial_values

    rows, members, epochs, interval, seeds = _SIZES[args.quick]
    seeds = args.seeds or seeds
    tmp = Path(tempfile.mkdtemp(prefix="loom-bench-pbt-"))
    store = open_store(AppConfig.for_data_dir(tmp / "data", heartbeat_seconds=1.0, heartbeat_timeout=60.0))
    ds = _dataset(store, rows, tmp)
    base = TrainSpec(
        default_pipeline(ds.id, "label", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (32, 16), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-3).to_dict(),
        epochs=epochs,
        batch_size=32,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-5, 1.0, log=True),))
    load_before = os.getloadavg()[0]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        warm = [submit_run(client, store, "train", {**base, "epochs": 1}, viewer=SYSTEM) for _ in range(2)]
        for run_id in warm:
            _wait(store, run_id)
        ratios, pbt_bests, random_bests = [], [], []
        last_population = None
        for seed in range(seeds):
            t = time.perf_counter()
            spec = PBTSpec(
                base, space.to_dict(), members=members, interval=interval, epochs=epochs, seed=seed
            )
            study_id, driver = start_pbt(client, store, spec, f"bench seed {seed}", viewer=SYSTEM)
            run = _wait(store, driver)
            if run.status != "succeeded":
                raise SystemExit(f"the population failed: {run.status_reason}")
            population = get_population(store, study_id, viewer=SYSTEM)
            pbt_best = _best(store, [s.run_id for s in population.segments])
            pbt_s = time.perf_counter() - t
            t = time.perf_counter()
            draws = initial_values(space, members, random.Random(10_000 + seed))
            runs = [
                submit_run(client, store, "train", {**apply(base, v), "epochs": epochs}, viewer=SYSTEM)
                for v in draws
            ]
            for run_id in runs:
                _wait(store, run_id)
            random_best = _best(store, runs)
            random_s = time.perf_counter() - t
            exploits = sum(e.event == "exploit" for e in population.events)
            print(
                f"seed {seed}: pbt best val_loss {pbt_best:.4f} ({len(population.segments)} segments, "
                f"{exploits} exploits, {pbt_s:.0f} s) · random best {random_best:.4f} ({random_s:.0f} s)"
            )
            pbt_bests.append(pbt_best)
            random_bests.append(random_best)
            ratios.append(pbt_best / random_best)
            last_population = population
        finals = [
            s
            for s in (last_population.segments if last_population else ())
            if s.end == epochs and s.status == "succeeded"
        ]
        best_final = min(finals, key=lambda s: _best(store, [s.run_id]))
        firsts = [_first_point_s(store, client, best_final.run_id, epochs) for _ in range(3)]
    print(
        f"setup: {rows} rows, {members} members x {epochs} epochs, exploit every {interval}, {seeds} seed(s)"
    )
    print(f"pbt_best_val_loss_mean: {statistics.mean(pbt_bests):.4f}")
    print(f"random_best_val_loss_mean: {statistics.mean(random_bests):.4f}")
    print(f"load_1min: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)")
    print("branch_first_point_runs_s: " + ", ".join(f"{f:.2f}" for f in firsts))
    print(f"branch_first_point_s: {statistics.median(firsts):.2f}")
    print(f"pbt_vs_random_best_ratio: {statistics.mean(ratios):.3f}")


if __name__ == "__main__":
    main()
