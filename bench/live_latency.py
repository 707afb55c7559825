"""Live latency: seconds from a metric logged on a worker (through Loom's buffered JobContext)
to it being readable by the page's query, measured by a separate reader process polling the
store every 20 ms — beside a baseline that commits every point at once, in the same run.

    python bench/live_latency.py [--quick]

Target (issue 5): p99 <= 1 s. The last line is ``live_latency_p99_s: N``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _reader(config, run_id: str, until: float, out) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from core.store import Metric
    from core.store import open_store

    store = open_store(config)
    last, latencies = 0, []
    while time.time() < until:
        with store.session() as s:
            rows = s.execute(
                select(Metric.id, Metric.value)
                .where(Metric.run_id == run_id, Metric.id > last)
                .order_by(Metric.id)
            ).all()
        now = time.time()
        for row_id, sent in rows:
            latencies.append(now - sent)
            last = row_id
        time.sleep(0.02)
    out.put(json.dumps(latencies))


def measure(config, seconds: float, buffered: bool) -> list[float]:  # type: ignore[no-untyped-def]
    from core.compute._context import inline_job
    from core.store import open_store
    from core.store import write_metrics

    store = open_store(config)
    mp = multiprocessing.get_context("spawn")
    out = mp.Queue()
    with inline_job(store, "bench", {}) as ctx:
        until = time.time() + seconds + 1.5
        reader = mp.Process(target=_reader, args=(config, ctx.run_id, until, out))
        reader.start()
        time.sleep(1.0)  # the reader is up
        step, end = 0, time.time() + seconds
        while time.time() < end:  # ~100 metrics/s, like a fast training loop
            step += 1
            if buffered:
                ctx.log_metric("loss", step, time.time())
            else:
                write_metrics(store, ctx.run_id, [("loss", step, time.time(), time.time())])
            time.sleep(0.01)
    latencies = json.loads(out.get(timeout=60))
    reader.join(10)
    return latencies


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s per side instead of 30 s")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else 30.0

    from core.config import AppConfig

    config = AppConfig.for_data_dir(Path(tempfile.mkdtemp(prefix="loom-bench-live-")))
    direct = measure(config, seconds, buffered=False)
    loom = measure(config, seconds, buffered=True)
    print(f"direct_commit_p50_s: {_pct(direct, 0.5):.3f}")
    print(f"direct_commit_p99_s: {_pct(direct, 0.99):.3f}")
    print(f"loom_buffered_p50_s: {_pct(loom, 0.5):.3f}")
    print(f"points: {len(loom)} buffered, {len(direct)} direct")
    print(f"live_latency_p99_s: {_pct(loom, 0.99):.3f}")


if __name__ == "__main__":
    main()
