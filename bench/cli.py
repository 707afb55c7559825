"""CLI commands that do not train: seconds from ``python -m core ...`` to its exit, each the median
of a few runs in a fresh data directory, beside ``python -c pass`` measured in the same run (the
interpreter's own start, the floor on this machine at this moment).

    python bench/cli.py [--quick]

Commands: ``migrate``, ``user list``, ``ingest`` (iris), an ``evaluate`` of an unknown run (a
user's error, answered before any cluster), and ``baselines`` for iris while an app's cluster is
up (a process that starts one as the app does and records it in the data directory): the command
joins it and returns once its three runs are submitted. The last line is the headline,
``cli_command_s: N``, the slowest command's median (target: <= 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IRIS = ROOT / "assets" / "iris.csv"

# Started as the app starts its cluster: recorded in the data directory; held until stdin closes.
_APP = """
import sys
from core.compute import create_client
from core.config import get_config
client = create_client(get_config(), advertise=True)
print("ready", flush=True)
sys.stdin.read()
client.close()
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t0, done


def _median(cmd: list[str], env: dict[str, str], repeats: int, ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(repeats):
        seconds, done = _timed(cmd, env)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stdout}{done.stderr}")
        times.append(seconds)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs of each command instead of 5")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    core = [sys.executable, "-m", "core"]

    with tempfile.TemporaryDirectory(prefix="loom-bench-cli-") as tmp:
        env = {**os.environ, "LOOM_DATA_DIR": str(Path(tmp) / "data"), "LOOM_DASK_WORKERS": "1"}
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        env.pop("LOOM_DATABASE_URL", None)
        subprocess.run([*core, "migrate"], cwd=ROOT, env=env, capture_output=True, check=True)
        floor = _median([sys.executable, "-c", "pass"], env, repeats)
        figures = {
            "migrate": _median([*core, "migrate"], env, repeats),
            "user list": _median([*core, "user", "list"], env, repeats),
            "ingest iris": _median([*core, "ingest", str(IRIS)], env, repeats),
            "evaluate (unknown run)": _median(
                [*core, "evaluate", "--run", "nope", str(IRIS)], env, repeats, ok=(2,)
            ),
        }
        dataset_id = (
            subprocess.run(
                [*core, "ingest", str(IRIS)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            .stdout.split()[1]
            .rstrip(":")
        )
        app = subprocess.Popen(
            [sys.executable, "-c", _APP],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            if app.stdout is None or app.stdout.readline().strip() != "ready":
                raise SystemExit("the app's cluster did not start")
            cmd = [*core, "baselines", "--dataset", dataset_id, "--target", "species"]
            figures["baselines (app's cluster up)"] = _median(cmd, env, repeats)
        finally:
            if app.stdin is not None:
                app.stdin.close()
            app.wait(timeout=120)

    print(f"python_start_s (python -c pass, median of {repeats}): {floor:.3f}")
    for name, seconds in figures.items():
        print(f"{name}_s (median of {repeats}): {seconds:.3f}")
    print(f"cli_command_s: {max(figures.values()):.3f}")


if __name__ == "__main__":
    main()
