"""Profile a stored dataset with Dask, one task per Parquet row group: memory stays bounded by a
few row groups whatever the dataset's size, and nothing is loaded into pandas whole.

Each task reads one row group with pyarrow and returns small, mergeable partial results: counts,
sums, cross-products (for correlations), histograms on global bins, capped value counts, a
K-minimum-values sketch (distinct counts) and a uniform sample (quantiles). The partials are
merged in a tree. Runs on a Dask worker at ingest (Dask's threaded scheduler inside the task);
the result is plain JSON stored with the dataset, so pages show it without touching the data.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KINDS", "compute_profile"]

KINDS = ("numeric", "boolean", "categorical", "datetime", "text", "image")
_PREVIEW_ROWS = 20
_PREVIEW_IMAGES = 24
_HIST_BINS = 30
_TOP = 30
_VALUE_COUNT_CAP = 1000  # beyond this many distinct values, stop counting each one
_KMV = 4096  # sketch size: distinct counts within ~2 % beyond this many values
_SAMPLE = 20_000  # values kept per column for quantiles
_U64 = float(2**64)


def _json_number(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class _Partial:
    """What one row group contributes for one column."""

    rows: int = 0
    nulls: int = 0
    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    lo: Any = None
    hi: Any = None
    hist: np.ndarray | None = None
    counts: dict[Any, int] | None = field(default_factory=dict)  # None: too many distinct values
    kmv: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    sample: np.ndarray | None = None


def _hashes(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.util.hash_array(values, categorize=False)


def _kmv(hashes: np.ndarray) -> np.ndarray:
    u = np.unique(hashes)
    return u[:_KMV]


def _distinct(sketch: np.ndarray) -> int:
    if len(sketch) < _KMV:
        return int(len(sketch))
    return int(round((_KMV - 1) / (float(sketch[-1]) / _U64)))


def _column_partial(arr, kind: str, bins: np.ndarray | None, rng) -> _Partial:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.compute as pc

    part = _Partial(rows=len(arr), nulls=arr.null_count)
    valid = arr.drop_null()
    if kind == "image" or len(valid) == 0:
        part.counts = {} if kind != "image" else None
        return part
    if kind == "numeric":
        values = valid.cast(pa.float64()).to_numpy(zero_copy_only=False)
        values = values[np.isfinite(values)]
        part.count = len(values)
        if len(values):
            part.total = float(values.sum())
            part.total_sq = float((values * values).sum())
            part.lo, part.hi = float(values.min()), float(values.max())
            if bins is not None:
                part.hist = np.histogram(values, bins=bins)[0]
            take = min(len(values), _SAMPLE)
            part.sample = rng.choice(values, take, replace=False) if take < len(values) else values
        part.kmv = _kmv(_hashes(values))
    elif kind == "datetime":
        if pa.types.is_date(valid.type):  # dates cannot cast straight to integers
            valid = valid.cast(pa.timestamp("s"))
        minmax = pc.min_max(valid)
        part.lo, part.hi = minmax["min"].as_py(), minmax["max"].as_py()
        part.kmv = _kmv(_hashes(valid.cast(pa.int64()).to_numpy(zero_copy_only=False)))
        part.count = len(valid)
        return part
    else:
        part.count = len(valid)
        part.kmv = _kmv(_hashes(valid.cast(pa.string()).to_numpy(zero_copy_only=False)))
    vc = pc.value_counts(valid)
    if len(vc) > _VALUE_COUNT_CAP:
        part.counts = None
    else:
        part.counts = {
            v.as_py(): c.as_py() for v, c in zip(vc.field("values"), vc.field("counts"), strict=True)
        }
    return part


def _merge(a: _Partial, b: _Partial) -> _Partial:
    out = _Partial(rows=a.rows + b.rows, nulls=a.nulls + b.nulls, count=a.count + b.count)
    out.total, out.total_sq = a.total + b.total, a.total_sq + b.total_sq
    los = [x for x in (a.lo, b.lo) if x is not None]
    his = [x for x in (a.hi, b.hi) if x is not None]
    out.lo, out.hi = (min(los) if los else None), (max(his) if his else None)
    out.hist = a.hist if b.hist is None else b.hist if a.hist is None else a.hist + b.hist
    if a.counts is None or b.counts is None:
        out.counts = None
    else:
        merged = dict(a.counts)
        for k, v in b.counts.items():
            merged[k] = merged.get(k, 0) + v
        out.counts = merged if len(merged) <= _VALUE_COUNT_CAP else None
    out.kmv = _kmv(np.concatenate([a.kmv, b.kmv]))
    samples = [s for s in (a.sample, b.sample) if s is not None]
    if samples:
        joined = np.concatenate(samples)
        # Keep the sample uniform: each side contributes in proportion to its value count.
        out.sample = (
            joined
            if len(joined) <= _SAMPLE
            else np.random.default_rng(0).choice(joined, _SAMPLE, replace=False)
        )
    return out


@dataclass
class _Moments:
    """Sums for Pearson correlations over rows where every numeric column is present."""

    n: int
    s: np.ndarray
    xtx: np.ndarray

    def merge(self, other: _Moments) -> _Moments:
        return _Moments(self.n + other.n, self.s + other.s, self.xtx + other.xtx)


def _row_group_partial(path: str, index: int, kinds: dict[str, str], bins: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(index)
    rng = np.random.default_rng(index)
    columns = {name: _column_partial(table.column(name), kinds[name], bins.get(name), rng) for name in kinds}
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    moments = None
    if len(numeric) >= 2:
        import pyarrow as pa

        mat = np.column_stack(
            [table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in numeric]
        )
        mat = mat[np.isfinite(mat).all(axis=1)]
        moments = _Moments(len(mat), mat.sum(axis=0), mat.T @ mat)
    return columns, moments


def _merge_parts(a, b):  # type: ignore[no-untyped-def]
    cols = {name: _merge(a[0][name], b[0][name]) for name in a[0]}
    if a[1] is None or b[1] is None:
        return cols, a[1] or b[1]
    return cols, a[1].merge(b[1])


def _tree(items: list) -> Any:
    from dask import delayed

    while len(items) > 1:
        items = [
            delayed(_merge_parts)(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
            for i in range(0, len(items), 2)
        ]
    return items[0]


def _kind_of(arrow_type, name: str) -> str:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_binary(arrow_type) or pt.is_large_binary(arrow_type):
        return "image" if name == "image" else "text"
    if pt.is_boolean(arrow_type):
        return "boolean"
    if pt.is_integer(arrow_type) or pt.is_floating(arrow_type) or pt.is_decimal(arrow_type):
        return "numeric"
    if pt.is_timestamp(arrow_type) or pt.is_date(arrow_type):
        return "datetime"
    if arrow_type == pa.null():
        return "text"
    return "string"  # decided after counting: categorical or text


def _looks_like_dates(values: list) -> bool:
    import re

    import pandas as pd

    values = [v for v in values if v is not None]
    if len(values) < 5 or not all(re.search(r"\d{4}|\d{1,2}[/.-]\d{1,2}", str(v)) for v in values):
        return False
    parsed = pd.to_datetime(pd.Series(values, dtype="object"), errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _global_bins(pf, kinds: dict[str, str]) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    # Histogram bins from the Parquet statistics (min/max per row group): no pass over the data.
    bins: dict[str, np.ndarray] = {}
    meta = pf.metadata
    names = pf.schema_arrow.names
    for name, kind in kinds.items():
        if kind != "numeric":
            continue
        idx = names.index(name)
        los, his = [], []
        for rg in range(meta.num_row_groups):
            stats = meta.row_group(rg).column(idx).statistics
            if stats is None or not stats.has_min_max:
                break
            los.append(float(stats.min))
            his.append(float(stats.max))
        else:
            if los:
                lo, hi = min(los), max(his)
                if math.isfinite(lo) and math.isfinite(hi):
                    bins[name] = np.linspace(lo, hi if hi > lo else lo + 1, _HIST_BINS + 1)
    return bins


def compute_profile(parquet: Path) -> dict[str, Any]:
    """Column kinds, missing and distinct counts, statistics, histograms, top values,
    correlations, a preview and, for image datasets, a few thumbnails.

    Args:
        parquet: The dataset's Parquet file (in the data directory).

    Returns:
        A JSON-able dict; ``tests/core/data/test_ingest.py`` shows its shape.
    """
    import dask
    import pyarrow.parquet as pq
    from dask import delayed
    from dask.threaded import get as threaded_get

    pf = pq.ParquetFile(parquet)
    schema = pf.schema_arrow
    n_rows = pf.metadata.num_rows
    head_batch = next(pf.iter_batches(batch_size=500), None)
    kinds = {f.name: _kind_of(f.type, f.name) for f in schema}
    for name, kind in kinds.items():
        if (
            kind == "string"
            and head_batch is not None
            and _looks_like_dates(head_batch.column(name).to_pylist()[:200])
        ):
            kinds[name] = "datetime-text"
    work_kinds = {n: ("text" if k in ("string", "datetime-text") else k) for n, k in kinds.items()}
    bins = _global_bins(pf, work_kinds)
    parts = [
        delayed(_row_group_partial)(str(parquet), i, work_kinds, bins)
        for i in range(pf.metadata.num_row_groups)
    ]
    # The threaded scheduler itself: named ("threads"), dask imports dask.distributed (a second
    # or more) to look for a client, for every `python -m core ingest`.
    with dask.config.set(scheduler=threaded_get):
        merged_cols, moments = dask.compute(_tree(parts))[0] if parts else ({}, None)

    columns = []
    for f in schema:
        name, part = f.name, merged_cols.get(f.name, _Partial())
        kind = kinds[name]
        unique = None if kind == "image" else _distinct(part.kmv)
        if kind == "string":
            kind = (
                "categorical"
                if unique is not None and unique <= 100 and unique <= max(1, n_rows // 2)
                else "text"
            )
        elif kind == "datetime-text":
            kind = "datetime"
        entry: dict[str, Any] = {
            "name": name,
            "dtype": str(f.type),
            "kind": kind,
            "missing": int(part.nulls),
            "unique": unique,
            "flags": [],
        }
        if kind == "numeric" and part.count:
            mean = part.total / part.count
            var = max(0.0, part.total_sq / part.count - mean * mean) * part.count / max(1, part.count - 1)
            q = (
                np.quantile(part.sample, [0.25, 0.5, 0.75])
                if part.sample is not None and len(part.sample)
                else [None] * 3
            )
            entry["stats"] = {
                "mean": _json_number(mean),
                "std": _json_number(math.sqrt(var)),
                "min": _json_number(part.lo),
                "25%": _json_number(q[0]),
                "50%": _json_number(q[1]),
                "75%": _json_number(q[2]),
                "max": _json_number(part.hi),
            }
            if part.hist is not None and name in bins:
                entry["hist"] = {
                    "counts": [int(x) for x in part.hist],
                    "edges": [float(x) for x in bins[name]],
                }
        elif kind == "datetime" and part.lo is not None:
            entry["stats"] = {"min": str(part.lo), "max": str(part.hi)}
        if part.counts:
            top = sorted(part.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:_TOP]
            entry["top"] = [[_jsonable(k), int(v)] for k, v in top]
        if entry["missing"] == n_rows:
            entry["flags"].append("all missing")
        elif unique == 1:
            entry["flags"].append("constant")
        elif n_rows and entry["missing"] / n_rows > 0.5:
            entry["flags"].append("mostly missing")
        columns.append(entry)

    profile: dict[str, Any] = {"n_rows": n_rows, "n_cols": len(schema), "columns": columns}
    if moments is not None and moments.n > 1:
        numeric = [n for n, k in work_kinds.items() if k == "numeric"]
        mean = moments.s / moments.n
        cov = moments.xtx / moments.n - np.outer(mean, mean)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = cov / np.outer(sd, sd)
        profile["correlation"] = {
            "columns": numeric,
            "matrix": [[_json_number(v) for v in row] for row in np.clip(corr, -1, 1).tolist()],
        }
    if head_batch is not None:
        head = head_batch.slice(0, max(_PREVIEW_ROWS, _PREVIEW_IMAGES)).to_pylist()
        shown = [n for n in schema.names if n != "image"]
        profile["preview"] = {
            "columns": shown,
            "rows": [[_cell(r[n]) for n in shown] for r in head[:_PREVIEW_ROWS]],
        }
        if "image" in schema.names:
            profile["images"] = [
                {"png": base64.b64encode(r["image"]).decode(), "label": _cell(r.get("label"))}
                for r in head[:_PREVIEW_IMAGES]
                if r["image"]
            ]
    return profile


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    f = _json_number(v)
    if f is not None:
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    return str(v)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    s = str(v)
    return s if len(s) <= 200 else s[:199] + "…"
