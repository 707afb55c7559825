"""Ingest benchmark: a generated CSV (numeric + categorical + missing) through Loom's ingest
(hash, validate, parse, write Parquet: everything ``ingest_file`` does before the profile) and its
profile (Dask), beside ``pandas.read_csv`` of the same file measured in the same run. Each side runs
in its own process so its peak RSS (``ru_maxrss``) is its own; each is run ``--repeat`` times,
alternating, and the fastest run of each counts (the CPU is shared). CPU seconds are printed
too: on a busy machine wall time follows them, and Loom's parallelism buys little.

    python bench/ingest.py [--quick] [--size-mb N] [--repeat N]

Targets (issue 16): Loom's ingest at least as fast as ``pandas.read_csv`` with peak RSS <= 1 GB.
The last line is the headline: ``ingest_vs_pandas_ratio: N`` (Loom MB/s / pandas MB/s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_LOOM = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from core.data import CsvOptions
from core.data._csv import csv_to_parquet
from core.data._profile import compute_profile
import pyarrow.csv, pyarrow.parquet  # imported before timing, as pandas is on its side
src, out = Path(sys.argv[1]), Path(sys.argv[2])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0 = cpu(), time.perf_counter()
result = csv_to_parquet(src, out, CsvOptions())
t1, c1 = time.perf_counter(), cpu()
ingest_rss = peak()
profile = compute_profile(out)
t2 = time.perf_counter()
print(json.dumps({{"ingest_s": t1 - t0, "profile_s": t2 - t1, "rows": result.rows, "cpu_s": c1 - c0,
                  "rss_mb": ingest_rss, "rss_with_profile_mb": peak(),
                  "parquet_mb": out.stat().st_size / 1e6}}))
"""

_PANDAS = """
import json, resource, sys, time
import pandas as pd
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0 = cpu(), time.perf_counter()
df = pd.read_csv(sys.argv[1])
t1, c1 = time.perf_counter(), cpu()
print(json.dumps({"read_s": t1 - t0, "rows": len(df), "cpu_s": c1 - c0,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(path: Path, size_mb: int) -> int:
    """Write a CSV of about ``size_mb`` MB; returns its size in bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(0)
    chunk = 250_000
    cities = np.array(["Lisbon", "Oslo", "Quito", "Hanoi", "Accra", "Perth", "Lima", "Riga"])
    with pcsv.CSVWriter(
        path,
        pa.schema(
            [
                ("id", pa.int64()),
                ("x1", pa.float64()),
                ("x2", pa.float64()),
                ("x3", pa.float64()),
                ("count", pa.int64()),
                ("city", pa.string()),
                ("segment", pa.string()),
                ("y", pa.float64()),
            ]
        ),
    ) as writer:
        start = 0
        while path.stat().st_size < size_mb * 1_000_000:
            n = chunk
            x1 = rng.normal(size=n)
            x2 = rng.normal(size=n)
            mask = rng.random(n) < 0.05
            table = pa.table(
                {
                    "id": np.arange(start, start + n),
                    "x1": x1.round(6),
                    "x2": pa.array(x2.round(6), mask=mask),
                    "x3": rng.exponential(size=n).round(4),
                    "count": rng.integers(0, 1000, n),
                    "city": pa.array(cities[rng.integers(0, len(cities), n)], mask=rng.random(n) < 0.02),
                    "segment": rng.choice(np.array(["a", "b", "c"]), n),
                    "y": (3 * x1 - np.nan_to_num(x2) + rng.normal(size=n)).round(6),
                }
            )
            writer.write_table(table)
            start += n
    return path.stat().st_size


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 100 MB file instead of 1 GB")
    parser.add_argument("--size-mb", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the fastest counts")
    args = parser.parse_args()
    size_mb = args.size_mb or (100 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="loom-bench-ingest-") as tmp:
        src = Path(tmp) / "big.csv"
        t = time.perf_counter()
        size = generate(src, size_mb)
        print(f"generated_mb: {size / 1e6:.0f} ({time.perf_counter() - t:.1f} s)")
        looms, pandases = [], []
        for _ in range(max(1, args.repeat)):
            pandases.append(_run(_PANDAS, str(src)))
            looms.append(_run(_LOOM.format(root=str(ROOT)), str(src), str(Path(tmp) / "out.parquet")))
    loom = min(looms, key=lambda r: r["ingest_s"])
    pandas = min(pandases, key=lambda r: r["read_s"])
    mb = size / 1e6
    if loom["rows"] != pandas["rows"]:
        raise SystemExit(f"row counts differ: loom {loom['rows']}, pandas {pandas['rows']}")
    print(f"rows: {loom['rows']}")
    pandas_runs = ", ".join(f"{r['read_s']:.2f}" for r in pandases)
    print(f"pandas_read_csv_s: {pandas['read_s']:.2f} (runs: {pandas_runs})")
    print(f"pandas_read_csv_mb_per_s: {mb / pandas['read_s']:.0f}")
    print(f"pandas_cpu_s: {pandas['cpu_s']:.2f}")
    print(f"pandas_peak_rss_mb: {pandas['rss_mb']:.0f}")
    loom_runs = ", ".join(f"{r['ingest_s']:.2f}" for r in looms)
    print(f"loom_ingest_s: {loom['ingest_s']:.2f} (runs: {loom_runs})")
    print(f"loom_ingest_mb_per_s: {mb / loom['ingest_s']:.0f}")
    # CPU seconds (all threads): on a shared, busy machine wall time follows CPU time.
    print(f"loom_ingest_cpu_s: {loom['cpu_s']:.2f}")
    print(f"loom_parquet_mb: {loom['parquet_mb']:.0f}")
    print(f"loom_profile_s: {loom['profile_s']:.2f}")
    print(f"loom_peak_rss_with_profile_mb: {max(r['rss_with_profile_mb'] for r in looms):.0f}")
    print(f"ingest_peak_rss_mb: {max(r['rss_mb'] for r in looms):.0f}")
    print(f"ingest_vs_pandas_ratio: {pandas['read_s'] / loom['ingest_s']:.2f}")


if __name__ == "__main__":
    main()
