"""``bench/interactions.py --busy --quick`` runs and prints its figures (issue 27).

Its figures depend on the machine, so only their presence is checked, never their values. The
Optimizer Lab and Pipeline groups are the tweaks issue 27 times on a busy machine; the others
(a run's page, Train, Tune, Experiments, launch) add minutes and are timed by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import _chromium

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\d+\.\d{3}"


@pytest.mark.timeout(1500)
def test_busy_quick_prints_quiet_and_busy_figures() -> None:
    chromium = _chromium()  # skips where Chromium is not installed
    command = [sys.executable, "bench/interactions.py", "--busy", "--quick", "--only", "lab,pipeline"]
    out = subprocess.run(  # noqa: S603 - our own script
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1400,
        env={**_env(), "LOOM_CHROMIUM": chromium},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.startswith("interaction "))
    assert header.split()[1:] == [
        "quiet_median_s",
        "quiet_worst_s",
        "busy_median_s",
        "busy_worst_s",
        "script_s",
    ]
    for name in (
        "optimizer lab: change steps",
        "optimizer lab: change optimizers",
        "optimizer lab: change learning rate",
        "pipeline: add step",
        "pipeline: change parameter + Apply",
        "pipeline: delete step",
    ):
        row = next((line for line in lines if line.startswith(name + " ")), None)
        assert row is not None, f"no row for {name!r} in:\n{out.stdout[-3000:]}"
        assert len(re.findall(NUMBER, row)) >= 4, row  # quiet and busy, median and worst
    assert any(re.fullmatch(r"load_busy: median \d+\.\d, max \d+\.\d \(\d+ cores\)", line) for line in lines)
    assert re.search(rf"^interaction_slowest_s: {NUMBER}$", out.stdout, re.MULTILINE)


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    for name in ("LOOM_DATABASE_URL", "DASK_SCHEDULER_ADDRESS", "LOOM_DATA_DIR"):
        env.pop(name, None)
    return env
