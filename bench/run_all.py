"""Run every benchmark in bench/ and print one table of their headline figures.

    python bench/run_all.py [--full] [--only NAME ...] [--markdown]

Each script runs in its own process with ``--quick`` (``--full`` drops it); its last line is its
headline, ``name: value``. The table ends with the machine it ran on. A script that fails is
listed with its exit code and its last line, and the runner exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Each headline's target, from the issue that set it.
TARGETS = {
    "training_overhead_ratio": "<= 1.02",
    "tuning_overhead_ms_per_trial": "<= 25",
    "ingest_vs_pandas_ratio": ">= 1.0 (peak RSS <= 1 GB)",
    "long_run_page_s": "<= 1",
    "experiments_page_seconds": "<= 1",
    "live_latency_p99_s": "<= 1",
    "interaction_slowest_s": "<= 1",
    "ui_first_render_ratio": "-",
    "pipeline_dask_seconds": "-",
    "digits_test_accuracy": ">= 0.97 (full run)",
    "data_parallel_efficiency": "-",
    "gpu_check_ratio": ">= 0.95",
    "seed_cnn_time_ratio": "<= 1.10, test accuracy within 0.2 points (full run; issue 25)",
    "backend_warm_first_point_s": "<= 3 (a warm run; issue 17's launch-to-first-point)",
    "cli_command_s": "<= 3 (a command that does not train; issue 27)",
}


def _machine() -> str:
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "? GiB"
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory}, Python {python}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run each script without --quick")
    parser.add_argument("--only", nargs="*", default=None, help="script names (without .py) to run")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (for the README)"
    )
    args = parser.parse_args()
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    rows = []
    failed = 0
    for script in scripts:
        command = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
        started = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)  # noqa: S603
        seconds = time.monotonic() - started
        lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "(no output)"
        name, _, value = last.partition(": ")
        if proc.returncode != 0 or not value:
            failed += 1
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append((script.stem, f"FAILED (exit {proc.returncode})", tail[:80], seconds))
        else:
            rows.append((script.stem, name, value, seconds))
        print(f"{script.stem}: {rows[-1][1]} = {rows[-1][2]} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    mode = "full" if args.full else "--quick"
    if args.markdown:
        print("| script | headline | value | target | seconds |")
        print("| --- | --- | --- | --- | --- |")
        for script, name, value, seconds in rows:
            target = TARGETS.get(name, "-")
            print(f"| `bench/{script}.py` | `{name}` | {value} | {target} | {seconds:.0f} |")
        print(f"\nRan {mode} on {_machine()}, {time.strftime('%Y-%m-%d')}.")
    else:
        width = max(len(r[1]) for r in rows) if rows else 10
        for script, name, value, seconds in rows:
            target = TARGETS.get(name, "-")
            print(f"{script:<22} {name:<{width}} {value:<14} target {target:<26} {seconds:>5.0f} s")
        print(f"machine: {_machine()} ({mode})")
    print(f"benchmarks_failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
