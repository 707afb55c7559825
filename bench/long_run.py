"""Long runs: a run with 1,000,000 per-batch points per metric (two metrics, plus per-epoch ones);
the Jobs page's first render in a fresh session (the whole page script, AppTest) and a live
update (a rerun that appends the points written since) — beside the way the page drew curves
before, in the same run: every point read (``get_metrics``) and put in the figure.

    python bench/long_run.py [--quick]

The store keeps every point (checked); only the chart is downsampled (min/max per bucket, about
2,000 points per curve). Target (issue 16): first render <= 1 s. The last line is
``long_run_page_s: N``.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = ("batch/loss", "batch/accuracy")


def seed(store, points: int) -> str:  # type: ignore[no-untyped-def]
    """A finished smoke run with ``points`` points per batch metric, written as a training loop
    writes them (``write_metrics``, a batch of rows at a time), and one epoch point per 1,000."""
    from core.store import SYSTEM
    from core.store import Run
    from core.store import create_run
    from core.store import utcnow
    from core.store import write_metrics

    run_id = create_run(store, "smoke", {"type": "smoke", "steps": points}, name="long run").id
    rng = random.Random(0)
    chunk = 10_000
    for start in range(0, points, chunk):
        rows = []
        for step in range(start, min(points, start + chunk)):
            loss = 2.0 * math.exp(-3 * step / points) + rng.random() * 0.2
            rows.append(("batch/loss", step, loss, 0.0))
            rows.append(("batch/accuracy", step, 1 - loss / 2.2, 0.0))
            if step % 1000 == 999:
                rows.append(("epoch/val_loss", step // 1000 + 1, loss * 1.1, 0.0))
        write_metrics(store, run_id, rows)
    with store.session(SYSTEM) as s:
        run = s.get(Run, run_id)
        run.status, run.status_reason, run.progress = "succeeded", "finished", 1.0
        run.started_at, run.ended_at = utcnow(), utcnow()
    return run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 points per metric, fewer repeats")
    args = parser.parse_args()
    points = 200_000 if args.quick else 1_000_000
    repeats = 3 if args.quick else 5

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            LOOM_DATA_DIR=str(Path(tmp) / "data"), LOOM_DASK_PROCESSES="false", LOOM_DASK_WORKERS="1"
        )
        from sqlalchemy import func
        from sqlalchemy import select
        from streamlit.testing.v1 import AppTest

        from core.charts import plot_metric_curves
        from core.config import get_config
        from core.store import SYSTEM
        from core.store import Metric
        from core.store import get_metrics
        from core.store import metric_view
        from core.store import open_store
        from core.store import write_metrics

        store = open_store(get_config())
        t0 = time.perf_counter()
        run_id = seed(store, points)
        print(f"seeded: {len(KEYS)} metrics x {points:,} points in {time.perf_counter() - t0:.1f} s")

        def stored() -> int:
            with store.session(SYSTEM) as s:
                return s.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) or 0

        written = stored()

        def view_s() -> float:
            t = time.perf_counter()
            view = metric_view(store, run_id, viewer=SYSTEM)
            for group in (
                {k: view.series[k] for k in KEYS},
                {"epoch/val_loss": view.series["epoch/val_loss"]},
            ):
                plot_metric_curves(group).to_json()
            return time.perf_counter() - t

        view_s()
        loom_core = statistics.median(view_s() for _ in range(repeats))
        t = time.perf_counter()
        every = get_metrics(store, run_id, viewer=SYSTEM)
        plot_metric_curves({k: every[k] for k in KEYS}).to_json()
        baseline = time.perf_counter() - t
        del every

        def open_page() -> tuple[AppTest, float]:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            at.run()
            at.switch_page("pages/jobs.py")
            at.query_params["run"] = run_id
            t = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - t
            if at.exception:
                raise RuntimeError(at.exception[0].value)
            return at, elapsed

        open_page()  # warm: imports, the store, the cached cluster
        firsts = []
        for _ in range(repeats):
            at, elapsed = open_page()
            firsts.append(elapsed)
        drawn = max(len(trace.x) for chart in at.get("plotly_chart") for trace in _figure(chart).data)
        live = []
        for i in range(repeats):  # 100 new points per metric, then the rerun that shows them
            start = points + i * 100
            write_metrics(store, run_id, [(k, s, 0.01, 0.0) for s in range(start, start + 100) for k in KEYS])
            t = time.perf_counter()
            at.run()
            live.append(time.perf_counter() - t)
            total = written + (i + 1) * 100 * len(KEYS)
            if not any(c.value.startswith(f"{total} points") for c in at.caption):
                raise RuntimeError(f"the rerun does not show the new points ({total:,} expected)")
        if stored() != written + repeats * 100 * len(KEYS):
            raise RuntimeError("the store lost points")

    page = statistics.median(firsts)
    print(f"points_stored: {written:,} (every point written is kept)")
    print(f"points_drawn_per_curve: {drawn:,}")
    print(f"view_and_figures_s: {loom_core:.3f} (blocks read, downsampled, two figures to JSON)")
    print(f"baseline_every_point_s: {baseline:.3f} (every point read and put in one figure, as before)")
    print(f"speedup_vs_every_point: {baseline / loom_core:.1f}x")
    print(f"live_update_page_s: {statistics.median(live):.3f} (a rerun appending 100 points per metric)")
    print(f"target: first render <= 1 s ({'met' if page <= 1 else 'NOT met'})")
    print(f"long_run_page_s: {page:.3f}")


def _figure(chart):  # type: ignore[no-untyped-def]
    import json

    import plotly.graph_objects as go

    return go.Figure(json.loads(chart.proto.spec))


if __name__ == "__main__":
    main()
