"""UI cold start: seconds from `streamlit run app.py` to healthy and to the first rendered page,
and the server's RSS after visiting every page — against a one-line Streamlit app measured in
the same run on the same machine (this machine is shared and noisy: read the ratios).

    python bench/ui_cold_start.py [--quick]

Prints one line per figure; the last line is the headline, ``name: value``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# Page path -> text that shows once the page has fully rendered (Cluster: the cluster is up).
PAGES = {"jobs": "Launch the smoke job", "cluster": "Workers"}
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_tree(proc: psutil.Process) -> tuple[int, int]:
    """RSS of the server process, and of its children (the local Dask cluster)."""
    own = proc.memory_info().rss
    children = 0
    for child in proc.children(recursive=True):
        try:
            children += child.memory_info().rss
        except psutil.Error:
            pass
    return own, children


def measure(script: Path, cwd: Path, browser, title: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    port = _free_port()
    data = tempfile.mkdtemp(prefix="loom-bench-")
    env = {**os.environ, "LOOM_DATA_DIR": data, "LOOM_DASK_WORKERS": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        healthy = time.perf_counter() - t0
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
        first_render = time.perf_counter() - t0
        for path, ready in PAGES.items() if script.name == "app.py" else []:
            page.goto(f"{url}/{path}")
            page.get_by_text(ready).first.wait_for(timeout=120_000)
        page.wait_for_timeout(500)
        own, children = _rss_tree(psutil.Process(proc.pid))
        page.close()
        return {
            "healthy_s": healthy,
            "first_render_s": first_render,
            "rss_mib": own / 2**20,
            "children_rss_mib": children / 2**20,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rounds = 1 if args.quick else 3
    baseline_dir = Path(tempfile.mkdtemp(prefix="loom-bench-app-"))
    baseline = baseline_dir / "baseline.py"
    baseline.write_text('import streamlit as st\nst.title("Baseline")\n')
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "loom": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(rounds):  # interleaved, so drift in machine load hits both alike
            results["baseline"].append(measure(baseline, baseline_dir, browser, "Baseline"))
            results["loom"].append(measure(ROOT / "app.py", ROOT, browser, "Loom"))
        browser.close()
    shutil.rmtree(baseline_dir, ignore_errors=True)

    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    for name in ("healthy_s", "first_render_s", "rss_mib"):
        print(f"baseline {name}: {med['baseline'][name]:.2f}")
        print(f"loom {name}: {med['loom'][name]:.2f}")
        print(f"ratio {name}: {med['loom'][name] / med['baseline'][name]:.2f}")
    print(f"loom local-cluster workers rss_mib: {med['loom']['children_rss_mib']:.1f}")
    print(f"ui_first_render_ratio: {med['loom']['first_render_s'] / med['baseline']['first_render_s']:.2f}")


if __name__ == "__main__":
    main()
