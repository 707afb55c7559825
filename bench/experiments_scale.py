"""Experiments at scale: 10,000 runs x 100 metric points in a store; the time to list a filtered,
sorted page (the query and the whole Experiments page script) and to compare 10 runs (the query
and the whole Compare page script) — beside a baseline that loads every run into pandas and
filters there, as a naive tracker would, in the same run.

    python bench/experiments_scale.py [--quick]

Target (issue 8): <= 1 s each. The last line is ``experiments_page_seconds: N`` (the slower of
the list page and the compare page).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import SYSTEM  # noqa: E402 - after the path is set


def seed(store, n_runs: int, points: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Finished training runs with ``points`` epoch/val_loss points each, bulk-inserted."""
    from sqlalchemy import insert

    from core.store import Metric
    from core.store import Run
    from core.store import RunSummary
    from core.store import new_id
    from core.store import utcnow

    rng = random.Random(0)
    now = utcnow()
    ids = []
    for start in range(0, n_runs, 1000):
        runs, summaries, metrics = [], [], []
        for i in range(start, min(n_runs, start + 1000)):
            run_id = new_id()
            ids.append(run_id)
            final = rng.uniform(0.05, 2.0)
            values = [final + 1.0 / (s + 1) for s in range(points)]
            runs.append(
                {
                    "id": run_id,
                    "kind": "train",
                    "name": f"run {i} {'cnn' if i % 3 == 0 else 'mlp'}",
                    "status": ("succeeded", "failed", "stopped")[i % 3],
                    "status_reason": "",
                    "stop_requested": False,
                    "spec_json": {
                        "type": "train",
                        "epochs": points,
                        "optimizer": {"learning_rate": 10 ** -(i % 4)},
                    },
                    "spec_hash": "0" * 64,
                    "worker": "",
                    "attempts": 1,
                    "progress": 1.0,
                    "result_json": {},
                    "created_at": now - timedelta(seconds=n_runs - i),
                    "started_at": now - timedelta(seconds=n_runs - i),
                    "ended_at": now,
                }
            )
            summaries.append(
                {
                    "run_id": run_id,
                    "key": "epoch/val_loss",
                    "last": values[-1],
                    "min": min(values),
                    "max": max(values),
                    "points": points,
                }
            )
            metrics += [
                {"run_id": run_id, "key": "epoch/val_loss", "step": s + 1, "value": v, "ts": 1000.0 + s}
                for s, v in enumerate(values)
            ]
        with store.session() as s:
            s.execute(insert(Run), runs)
            s.execute(insert(RunSummary), summaries)
            s.execute(insert(Metric), metrics)
    return ids


def _median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (same data size)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            LOOM_DATA_DIR=str(Path(tmp) / "data"),
            LOOM_DASK_PROCESSES="false",
            LOOM_DASK_WORKERS="1",
        )
        import pandas as pd
        from sqlalchemy import select

        from core.config import get_config
        from core.experiments import ExperimentQuery
        from core.experiments import compare_runs
        from core.experiments import list_experiments
        from core.store import Run
        from core.store import RunSummary
        from core.store import open_store

        store = open_store(get_config())
        t0 = time.perf_counter()
        ids = seed(store, 10_000, 100)
        print(f"seeded: 10,000 runs x 100 points in {time.perf_counter() - t0:.1f} s")
        query = ExperimentQuery(
            statuses=("succeeded",), sort="metric", descending=False, metric_max=1.5, page=2
        )

        def naive() -> None:  # what a tracker without a query builder does: everything into pandas
            with store.session() as s:
                runs = pd.read_sql(select(Run.id, Run.name, Run.status, Run.created_at), s.connection())
                summary = pd.read_sql(
                    select(RunSummary.run_id, RunSummary.last).where(RunSummary.key == "epoch/val_loss"),
                    s.connection(),
                )
            frame = runs.merge(summary, left_on="id", right_on="run_id", how="left")
            frame = frame[(frame.status == "succeeded") & (frame["last"] <= 1.5)].sort_values("last")
            frame.iloc[50:100]

        list_query = _median_time(lambda: list_experiments(store, query, viewer=SYSTEM), repeats)
        naive_list = _median_time(naive, repeats)
        chosen = random.Random(1).sample(ids, 10)
        compare_query = _median_time(lambda: compare_runs(store, chosen, viewer=SYSTEM), repeats)

        from streamlit.testing.v1 import AppTest

        def page(path: str, **params: str) -> float:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            at.run()
            at.switch_page(path)
            for k, v in params.items():
                at.query_params[k] = v
            t0 = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - t0
            if at.exception:
                raise RuntimeError(at.exception[0].value)
            return elapsed

        list_params = {k: v for k, v in query.to_params().items()}
        page("pages/experiments.py", **list_params)  # warm: imports, store, cached cluster
        list_page = statistics.median(page("pages/experiments.py", **list_params) for _ in range(repeats))
        compare_params = {"runs": ",".join(chosen), "metric": "epoch/val_loss"}
        page("pages/compare.py", **compare_params)
        compare_page = statistics.median(page("pages/compare.py", **compare_params) for _ in range(repeats))

    print(f"list_query_s: {list_query:.3f} (filter, sort by metric, page 2 of 50 rows; in the database)")
    print(f"naive_pandas_list_s: {naive_list:.3f} (every run into pandas, then filter and sort)")
    print(f"list_speedup_vs_pandas: {naive_list / list_query:.1f}x")
    print(f"compare_query_s: {compare_query:.3f} (10 runs, curves, diff, table)")
    print(f"list_page_script_s: {list_page:.3f} (the Experiments page, whole script)")
    print(f"compare_page_script_s: {compare_page:.3f} (the Compare page, whole script)")
    slower = max(list_page, compare_page)
    print(f"target: <= 1 s each ({'met' if slower <= 1 else 'NOT met'})")
    print(f"experiments_page_seconds: {slower:.3f}")


if __name__ == "__main__":
    main()
