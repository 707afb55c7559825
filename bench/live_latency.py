"""Live latency under load: seconds from a metric logged by a job (through Loom's buffered
JobContext) to it being seen by a page watching the run, with ``--runs`` runs streaming ~100
points a second each and ``--viewers`` pages watching them: each a thread of one app process (as
Streamlit runs sessions) doing what the Jobs page's live fragment does every ``PAGE_POLL_S``
(read the run, its new points and its events, append the points to its curves, build and
serialize their Plotly figure). Beside it, in the same run of the script, the same measurement
with one run and no viewer.

    python bench/live_latency.py [--quick] [--viewers 20] [--runs 4]

A probe process polls every 20 ms to time when a point becomes readable; the viewers report
when they saw each point at the page's own cadence (that adds up to ``PAGE_POLL_S``): the
latency a person watching the page gets. Target (issue 16): p99 <= 1 s with 4 runs and 20
viewers; issue 28: with 8 runs and 50 viewers, and which resource runs out first (the app
process's CPU, its RSS, its database connections in use). The last line is
``live_latency_p99_s: N``, the viewers' p99.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE_POLL_S = float(os.environ.get("LOOM_BENCH_PAGE_POLL_S", 0.5))  # pages/jobs.py: run_every=0.5


def _probe(config, run_ids: list[str], ready, stop, out) -> None:  # type: ignore[no-untyped-def]
    from core.store import SYSTEM
    from core.store import metric_view
    from core.store import metrics_since
    from core.store import open_store

    store = open_store(config)
    last = {r: metric_view(store, r, viewer=SYSTEM).last_id for r in run_ids}
    latencies = []
    ready.put(1)
    while not stop.is_set():
        for run_id in run_ids:
            new, last[run_id] = metrics_since(store, run_id, last[run_id], viewer=SYSTEM)
            now = time.time()
            latencies += [now - sent for sent in (new["loss"].values if "loss" in new else ())]
        time.sleep(0.02)
    out.put(json.dumps(latencies))


def _app(config, run_ids: list[str], ready, stop, out) -> None:  # type: ignore[no-untyped-def]
    """One app process with a page per entry of ``run_ids`` watching that run, each on its own
    thread (as Streamlit runs each browser session's script): what the Jobs page's live fragment
    does each tick, through the same core calls (``core.live``: the viewer's read of the run and
    its events, the process's shared feed of its curves, each chart's figure), then what
    ``st.plotly_chart`` does with the figure for each session (``_as_streamlit_sends``)."""
    from core.charts import get_run_chart_groups
    from core.live import live_figure
    from core.live import live_frame
    from core.store import SYSTEM
    from core.store import open_store

    store = open_store(config)
    seen: list[float] = []
    ticks: list[float] = []

    def page(run_id: str) -> None:
        last_seen = 0  # points of the view this page has reported (the feed's view only grows)
        while not stop.is_set():
            t = time.perf_counter()
            frame = live_frame(store, run_id, viewer=SYSTEM)
            view = frame.view
            for _prefix, keys in get_run_chart_groups(view.series).charts or [("", [])]:
                # The values are send times, not a curve; drawing them costs the same.
                _as_streamlit_sends(live_figure(frame, keys, markers=frame.markers, smoothing=0.0))
            now = time.time()
            ticks.append(time.perf_counter() - t)
            # The points new to this page: the stored count moves on as the feed appends (a
            # curve past 4,000 points is cut back, so the send times come from the tail).
            stored = view.stored.get("loss", 0)
            fresh = stored - last_seen
            if fresh > 0 and "loss" in view.series:
                seen.extend(now - sent for sent in view.series["loss"].values[-fresh:])
            last_seen = max(last_seen, stored)
            # The fragment's next run is due PAGE_POLL_S after this one began (Streamlit's timer).
            stop.wait(max(0.0, PAGE_POLL_S - (time.perf_counter() - t)))

    in_use: list[int] = []

    def monitor() -> None:  # the database connections the pages hold, twice a second
        while not stop.wait(0.5):
            in_use.append(store.engine.pool.checkedout())

    pages = [threading.Thread(target=page, args=(r,)) for r in run_ids]
    pages.append(threading.Thread(target=monitor))
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in pages:
        thread.start()
    ready.put(1)
    for thread in pages:
        thread.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pool = store.engine.pool
    out.put(
        json.dumps(
            {
                "seen": seen,
                "ticks": ticks,
                "cpu_percent": 100 * cpu / wall,
                "cpu_s": cpu,
                "wall_s": wall,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "connections_max": max(in_use, default=0),
                "pool_limit": pool.size() + max(0, pool._max_overflow) if hasattr(pool, "size") else -1,
            }
        )
    )


def _as_streamlit_sends(fig) -> str:  # type: ignore[no-untyped-def]
    """What ``st.plotly_chart(fig)`` does with a figure for each session (Streamlit 1.67,
    ``elements/plotly_chart.py``): the figure as a dict, its JSON, and the element ID hashed
    over that JSON."""
    import plotly.io
    import plotly.tools
    from streamlit.util import create_fast_hasher

    figure = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    spec = plotly.io.to_json(figure, validate=False)
    hasher = create_fast_hasher()
    hasher.update(spec.encode("utf-8"))
    hasher.hexdigest()
    return spec


def measure(
    config, seconds: float, runs: int, viewers: int
) -> tuple[list[float], list[float], list[float], dict]:  # type: ignore[no-untyped-def]
    """(probe latencies, viewer latencies, viewer tick seconds, the app process's resources)."""
    from contextlib import ExitStack

    from core.compute._context import inline_job
    from core.store import open_store

    store = open_store(config)
    mp = multiprocessing.get_context("spawn")
    out, ready, stop = mp.Queue(), mp.Queue(), mp.Event()
    with ExitStack() as stack:
        contexts = [stack.enter_context(inline_job(store, "bench", {})) for _ in range(runs)]
        ids = [c.run_id for c in contexts]
        procs = [mp.Process(target=_probe, args=(config, ids, ready, stop, out))]
        if viewers:
            watched = [ids[i % runs] for i in range(viewers)]
            procs.append(mp.Process(target=_app, args=(config, watched, ready, stop, out)))
        for p in procs:
            p.start()
        for _ in procs:  # every process is up (they start one after another on a small machine)
            ready.get(timeout=600)

        def stream(ctx) -> None:  # type: ignore[no-untyped-def]
            step, end = 0, time.time() + seconds
            while time.time() < end:  # ~100 points/s, like a fast training loop
                step += 1
                ctx.log_metric("loss", step, time.time())
                time.sleep(0.01)

        writers = [threading.Thread(target=stream, args=(c,)) for c in contexts]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
    time.sleep(PAGE_POLL_S + 1.0)  # the last flush, and a last poll of every viewer
    stop.set()
    results = [json.loads(out.get(timeout=120)) for _ in procs]
    for p in procs:
        p.join(10)
    probe = next(r for r in results if isinstance(r, list))
    pages = [r for r in results if isinstance(r, dict)]
    resources = {k: v for r in pages for k, v in r.items() if k not in ("seen", "ticks")}
    return probe, [x for r in pages for x in r["seen"]], [x for r in pages for x in r["ticks"]], resources


def _memory_mb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s per side instead of 30 s")
    parser.add_argument("--viewers", type=int, default=20, help="pages watching (default 20)")
    parser.add_argument("--runs", type=int, default=4, help="runs streaming (default 4)")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 30.0

    from core.config import AppConfig

    config = AppConfig.for_data_dir(Path(tempfile.mkdtemp(prefix="loom-bench-live-")))
    idle, _, _, _ = measure(config, seconds, runs=1, viewers=0)
    probe, seen, ticks, used = measure(config, seconds, runs=args.runs, viewers=args.viewers)
    print(f"idle_p50_s: {_pct(idle, 0.5):.3f} (1 run, no viewer)")
    print(f"idle_p99_s: {_pct(idle, 0.99):.3f}")
    print(f"loaded_p50_s: {_pct(probe, 0.5):.3f} ({args.runs} runs, {args.viewers} viewers)")
    print(f"loaded_readable_p99_s: {_pct(probe, 0.99):.3f} (readable by the page's query)")
    print(f"loaded_vs_idle_p99: {_pct(probe, 0.99) / _pct(idle, 0.99):.2f}x")
    print(f"viewer_tick_p99_s: {_pct(ticks, 0.99):.3f} (one page's live tick: read, append, draw)")
    print(f"viewer_seen_p50_s: {_pct(seen, 0.5):.3f}")
    print(f"points: {len(probe)} under load, {len(idle)} idle")
    ticks_per_s = args.viewers / PAGE_POLL_S
    print(
        f"app_cpu_percent: {used['cpu_percent']:.0f} (app process, % of a core; {ticks_per_s:g} ticks/s due)"
    )
    if ticks:  # the CPU one viewer's tick costs the app process, whatever the machine's load
        done = len(ticks) / used["wall_s"]
        print(f"app_cpu_ms_per_tick: {1000 * used['cpu_s'] / len(ticks):.2f} ({done:.0f} ticks/s done)")
    print(f"app_rss_mb: {used['rss_mb']:.0f} (peak)")
    print(f"db_connections_max: {used['connections_max']} of {used['pool_limit']} (app pool, in use at once)")
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"load_average_1m: {load:.2f} on {cores} cores")
    # What runs out first: the pool (every connection in use at once), the app process's one
    # core for Python (its GIL), the machine's cores (other processes), or memory.
    if used["connections_max"] >= used["pool_limit"] > 0:
        first = "database connections (the pool was exhausted)"
    elif used["cpu_percent"] >= 80:
        first = "CPU: the app process's one core for Python (GIL)"
    elif load > cores:
        first = f"CPU: the machine's {cores} cores (load {load:.1f}; the app got {used['cpu_percent']:.0f}%)"
    elif used["rss_mb"] > 0.8 * _memory_mb():
        first = "memory"
    else:
        first = "none of CPU, memory or connections"
    print(f"first_limit: {first}")
    print(f"live_latency_p99_s: {_pct(seen, 0.99):.3f} (as the viewers saw it, every {PAGE_POLL_S:g} s)")


if __name__ == "__main__":
    main()
