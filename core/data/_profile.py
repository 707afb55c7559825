"""Profile a dataset: its columns' kinds, missing and distinct counts, statistics, histograms,
top values, correlations, a preview and, for image datasets, a few thumbnails.

The figures are accumulated batch by batch in mergeable partials (``_sketch``): a CSV is profiled
while it is parsed, at ingest; any other source (and :func:`compute_profile`) streams its Parquet
file's row groups through the same partials, two at a time. Memory stays bounded whatever the
dataset's size. The result is plain JSON stored with the dataset, so pages show it without
touching the data; figures that are estimates carry their bounds under ``estimates``.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from core.data._sketch import HIST_BINS
from core.data._sketch import HLL_LG_K
from core.data._sketch import KMV_K
from core.data._sketch import PREVIEW_IMAGES
from core.data._sketch import PREVIEW_ROWS
from core.data._sketch import TOP
from core.data._sketch import ProfileBuilder
from core.data._sketch import _kmv_estimate
from core.data._sketch import correlated

if TYPE_CHECKING:
    from core.data._sketch import _Column
    from core.data._sketch import _Hist

__all__ = ["KINDS", "PROFILE_VERSION", "compute_profile", "failed_profile", "finish_profile", "profile_of"]

KINDS = ("numeric", "boolean", "categorical", "datetime", "text", "image")
PROFILE_VERSION = 2  # 2: profiled in one pass, estimates marked; 1 (no key): Dask over row groups
_IN_FLIGHT = 2


def _json_number(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _looks_like_dates(values: list) -> bool:
    import re

    values = [v for v in values if v is not None]
    if len(values) < 5 or not all(re.search(r"\d{4}|\d{1,2}[/.-]\d{1,2}", str(v)) for v in values):
        return False
    import pandas as pd  # only for text that may be dates (a second's import otherwise)

    parsed = pd.to_datetime(pd.Series(values, dtype="object"), errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def compute_profile(parquet: Path) -> dict[str, Any]:
    """Column kinds, missing and distinct counts, statistics, histograms, top values,
    correlations, a preview and, for image datasets, a few thumbnails.

    Args:
        parquet: The dataset's Parquet file (in the data directory).

    Returns:
        A JSON-able dict; ``tests/core/data/test_profile.py`` shows its shape.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    pf = pq.ParquetFile(parquet)
    head = next(pf.iter_batches(batch_size=500), None)
    builder = ProfileBuilder(pf.schema_arrow, head)

    def part(index: int) -> Any:
        # A ParquetFile per task: one file object is not shared between threads.
        return builder.part(pq.ParquetFile(parquet).read_row_group(index))

    with ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="loom-profile") as pool:
        pending: deque = deque()
        for index in range(pf.metadata.num_row_groups):
            pending.append(pool.submit(part, index))
            if len(pending) >= _IN_FLIGHT:
                builder.add(pending.popleft().result())
        while pending:
            builder.add(pending.popleft().result())
    return profile_of(builder)


def profile_of(builder: ProfileBuilder) -> dict[str, Any]:
    """The stored profile of everything ``builder`` merged; never raises: a profile that fails
    is stored as :func:`failed_profile`, and the dataset stays usable."""
    if builder.error is not None:
        return failed_profile(builder.schema, builder.rows, builder.error)
    try:
        return finish_profile(builder)
    except Exception as exc:  # noqa: BLE001 - the dataset stays usable, the reason is named
        return failed_profile(builder.schema, builder.rows, f"{type(exc).__name__}: {exc}")


def _display_hist(h: _Hist, lo: float, hi: float) -> dict[str, list]:
    """At most HIST_BINS bars, each a whole number of fine bins: every count stays exact."""
    w = math.ldexp(1.0, h.k)
    j0 = math.floor(math.ldexp(lo, -h.k)) - h.a
    j1 = math.floor(math.ldexp(hi, -h.k)) - h.a
    fine = h.counts[j0 : j1 + 1]
    group = math.ceil(len(fine) / HIST_BINS)
    bars = math.ceil(len(fine) / group)
    padded = np.zeros(bars * group, np.int64)
    padded[: len(fine)] = fine
    return {
        "counts": [int(c) for c in padded.reshape(bars, group).sum(axis=1)],
        "edges": [float((h.a + j0 + i * group) * w) for i in range(bars + 1)],
    }


def _quartiles(
    h: _Hist, n: int, lo: float, hi: float, integers: bool = False
) -> dict[str, tuple[float, float, float]]:
    """Each quartile (linear interpolation, as pandas) with bounds that always hold: the ranks
    either side of it are exact, so it lies between the fine bins holding those two values (for
    integers, between the whole numbers in them: often one, and then the quartile is exact)."""
    cum = np.cumsum(h.counts)
    w = math.ldexp(1.0, h.k)
    out = {}
    for label, q in (("25%", 0.25), ("50%", 0.5), ("75%", 0.75)):
        p = q * (n - 1)
        below = int(np.searchsorted(cum, math.floor(p), side="right"))
        above = int(np.searchsorted(cum, math.ceil(p), side="right"))
        low = max(lo, (h.a + below) * w)
        high = min(hi, (h.a + above + 1) * w)
        if integers:
            # A bin's right edge is not in it: its largest whole number is below the edge.
            low, high = float(math.ceil(low)), hi if high >= hi else float(math.ceil(high) - 1)
        out[label] = ((low + high) / 2, low, high)
    return out


def _distinct(col: _Column, kind: str) -> tuple[int | None, dict[str, Any] | None]:
    if kind == "image":
        return None, None
    if col.counts is not None:
        return len(col.counts), None
    if col.hll is not None:
        est = round(col.hll.get_estimate())
        low, high = math.floor(col.hll.get_lower_bound(2)), math.ceil(col.hll.get_upper_bound(2))
        how = f"HyperLogLog (Apache DataSketches, lg_k={HLL_LG_K}), 95 % bounds"
        return est, {"low": low, "high": high, "how": how}
    if col.kmv is None:
        return 0, None
    found = _kmv_estimate(col.kmv)
    if found is None:
        return len(col.kmv), None
    est, low, high = found
    return est, {"low": low, "high": high, "how": f"K-minimum values (k={KMV_K}), 95 % bounds"}


def _top(col: _Column) -> tuple[list[list[Any]], dict[str, Any] | None]:
    if col.counts:
        top = sorted(col.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP]
        return [[_jsonable(k), int(v)] for k, v in top], None
    if col.fi is None:
        return [], None
    import datasketches as ds

    # Only values surely more frequent than the sketch's error: no false positives.
    items = col.fi.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
    items = sorted(items, key=lambda it: (-it[1], str(it[0])))[:TOP]
    found = [[_jsonable(v), int(est)] for v, est, _, _ in items]
    bounds = [[int(lb), int(ub) + col.fi_slack] for _, _, lb, ub in items]
    how = "frequent items (Apache DataSketches); each count lies within its bounds"
    return found, ({"bounds": bounds, "how": how} if found else None)


def _entry(field: Any, col: _Column, kind: str, n_rows: int, head: Any) -> dict[str, Any]:
    name = field.name
    if kind == "null":
        kind = "text"
    elif kind == "text" and pa_is_string(field.type) and head is not None:
        if _looks_like_dates(head.column(name).to_pylist()[:200]):
            kind = "datetime-text"
    entry: dict[str, Any] = {
        "name": name,
        "dtype": str(field.type),
        "kind": "datetime" if kind == "datetime-text" else kind,
        "missing": int(col.nulls),
        "unique": None,
        "flags": [],
    }
    if col.error:
        entry["error"] = col.error
        return entry
    estimates: dict[str, Any] = {}
    unique, bound = _distinct(col, kind)
    entry["unique"] = unique
    if bound is not None:
        estimates["unique"] = bound
    if kind == "text":
        entry["kind"] = (
            "categorical"
            if unique is not None
            and unique <= 100
            and unique <= max(1, n_rows // 2)
            and "unique" not in estimates
            else "text"
        )
    if kind == "numeric" and col.n:
        stats: dict[str, Any] = {"mean": _json_number(col.total / col.n)}
        stats["std"] = _json_number(math.sqrt(max(0.0, col.m2) / (col.n - 1))) if col.n > 1 else None
        stats["min"] = _json_number(col.lo)
        if col.hist is not None:
            integers = pa_is_integer(field.type)
            for label, (est, low, high) in _quartiles(col.hist, col.n, col.lo, col.hi, integers).items():
                stats[label] = _json_number(est)
                if high > low:
                    estimates[label] = {
                        "low": low,
                        "high": high,
                        "how": "within one bin of the exact histogram",
                    }
            entry["hist"] = _display_hist(col.hist, col.lo, col.hi)
        stats["max"] = _json_number(col.hi)
        entry["stats"] = stats
    elif kind == "datetime" and col.lo is not None:
        entry["stats"] = {"min": str(col.lo), "max": str(col.hi)}
    if kind not in ("datetime", "image"):
        top, top_bound = _top(col)
        if top:
            entry["top"] = top
        if top_bound is not None:
            estimates["top"] = top_bound
    if estimates:
        entry["estimates"] = estimates
    if entry["missing"] == n_rows:
        entry["flags"].append("all missing")
    elif unique == 1:
        entry["flags"].append("constant")
    elif n_rows and entry["missing"] / n_rows > 0.5:
        entry["flags"].append("mostly missing")
    return entry


def pa_is_integer(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t))


def pa_is_string(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def finish_profile(builder: ProfileBuilder) -> dict[str, Any]:
    """The merged partials as the stored profile (a column that fails is named, not fatal)."""
    n_rows = builder.rows
    columns = []
    for field in builder.schema:
        col, kind = builder.columns[field.name], builder.kinds[field.name]
        try:
            columns.append(_entry(field, col, kind, n_rows, builder.head))
        except Exception as exc:  # noqa: BLE001 - one column's failure must not lose the dataset
            columns.append(_failed(field, kind, f"{type(exc).__name__}: {exc}"))
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "n_rows": n_rows,
        "n_cols": len(builder.schema),
        "columns": columns,
    }
    moments = builder.comoments
    if builder.corr_failed:
        profile["errors"] = ["Correlations could not be computed."]
    elif moments is not None and moments.n > 1:
        numeric = correlated(builder.kinds)
        sd = np.sqrt(np.clip(np.diag(moments.c), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = moments.c / np.outer(sd, sd)
        profile["correlation"] = {
            "columns": numeric,
            "matrix": [[_json_number(v) for v in row] for row in np.clip(corr, -1, 1).tolist()],
        }
    head = builder.head
    if head is not None and head.num_rows:
        rows = head.to_pylist()
        shown = [n for n in builder.schema.names if n != "image"]
        profile["preview"] = {
            "columns": shown,
            "rows": [[_cell(r[n]) for n in shown] for r in rows[:PREVIEW_ROWS]],
        }
        if "image" in builder.schema.names:
            profile["images"] = [
                {"png": base64.b64encode(r["image"]).decode(), "label": _cell(r.get("label"))}
                for r in rows[:PREVIEW_IMAGES]
                if r["image"]
            ]
    return profile


def _failed(field: Any, kind: str, error: str) -> dict[str, Any]:
    return {
        "name": field.name,
        "dtype": str(field.type),
        "kind": kind if kind in KINDS else "text",
        "missing": 0,
        "unique": None,
        "flags": [],
        "error": error,
    }


def failed_profile(schema: Any, rows: int, error: str) -> dict[str, Any]:
    """What is stored when the whole profile fails: the dataset stays usable, the reason named."""
    from core.data._sketch import work_kind

    return {
        "version": PROFILE_VERSION,
        "n_rows": rows,
        "n_cols": len(schema),
        "columns": [_failed(f, work_kind(f.type, f.name), error) for f in schema],
        "errors": [f"The profile failed: {error}"],
    }


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
