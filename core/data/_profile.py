"""Profile a stored dataset with ``dask.dataframe``: memory stays bounded whatever the size.

Runs on a Dask worker at ingest (with Dask's threaded scheduler inside the task); the result is
plain JSON stored with the dataset, so pages show it without touching the data.
"""

from __future__ import annotations

import base64
import math
import warnings
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "compute_profile"]

KINDS = ("numeric", "boolean", "categorical", "datetime", "text", "image")
_PREVIEW_ROWS = 20
_PREVIEW_IMAGES = 24
_HIST_BINS = 30
_TOP = 30
_VALUE_COUNT_MAX_UNIQUE = 1000
_EXACT_UNIQUE_ROWS = 1_000_000


def _json_number(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _kind(arrow_type, name: str, unique: int, rows: int, sample) -> str:  # type: ignore[no-untyped-def]
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
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or arrow_type == pa.null():
        if sample is not None and _looks_like_dates(sample):
            return "datetime"
        if unique <= 100 and unique <= max(1, rows // 2):
            return "categorical"
        return "text"
    return "text"


def _looks_like_dates(sample) -> bool:  # type: ignore[no-untyped-def]
    import pandas as pd

    values = sample.dropna().astype(str)
    values = values[values.str.contains(r"\d{4}|\d{1,2}[/.-]\d{1,2}", regex=True)]
    if len(values) < max(5, len(sample.dropna()) * 0.95):
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def compute_profile(parquet: Path) -> dict[str, Any]:
    """Column kinds, missing and unique counts, statistics, histograms, top values, correlations,
    a preview and, for image datasets, a few thumbnails.

    Args:
        parquet: The dataset's Parquet file (in the data directory).

    Returns:
        A JSON-able dict; see ``tests/core/data/test_profile.py`` for its shape.
    """
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(parquet)
    pf = pq.ParquetFile(parquet)
    n_rows = pf.metadata.num_rows
    first = next(pf.iter_batches(batch_size=max(_PREVIEW_ROWS, 500)), None)
    head = first.to_pandas() if first is not None else None

    # Inside a Dask task: compute with local threads, and shuffle (nunique) with tasks, not P2P,
    # which would go back to the distributed scheduler from within one of its tasks.
    with dask.config.set({"scheduler": "threads", "dataframe.shuffle.method": "tasks"}):
        ddf = dd.read_parquet(str(parquet), engine="pyarrow")
        plain = [f.name for f in schema if f.name != "image"]
        missing_t = ddf.isna().sum()
        # Exact distinct counts while they are cheap; HyperLogLog beyond that.
        exact = n_rows <= _EXACT_UNIQUE_ROWS
        unique_t = [ddf[c].nunique(dropna=True) if exact else ddf[c].nunique_approx() for c in plain]
        missing, uniques = dask.compute(missing_t, unique_t)
        unique = dict(zip(plain, (int(u) for u in uniques), strict=True))

        kinds: dict[str, str] = {}
        for f in schema:
            sample = head[f.name] if head is not None and f.name in head else None
            kinds[f.name] = _kind(f.type, f.name, unique.get(f.name, 0), n_rows, sample)

        numeric = [c for c in plain if kinds[c] == "numeric"]
        lazy: dict[str, Any] = {}
        if numeric:
            lazy["describe"] = ddf[numeric].describe()
            lazy["min"] = ddf[numeric].min()
            lazy["max"] = ddf[numeric].max()
        if len(numeric) >= 2:
            lazy["corr"] = ddf[numeric].corr()
        for c in plain:
            if unique[c] <= _VALUE_COUNT_MAX_UNIQUE and kinds[c] != "image":
                lazy[f"vc:{c}"] = ddf[c].value_counts(dropna=True).nlargest(_TOP)
        for c in plain:
            if kinds[c] == "datetime":
                t = schema.field(c).type
                if pa.types.is_timestamp(t):
                    series = ddf[c]
                elif pa.types.is_date(t):  # datetime.date objects: dask cannot reduce them
                    series = dd.to_datetime(ddf[c], errors="coerce")
                else:
                    series = dd.to_datetime(ddf[c], errors="coerce", format="mixed")
                lazy[f"dtmin:{c}"] = series.min()
                lazy[f"dtmax:{c}"] = series.max()
        with warnings.catch_warnings():
            # dask evaluates corr/describe on empty "meta" frames first, which warns harmlessly.
            warnings.simplefilter("ignore", RuntimeWarning)
            (got,) = dask.compute(lazy)

        hists: dict[str, Any] = {}
        for c in numeric:
            lo, hi = _json_number(got["min"][c]), _json_number(got["max"][c])
            if lo is None or hi is None:
                continue
            if lo == hi:
                hi = lo + 1
            arr = ddf[c].dropna().astype("float64").to_dask_array(lengths=True)
            hists[c] = da.histogram(arr, bins=_HIST_BINS, range=(lo, hi))
        hist_values = dask.compute(hists)[0] if hists else {}

    columns = []
    for f in schema:
        c = f.name
        entry: dict[str, Any] = {
            "name": c,
            "dtype": str(f.type),
            "kind": kinds[c],
            "missing": int(missing[c]),
            "unique": unique.get(c),
            "flags": [],
        }
        if c in numeric and "describe" in got:
            d = got["describe"][c]
            entry["stats"] = {
                k: _json_number(d.get(k)) for k in ("mean", "std", "min", "25%", "50%", "75%", "max")
            }
        if c in hist_values:
            counts, edges = hist_values[c]
            entry["hist"] = {"counts": [int(x) for x in counts], "edges": [float(x) for x in edges]}
        if f"vc:{c}" in got:
            vc = got[f"vc:{c}"]
            entry["top"] = [[_jsonable(k), int(v)] for k, v in vc.items()]
        if f"dtmin:{c}" in got:
            entry["stats"] = {"min": str(got[f"dtmin:{c}"]), "max": str(got[f"dtmax:{c}"])}
        if entry["missing"] == n_rows:
            entry["flags"].append("all missing")
        elif entry["unique"] == 1:
            entry["flags"].append("constant")
        elif n_rows and entry["missing"] / n_rows > 0.5:
            entry["flags"].append("mostly missing")
        columns.append(entry)

    profile: dict[str, Any] = {"n_rows": n_rows, "n_cols": len(schema), "columns": columns}
    if "corr" in got:
        corr = got["corr"]
        profile["correlation"] = {
            "columns": list(corr.columns),
            "matrix": [[_json_number(v) for v in row] for row in corr.to_numpy().tolist()],
        }
    if head is not None:
        preview = head.head(_PREVIEW_ROWS)
        profile["preview"] = {
            "columns": [c for c in preview.columns if c != "image"],
            "rows": [[_cell(v) for k, v in row.items() if k != "image"] for _, row in preview.iterrows()],
        }
        if "image" in head.columns:
            label = head["label"] if "label" in head.columns else None
            profile["images"] = [
                {
                    "png": base64.b64encode(img).decode(),
                    "label": _cell(label.iloc[i]) if label is not None else "",
                }
                for i, img in enumerate(head["image"].head(_PREVIEW_IMAGES))
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
    import pandas as pd

    if v is None or (not isinstance(v, (list, dict, bytes)) and pd.isna(v)):
        return ""
    s = str(v)
    return s if len(s) <= 200 else s[:199] + "…"
