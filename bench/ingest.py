"""Ingest benchmark: a generated CSV (numeric + categorical + missing) through Loom's ingest beside
the field's engines doing the same job (CSV -> Parquet), and upload -> profiled beside ingest alone.

Every side runs in its own process, so its peak RSS (``ru_maxrss``) is its own; each runs
``--repeat`` times, alternating, and the fastest run of each counts (the CPU is shared):

- ``loom_ingest``: hash, validate, parse, write Parquet (``csv_to_parquet(profile=False)``);
- ``loom_profiled``: the same with the profile made in the same pass (what an upload waits for);
- ``polars``: ``pl.scan_csv(src).sink_parquet(out)``;
- ``duckdb``: ``COPY (SELECT * FROM read_csv(src)) TO out (FORMAT parquet)``;
- ``pandas``: ``pd.read_csv(src)`` then ``df.to_parquet(out)`` (its read alone is printed too);
- anchors for the profile, on the same Parquet file: DuckDB's ``SUMMARIZE`` and Loom's
  ``compute_profile`` (the profile alone, as other formats get it).

    python bench/ingest.py [--quick] [--size-mb N] [--repeat N]

Targets (issue 28): ``ingest_vs_best_engine_ratio`` (fastest engine's time / Loom's ingest
time) >= 1.0 with Loom's peak RSS <= 1 GB; ``profiled_vs_ingest_ratio`` (upload -> profiled /
ingest alone) <= 1.3 on the 1 GB file. CPU-second ratios are printed too (on a busy machine wall
time follows them). The last line is the headline: ``profiled_vs_ingest_ratio``.
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

# Every side imports its libraries before the clock starts, and reports wall, CPU (all threads)
# and peak RSS.
_PRELUDE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
src, out = sys.argv[1], sys.argv[2]
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
def report(rows, **extra):
    print(json.dumps({{"s": t1 - t0, "cpu_s": c1 - c0, "rss_mb": peak(), "rows": rows, **extra}}))
"""

_SIDES = {
    "loom_ingest": """
from pathlib import Path
from core.data import CsvOptions
from core.data._csv import csv_to_parquet
import numpy, pyarrow.csv, pyarrow.parquet, datasketches
c0, t0 = cpu(), time.perf_counter()
result = csv_to_parquet(Path(src), Path(out), CsvOptions(), profile=False)
t1, c1 = time.perf_counter(), cpu()
report(result.rows, parquet_mb=Path(out).stat().st_size / 1e6)
""",
    "loom_profiled": """
from pathlib import Path
from core.data import CsvOptions
from core.data._csv import csv_to_parquet
import numpy, pyarrow.csv, pyarrow.parquet, datasketches
c0, t0 = cpu(), time.perf_counter()
result = csv_to_parquet(Path(src), Path(out), CsvOptions())
t1, c1 = time.perf_counter(), cpu()
report(result.rows, estimated=sorted({k for c in result.profile["columns"] for k in c.get("estimates", {})}))
""",
    "polars": """
import polars as pl
c0, t0 = cpu(), time.perf_counter()
pl.scan_csv(src).sink_parquet(out)
t1, c1 = time.perf_counter(), cpu()
report(pl.scan_parquet(out).select(pl.len()).collect().item())
""",
    "duckdb": """
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
c0, t0 = cpu(), time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{src}')) TO '{out}' (FORMAT parquet)")
t1, c1 = time.perf_counter(), cpu()
report(con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0])
""",
    "pandas": """
import pandas as pd, pyarrow.parquet
c0, t0 = cpu(), time.perf_counter()
df = pd.read_csv(src)
read_s = time.perf_counter() - t0
df.to_parquet(out)
t1, c1 = time.perf_counter(), cpu()
report(len(df), read_s=read_s)
""",
    # The profile anchors read the Parquet file Loom wrote (``src`` here).
    "duckdb_summarize": """
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
c0, t0 = cpu(), time.perf_counter()
rows = con.execute(f"SUMMARIZE SELECT * FROM read_parquet('{src}')").fetchall()
t1, c1 = time.perf_counter(), cpu()
report(len(rows))
""",
    "loom_profile_parquet": """
from pathlib import Path
from core.data._profile import compute_profile
import numpy, pyarrow.parquet, datasketches
c0, t0 = cpu(), time.perf_counter()
profile = compute_profile(Path(src))
t1, c1 = time.perf_counter(), cpu()
report(profile["n_rows"])
""",
}
_ENGINES = ("polars", "duckdb", "pandas")


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


def _run(side: str, *args: str) -> dict:
    code = _PRELUDE.format(root=str(ROOT)) + _SIDES[side]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{side} failed:\n{out.stderr[-2000:]}")
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])


def _line(name: str, runs: list[dict], key: str = "s") -> dict:
    best = min(runs, key=lambda r: r[key])
    times = ", ".join(f"{r[key]:.2f}" for r in runs)
    cpu, rss = best["cpu_s"], best["rss_mb"]
    print(f"{name}_s: {best[key]:.2f} (runs: {times}; cpu {cpu:.2f} s; peak RSS {rss:.0f} MB)")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 50 MB file, one run each, instead of 1 GB")
    parser.add_argument("--size-mb", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None, help="runs of each side; the fastest counts")
    args = parser.parse_args()
    size_mb = args.size_mb or (50 if args.quick else 1000)
    repeat = max(1, args.repeat or (1 if args.quick else 2))
    runs: dict[str, list[dict]] = {side: [] for side in _SIDES}
    with tempfile.TemporaryDirectory(prefix="loom-bench-ingest-") as tmp:
        src = Path(tmp) / "big.csv"
        t = time.perf_counter()
        size = generate(src, size_mb)
        print(f"generated_mb: {size / 1e6:.0f} ({time.perf_counter() - t:.1f} s)")
        loom_parquet = str(Path(tmp) / "loom.parquet")
        for _ in range(repeat):
            for side in ("loom_ingest", "loom_profiled", *_ENGINES):
                out = loom_parquet if side == "loom_ingest" else str(Path(tmp) / f"{side}.parquet")
                runs[side].append(_run(side, str(src), out))
                if side != "loom_ingest":
                    Path(out).unlink(missing_ok=True)
            for side in ("duckdb_summarize", "loom_profile_parquet"):
                runs[side].append(_run(side, loom_parquet, "-"))
    mb = size / 1e6
    rows = runs["loom_ingest"][0]["rows"]
    for side in ("loom_profiled", *_ENGINES):
        if runs[side][0]["rows"] != rows:
            raise SystemExit(f"row counts differ: loom {rows}, {side} {runs[side][0]['rows']}")
    print(f"rows: {rows}")
    print("# CSV -> Parquet, each in its own process (wall, fastest run)")
    ingest = _line("loom_ingest", runs["loom_ingest"])
    print(f"loom_ingest_mb_per_s: {mb / ingest['s']:.0f}")
    print(f"loom_parquet_mb: {ingest['parquet_mb']:.0f}")
    engines = {side: _line(side, runs[side]) for side in _ENGINES}
    pandas_read = min(r["read_s"] for r in runs["pandas"])
    print(f"pandas_read_csv_alone_s: {pandas_read:.2f}")
    best_engine = min(engines, key=lambda side: engines[side]["s"])
    print(f"best_engine: {best_engine}")
    print(f"ingest_peak_rss_mb: {max(r['rss_mb'] for r in runs['loom_ingest']):.0f}")
    print("# upload -> profiled: the profile made in the same pass")
    profiled = _line("loom_profiled", runs["loom_profiled"])
    print(f"loom_profiled_peak_rss_mb: {max(r['rss_mb'] for r in runs['loom_profiled']):.0f}")
    print(f"loom_profile_extra_s: {profiled['s'] - ingest['s']:.2f}")
    print(f"estimated_figures: {', '.join(profiled['estimated']) or 'none'}")
    print("# the profile alone, on the same Parquet file (anchor)")
    _line("loom_profile_of_parquet", runs["loom_profile_parquet"])
    _line("duckdb_summarize", runs["duckdb_summarize"])
    # CPU seconds (all threads): on a shared, busy machine wall time follows them.
    best_cpu = min(engines[side]["cpu_s"] for side in _ENGINES)
    print(f"ingest_vs_best_engine_cpu_ratio: {best_cpu / ingest['cpu_s']:.2f}")
    print(f"profiled_vs_ingest_cpu_ratio: {profiled['cpu_s'] / ingest['cpu_s']:.2f}")
    print(f"ingest_vs_pandas_read_ratio: {pandas_read / ingest['s']:.2f}")
    print(f"ingest_vs_best_engine_ratio: {engines[best_engine]['s'] / ingest['s']:.2f}")
    print(f"profiled_vs_ingest_ratio: {profiled['s'] / ingest['s']:.2f}")


if __name__ == "__main__":
    main()
