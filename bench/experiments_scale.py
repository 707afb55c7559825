"""Experiments at scale: 100,000 runs x 20 metric points in a store; the time to list a filtered,
sorted page (the query and the whole Experiments page script) and to compare 10 runs (the query
and the whole Compare page script) — beside a baseline that loads every run into pandas and
filters there, as a naive tracker would, in the same run. Then a study of 1,000 finished trials:
the whole Tune page script with each of its charts, opened in a fresh session.

    python bench/experiments_scale.py [--quick]

``--quick``: 20,000 runs, fewer repetitions. Targets (issues 8 and 16): <= 1 s each. Prints
``experiments_page_100k_s`` and ``tune_page_1000_trials_s`` (the slowest chart); the last line is
``experiments_page_seconds: N`` (the slowest of the list, compare and Tune pages).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
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
        with store.session(SYSTEM) as s:
            s.execute(insert(Run), runs)
            s.execute(insert(RunSummary), summaries)
            s.execute(insert(Metric), metrics)
    return ids


def seed_study(store, n_trials: int) -> str:  # type: ignore[no-untyped-def]
    """A finished study of ``n_trials`` trials over four settings (most complete, some pruned
    or failed, ten epochs of intermediate values each), added to Optuna's storage directly."""
    import optuna

    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import Study
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import create_study
    from core.tuning import load_optuna_study
    from core.tuning import tunable

    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=10,
        batch_size=16,
    ).to_dict()
    params = [
        p for p in tunable(base) if p.path in ("optimizer.learning_rate", "optimizer.name", "batch_size")
    ]
    params += [p for p in tunable(base) if p.path.startswith("model.")][:1]
    space = SearchSpace(tuple(params))
    study_id = create_study(
        store, StudySpec(base, space.to_dict(), n_trials=n_trials), "1,000 trials", viewer=SYSTEM
    )
    study = load_optuna_study(store.config, study_id)
    rng = random.Random(2)
    dists = space.distributions()
    trials = []
    for number in range(n_trials):
        values = {}
        for p in params:
            if p.kind == "categorical":
                values[p.path] = rng.choice(list(p.choices))
            elif p.kind == "int":
                values[p.path] = rng.randint(int(p.low), int(p.high))
            else:
                values[p.path] = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
        loss = abs(math.log10(values["optimizer.learning_rate"]) + 2) + rng.random() * 0.3
        state = rng.choices(["COMPLETE", "PRUNED", "FAIL"], [0.9, 0.06, 0.04])[0]
        epochs = 10 if state == "COMPLETE" else rng.randint(1, 9)
        start = datetime(2026, 1, 1) + timedelta(seconds=30 * number)
        trials.append(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                value=loss if state == "COMPLETE" else None,
                params=values,
                distributions=dists,
                intermediate_values={e: loss + 1 / e for e in range(1, epochs + 1)}
                if state != "FAIL"
                else {},
                user_attrs={"phase": 1, "loom_run": "", "outcome": state.lower()},
            )
        )
        trials[-1].datetime_start, trials[-1].datetime_complete = start, start + timedelta(seconds=25)
    study.add_trials(trials)
    with store.session(SYSTEM) as s:
        s.get(Study, study_id).status = "succeeded"
    return study_id


def _median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 runs, fewer repetitions")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    n_runs, points, n_trials = (20_000 if args.quick else 100_000), 20, 1000

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
        ids = seed(store, n_runs, points)
        print(f"seeded: {n_runs:,} runs x {points} points in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        study_id = seed_study(store, n_trials)
        print(f"seeded: a study of {n_trials:,} trials in {time.perf_counter() - t0:.1f} s")
        query = ExperimentQuery(
            statuses=("succeeded",), sort="metric", descending=False, metric_max=1.5, page=2
        )

        def naive() -> None:  # what a tracker without a query builder does: everything into pandas
            with store.session(SYSTEM) as s:
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
        from core.charts import study_chart_titles

        tune, first_draw = {}, {}
        for title in study_chart_titles(["val_loss"]):
            # The first view draws the chart (and the first one reads every trial); later views
            # of the same trials, in any session, reuse the drawing.
            first_draw[title] = page("pages/tune.py", study=study_id, chart=title)
            tune[title] = statistics.median(
                page("pages/tune.py", study=study_id, chart=title) for _ in range(max(1, repeats - 2))
            )

    print(f"list_query_s: {list_query:.3f} (filter, sort by metric, page 2 of 50 rows; in the database)")
    print(f"naive_pandas_list_s: {naive_list:.3f} (every run into pandas, then filter and sort)")
    print(f"list_speedup_vs_pandas: {naive_list / list_query:.1f}x")
    print(f"compare_query_s: {compare_query:.3f} (10 runs, curves, diff, table)")
    print(f"list_page_script_s: {list_page:.3f} (the Experiments page, whole script)")
    print(f"compare_page_script_s: {compare_page:.3f} (the Compare page, whole script)")
    for title, seconds in tune.items():
        print(f"tune_page_s[{title}]: {seconds:.3f} (first draw {first_draw[title]:.3f})")
    print(f"experiments_page_{n_runs // 1000}k_s: {list_page:.3f} (the Experiments page, {n_runs:,} runs)")
    print(f"tune_page_{n_trials}_trials_s: {max(tune.values()):.3f} (the Tune page, slowest chart)")
    slower = max(list_page, compare_page, *tune.values())
    print(f"target: <= 1 s each ({'met' if slower <= 1 else 'NOT met'})")
    print(f"experiments_page_seconds: {slower:.3f}")


if __name__ == "__main__":
    main()
