"""``bench/experiments_scale.py`` and ``bench/live_latency.py`` run in the suite at a small size
and print their figures (issue 28); their values are measured by hand at full size (see the
README's bench table), not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _figures(command: list[str]) -> tuple[dict[str, str], list[str]]:
    out = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    return {
        m.group(1): m.group(2) for m in (re.match(r"([\w\[\] ]+): (\S+)", ln) for ln in lines) if m
    }, lines


@pytest.mark.slow
def test_experiments_scale_quick_prints_its_figures() -> None:
    printed, lines = _figures(
        ["bench/experiments_scale.py", "--quick", "--runs", "2000", "--trials", "30", "--points", "2"]
    )
    for name in (
        "list_query_s[local]",
        "list_query_s[signed_in]",
        "list_page_script_s[local]",
        "list_page_script_s[signed_in]",
        "compare_page_script_s",
        "experiments_page_2k_s",
        "tune_page_30_trials_s",
    ):
        assert float(printed[name]) > 0, lines
    assert "IN FULL" not in "\n".join(lines)  # the list reads runs through indexes, for both viewers
    assert lines[-1].startswith("experiments_page_seconds: ")


@pytest.mark.slow
def test_live_latency_quick_prints_its_figures_and_resources() -> None:
    printed, lines = _figures(["bench/live_latency.py", "--quick", "--viewers", "4", "--runs", "2"])
    for name in ("loaded_readable_p99_s", "viewer_tick_p99_s", "app_cpu_percent", "app_rss_mb"):
        assert float(printed[name]) > 0, lines
    assert int(printed["db_connections_max"]) >= 0
    assert lines[-1].startswith("live_latency_p99_s: ")
