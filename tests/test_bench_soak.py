"""``bench/soak.py --quick`` runs in the suite at a small size and prints its figures (issue 29).

The RSS figures depend on the machine and its load, so only their presence is checked here; the
full soak (300 sessions over 10 minutes) is measured by hand (the README's bench table).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import _chromium

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)
def test_soak_quick_prints_its_figures() -> None:
    chromium = _chromium()  # skips where Chromium is not installed
    env = {k: v for k, v in os.environ.items() if k not in ("LOOM_DATABASE_URL", "DASK_SCHEDULER_ADDRESS")}
    # Four sessions of one page over 15 s: seconds on a quiet machine, still every figure.
    command = ["bench/soak.py", "--quick", "--sessions", "4", "--minutes", "0.25", "--pages", "1"]
    out = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=850,
        env={**env, "LOOM_CHROMIUM": chromium},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    printed = {m.group(1): m.group(2) for m in (re.match(r"(\w+): (-?[\d.]+)", ln) for ln in lines) if m}
    for name in ("rss_before_mb", "rss_after_mb", "rss_peak_mb", "slowest_page_render_s"):
        assert float(printed[name]) > 0, lines
    assert re.match(r"sessions: 4 in \d+ s", next(ln for ln in lines if ln.startswith("sessions: ")))
    assert re.fullmatch(r"soak_rss_growth_mb: -?\d+\.\d", lines[-1]), lines[-1]
