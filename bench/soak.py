"""Soak: one app process serves 300 browser sessions over 10 minutes (issue 29) while 2 runs
stream points; the server's memory before and after tells whether sessions leave memory behind.

    python bench/soak.py [--quick] [--sessions N] [--minutes M] [--concurrency C] [--pages N]

The real app (``streamlit run app.py``, as ``tests/e2e`` starts it) on a small store (20 finished
runs, a 30-trial study, iris); two smoke runs on the app's own cluster log a point every 0.1 s
for the whole soak. Headless Chromium (Debian's) then opens ``--sessions`` browser sessions
paced evenly over ``--minutes``, up to ``--concurrency`` at once, each a fresh browser context
that visits ``--pages`` pages (2) of the mix (Home, Jobs with a live run, Experiments, Data, Tune with the
study, Compare, Optimizer Lab; the first by its URL, the others from the sidebar where no query
parameter is needed), waits for each to render (its title or chart drawn, Streamlit's script
idle; the Jobs page: its live chart has points) and closes.

RSS is the Streamlit server process's own (``psutil``; its children, the Dask workers and warm
backend processes, are printed apart and not counted: they are the cluster's, not the
sessions'). ``before``: after a warm-up of a few sessions that visit every page, then a settle.
``after``: once every session has closed, ``server.disconnectedSessionTTL`` has passed (Streamlit
keeps a closed session for reconnection that long), one more session has opened and closed (the
server reaps expired sessions when it stores another) and a settle. ``--quick``: 20 sessions in
about a minute, the TTL shortened to 10 s for the run (``STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL``).
A session not started within 1.5 x ``--minutes`` (a machine too busy to keep the pace) is
skipped and counted (``sessions_skipped``).
The slowest page render is printed, then ``soak_rss_growth_mb: N`` last (target <= 100).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.experiments_scale import seed  # noqa: E402 - after the path is set
from bench.experiments_scale import seed_study  # noqa: E402

SMOKE_INTERVAL_S = 0.1
_MB = 2**20

# (name, URL path, sidebar title or "" to open by URL, what shows once it rendered)
# what: "chart" (a Plotly chart has points) or a heading's text.
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("home", "", "Home", "Loom"),
    ("jobs (live run)", "jobs?run={run}", "", "chart"),
    ("experiments", "experiments", "Experiments", "Experiments"),
    ("data", "data", "Data", "Data"),
    ("tune (study)", "tune?study={study}", "", "Tune"),
    ("compare", "compare", "Compare", "Compare"),
    ("optimizer lab", "optimizer_lab", "Optimizer Lab", "chart"),
)

# Streamlit's script state and whether the page's marker is on screen, in one call.
_STATE = """(what) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const running = !app || app.getAttribute('data-test-script-state') === 'running';
  let shown;
  if (what === 'chart') {
    shown = Array.from(document.querySelectorAll('.js-plotly-plot')).some(
      el => (el._fullData || []).some(t => t.y && t.y.length > 0));
  } else {
    shown = Array.from(document.querySelectorAll('h1')).some(h => h.textContent.trim() === what);
  }
  return [running, shown];
}"""


@dataclass
class Results:
    renders: dict[str, list[float]] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")
    errors: list[str] = field(default_factory=list)
    sessions: int = 0
    skipped: int = 0


def build_store(data: Path) -> dict[str, str]:
    """20 finished runs of 200 points, a 30-trial study (with the iris dataset)."""
    from core.config import AppConfig
    from core.sharing import local_viewer
    from core.store import open_store

    store = open_store(AppConfig.for_data_dir(data))
    seed(store, 20, 200, [(None, local_viewer().name, "")])
    study = seed_study(store, 30)
    store.engine.dispose()
    return {"study": study}


async def _rendered(page: Any, what: str, timeout: float = 90.0) -> None:
    """Until the page's marker shows and Streamlit's script has been idle 0.25 s (a chart: until
    it has points; the Jobs page's live fragment reruns every 0.5 s, so it is never idle long)."""
    from playwright.async_api import Error

    start, quiet_since = time.perf_counter(), None
    while True:
        now = time.perf_counter()
        if now - start > timeout:
            raise TimeoutError(f"the page did not render {what!r} within {timeout:g} s")
        try:
            running, shown = await page.evaluate(_STATE, what)
        except Error:  # navigating: the page's context went away mid-call
            running, shown = True, False
        if shown and (what == "chart" or not running):
            quiet_since = quiet_since or now
            if what == "chart" or now - quiet_since >= 0.25:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.05)


async def _visit(
    page: Any, url: str, spec: tuple[str, str, str, str], ids: dict[str, str], first: bool
) -> float:
    name, path, title, what = spec
    t0 = time.perf_counter()
    if first or not title:
        await page.goto(f"{url}/{path.format(**ids)}")
    else:  # from the sidebar: the same Streamlit session moves to another page
        await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    await _rendered(page, what)
    return time.perf_counter() - t0


async def _session(browser: Any, url: str, ids: dict[str, str], pages: list[int], out: Results) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = await context.new_page()
        page.set_default_timeout(90_000)
        for k, index in enumerate(pages):
            spec = PAGES[index]
            try:
                seconds = await _visit(page, url, spec, ids, first=k == 0)
            except Exception as exc:  # noqa: BLE001 - a page that fails is counted, the soak goes on
                out.errors.append(f"{spec[0]}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                continue
            out.renders.setdefault(spec[0], []).append(seconds)
            if seconds > out.slowest[0]:
                out.slowest = (seconds, spec[0])
    finally:
        await context.close()
        out.sessions += 1


def _mix(i: int) -> list[int]:
    """Session ``i``'s pages, in order: every page comes first as often as the others, and the
    Jobs page with the live run is second in every other session."""
    n = len(PAGES)
    picks = [i % n, (i + 3) % n, (i + 5) % n]
    if i % 2 == 0 and i % n != 1:
        picks[1] = 1
    return picks


def _handles(pid: int) -> str:
    """The server's open file descriptors and threads (a session left unreleased keeps its
    script thread's event loop: an epoll descriptor and a socket pair)."""
    proc = psutil.Process(pid)
    return f"{proc.num_fds()} fds, {proc.num_threads()} threads"


def _rss(pid: int) -> tuple[float, float]:
    """The server process's RSS, and its children's together (MB)."""
    proc = psutil.Process(pid)
    children = 0
    for child in proc.children(recursive=True):
        try:
            children += child.memory_info().rss
        except psutil.Error:
            pass
    return proc.memory_info().rss / _MB, children / _MB


async def soak(args: argparse.Namespace, url: str, pid: int, ids: dict[str, str]) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    chromium = os.environ.get("LOOM_CHROMIUM") or "/usr/bin/chromium"
    warm, soaked = Results(), Results()
    samples: list[tuple[float, int, float]] = []  # (seconds into the soak, sessions closed, RSS)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        # Warm-up: every page once, twice over (the app's caches, Plotly's first figures, imports).
        for k in range(args.warmup):
            order = list(range(len(PAGES)))
            await _session(browser, url, ids, order[k % 2 :] + order[: k % 2], warm)
        await asyncio.sleep(args.settle)
        before, before_children = _rss(pid)
        handles = [_handles(pid)]
        print(f"rss_before_mb: {before:.1f} (after {args.warmup} warm-up sessions and {args.settle:g} s)")

        gate = asyncio.Semaphore(args.concurrency)
        pace = args.minutes * 60 / args.sessions
        start = time.perf_counter()

        cutoff = start + 1.5 * args.minutes * 60  # on a machine too busy to keep the pace

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i * pace - time.perf_counter()))
            async with gate:
                if time.perf_counter() > cutoff:
                    soaked.skipped += 1
                    return
                await _session(browser, url, ids, _mix(i)[: args.pages], soaked)
            if soaked.sessions % max(1, args.sessions // 10) == 0:
                rss = _rss(pid)[0]
                samples.append((time.perf_counter() - start, soaked.sessions, rss))
                at, load = time.perf_counter() - start, os.getloadavg()[0]
                print(
                    f"  {soaked.sessions} sessions, {at:.0f} s: rss {rss:.1f} MB, load {load:.1f}", flush=True
                )

        loads = []

        async def watch_load() -> None:
            while True:
                loads.append(os.getloadavg()[0])
                await asyncio.sleep(5)

        watcher = asyncio.create_task(watch_load())
        await asyncio.gather(*(one(i) for i in range(args.sessions)))
        watcher.cancel()
        elapsed = time.perf_counter() - start
        peak = max((s[2] for s in samples), default=before)
        closed, _ = _rss(pid)
        # Streamlit keeps each closed session for reconnection for the TTL, and reaps expired
        # ones when it next stores one: wait it out, then open and close one more session.
        await asyncio.sleep(args.ttl + 2)
        await _session(browser, url, ids, [0], warm)
        await asyncio.sleep(args.settle)
        after, after_children = _rss(pid)
        handles.append(_handles(pid))
        await browser.close()
    return {
        "before": before,
        "after": after,
        "closed": closed,
        "peak": peak,
        "children": (before_children, after_children),
        "elapsed": elapsed,
        "results": soaked,
        "loads": loads,
        "handles": handles,
    }


def _start_runs(data: Path, seconds: float) -> tuple[Any, Any, list[str]]:
    """Two smoke runs on the app's own cluster (joined through the address it advertises in the
    data directory), a point every SMOKE_INTERVAL_S for ``seconds``."""
    from core.compute import SmokeSpec
    from core.compute import create_client
    from core.compute import submit_run
    from core.config import AppConfig
    from core.store import SYSTEM
    from core.store import open_store

    config = AppConfig.for_data_dir(data)
    store = open_store(config)
    client = create_client(config, join_running=True)
    steps = min(100_000, int(seconds / SMOKE_INTERVAL_S))
    spec = SmokeSpec(steps=steps, interval_s=SMOKE_INTERVAL_S).to_dict()
    runs = [submit_run(client, store, "smoke", dict(spec), name=f"soak {k}", viewer=SYSTEM) for k in (1, 2)]
    return store, client, runs


def _wait_streaming(store: Any, runs: list[str]) -> None:
    from core.store import SYSTEM
    from core.store import metric_view
    from tests.waiting import wait_until

    wait_until(
        lambda: all(metric_view(store, r, viewer=SYSTEM).last_id > 0 for r in runs),
        timeout=180,
        interval=0.5,
        what="both smoke runs streaming",
    )


def main() -> None:  # noqa: PLR0915 - one scripted soak, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 sessions in about a minute")
    parser.add_argument("--sessions", type=int, help="browser sessions (default 300; 20 with --quick)")
    parser.add_argument("--minutes", type=float, help="over how long (default 10; 1 with --quick)")
    parser.add_argument("--concurrency", type=int, default=4, help="sessions open at once at most (4)")
    parser.add_argument("--pages", type=int, default=2, help="pages each session visits (2)")
    args = parser.parse_args()
    args.sessions = args.sessions or (20 if args.quick else 300)
    args.minutes = args.minutes or (1.0 if args.quick else 10.0)
    args.warmup = 1 if args.quick else 2
    args.settle = 5.0 if args.quick else 15.0
    if args.quick:
        os.environ.setdefault("STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL", "10")
    args.ttl = float(os.environ.get("STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL") or _configured_ttl())

    from core.compute import stop_run
    from core.store import SYSTEM
    from tests.e2e.conftest import AppServer

    # Stopped from outside (a test's timeout): still stop the app and its cluster below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    data = Path(tempfile.mkdtemp(prefix="loom-bench-soak-")) / "data"
    t0 = time.perf_counter()
    ids = build_store(data)
    print(f"store_built_s: {time.perf_counter() - t0:.1f}", flush=True)
    server = AppServer(data, LOOM_HEARTBEAT_SECONDS="2")
    client = None
    try:
        _first_view(server.url)
        whole = args.minutes * 60 + args.ttl + 300
        store, client, runs = _start_runs(data, whole)
        _wait_streaming(store, runs)
        ids["run"] = runs[0]
        print(
            f"runs_streaming: {', '.join(r[:8] for r in runs)} (a point every {SMOKE_INTERVAL_S:g} s each)",
            flush=True,
        )
        m = asyncio.run(soak(args, server.url, server.proc.pid, ids))
        for run_id in runs:
            stop_run(store, run_id, client, viewer=SYSTEM)
    finally:
        if client is not None:
            client.close()
        server.stop()
    _report(args, m)


def _first_view(url: str) -> None:
    """The app starts its cluster at the first page that needs it: the Cluster page, opened once
    in a short browser session (a bare HTTP GET does not run the page script)."""
    asyncio.run(_open_once(url, "cluster", "Cluster"))


async def _open_once(url: str, path: str, title: str) -> None:
    from playwright.async_api import async_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    chromium = os.environ.get("LOOM_CHROMIUM") or "/usr/bin/chromium"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(f"{url}/{path}")
        await _rendered(page, title, timeout=180)
        await browser.close()


def _configured_ttl() -> float:
    """``server.disconnectedSessionTTL`` from the app's ``.streamlit/config.toml`` (120 by default)."""
    import tomllib

    path = ROOT / ".streamlit" / "config.toml"
    settings = tomllib.loads(path.read_text()) if path.exists() else {}
    return float(settings.get("server", {}).get("disconnectedSessionTTL", 120))


def _report(args: argparse.Namespace, m: dict[str, Any]) -> None:
    res: Results = m["results"]
    renders = [s for v in res.renders.values() for s in v]
    at_once = f"{args.concurrency} at most at once"
    print(f"sessions: {res.sessions} in {m['elapsed']:.0f} s ({at_once}), {len(renders)} page renders")
    if res.skipped:
        print(f"sessions_skipped: {res.skipped} (not started in 1.5 x {args.minutes:g} min: too busy)")
    for name, times in sorted(res.renders.items()):
        print(
            f"  render_s[{name}]: median {statistics.median(times):.2f}, max {max(times):.2f} ({len(times)})"
        )
    if res.errors:
        print(f"errors: {len(res.errors)}; first: {res.errors[0]}")
    else:
        print("errors: 0")
    loads = m["loads"] or [os.getloadavg()[0]]
    median, most = statistics.median(loads), max(loads)
    print(f"load_average_1m: median {median:.1f}, max {most:.1f} on {os.cpu_count()} cores")
    before, after = m["before"], m["after"]
    print(f"rss_peak_mb: {m['peak']:.1f} (sampled every {max(1, args.sessions // 10)} sessions)")
    print(f"rss_sessions_closed_mb: {m['closed']:.1f} (at once, closed sessions still kept for the TTL)")
    print(
        f"rss_after_mb: {after:.1f} (after the TTL of {args.ttl:g} s, one more session and {args.settle:g} s)"
    )
    kids = m["children"]
    print(f"children_rss_mb: {kids[0]:.1f} before, {kids[1]:.1f} after (Dask workers; not counted)")
    print(f"server_handles: {m['handles'][0]} before; {m['handles'][1]} after")
    print(f"rss_growth_ratio: {after / before:.3f} (after / before)")
    print(f"growth_per_100_sessions_mb: {(after - before) / max(1, res.sessions) * 100:.1f}")
    print(f"slowest_page_render_s: {res.slowest[0]:.2f} ({res.slowest[1]})")
    print(f"soak_rss_growth_mb: {after - before:.1f}")


if __name__ == "__main__":
    main()
