"""Pipeline benchmark: a 6-step pipeline on generated data via Dask (streaming over Parquet row
groups) vs the same spec on pandas (whole frame in memory), each in its own process, same run.

    python bench/pipeline.py [--quick] [--rows N]

Prints seconds and peak RSS for each engine; the last line is ``pipeline_dask_seconds: N``.
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

SPEC = {
    "steps": [
        {"type": "split", "method": "random", "validation": 0.2, "test": 0.1, "seed": 0},
        {"type": "fill_missing", "columns": ["x2"], "strategy": "mean"},
        {"type": "clip_outliers", "columns": ["x1"], "method": "iqr", "factor": 1.5},
        {"type": "log_transform", "columns": ["x3"]},
        {"type": "standardize", "columns": ["x1", "x2"]},
        {"type": "one_hot", "columns": ["city"]},
    ]
}

_RUN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from core.pipeline import PipelineSpec, run_dask, run_pandas
engine, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
spec = PipelineSpec.chain("0" * 32, "y", json.loads(sys.argv[4])["steps"])
t0 = time.perf_counter()
if engine == "dask":
    import dask, dask.dataframe as dd
    with dask.config.set(scheduler="threads", num_workers=2):
        ddf = dd.read_parquet(src, split_row_groups=True)
        run_dask(spec, ddf).frame.to_parquet(out, write_index=False)
else:
    import pandas as pd
    run_pandas(spec, pd.read_parquet(src)).frame.to_parquet(out, index=False)
print(json.dumps({{"seconds": time.perf_counter() - t0,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    chunk = 500_000
    cities = np.array(["Lisbon", "Oslo", "Quito", "Hanoi", "Accra"])
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        x1 = rng.normal(size=n)
        table = pa.table(
            {
                "x1": x1,
                "x2": pa.array(rng.normal(size=n), mask=rng.random(n) < 0.05),
                "x3": rng.exponential(size=n),
                "city": cities[rng.integers(0, len(cities), n)],
                "y": 2 * x1 + rng.normal(size=n),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=chunk)
    if writer:
        writer.close()


def _run(engine: str, src: Path, out: Path) -> dict | None:
    proc = subprocess.run(
        [sys.executable, "-c", _RUN.format(root=str(ROOT)), engine, str(src), str(out), json.dumps(SPEC)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:  # pandas may run out of memory: report, do not crash the bench
        print(f"{engine}_error: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 million rows instead of 10 million")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="loom-bench-pipeline-") as tmp:
        src = Path(tmp) / "data.parquet"
        t = time.perf_counter()
        generate(src, rows)
        print(f"rows: {rows} (generated in {time.perf_counter() - t:.1f} s)")
        pandas = _run("pandas", src, Path(tmp) / "out-pandas.parquet")
        dask = _run("dask", src, Path(tmp) / "out-dask")
    if pandas:
        print(f"pipeline_pandas_seconds: {pandas['seconds']:.2f}")
        print(f"pipeline_pandas_peak_rss_mb: {pandas['rss_mb']:.0f}")
    if dask is None:
        raise SystemExit("the Dask engine failed")
    print(f"pipeline_dask_peak_rss_mb: {dask['rss_mb']:.0f}")
    if pandas:
        print(f"dask_vs_pandas_seconds_ratio: {dask['seconds'] / pandas['seconds']:.2f}")
    print(f"pipeline_dask_seconds: {dask['seconds']:.2f}")


if __name__ == "__main__":
    main()
