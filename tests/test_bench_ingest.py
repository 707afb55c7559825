"""bench/ingest.py --quick runs in the suite: it prints its figures (their values are measured by
hand on a quiet machine; see the README's bench table)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = (
    "loom_ingest_s",
    "polars_s",
    "duckdb_s",
    "pandas_s",
    "pandas_read_csv_alone_s",
    "ingest_peak_rss_mb",
    "loom_profiled_s",
    "loom_profile_of_parquet_s",
    "duckdb_summarize_s",
    "ingest_vs_best_engine_ratio",
    "profiled_vs_ingest_ratio",
)


@pytest.mark.slow
def test_quick_run_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick", "--size-mb", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    printed = {m.group(1): m.group(2) for m in (re.match(r"(\w+): (\S+)", ln) for ln in lines) if m}
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, out.stdout
    assert all(float(printed[name]) > 0 for name in FIGURES)
    assert lines[-1].startswith("profiled_vs_ingest_ratio: ")
