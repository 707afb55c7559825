"""A dataset's profile computed while its Arrow batches stream past, in mergeable pieces.

Each batch gives one small partial result per column (:func:`profile_part`, run wherever the batch
is held: on the CSV parser threads at ingest, or over a Parquet file's row groups); partials merge
in any order (:meth:`ProfileBuilder.add`), so nothing is read twice and memory stays bounded.

Exact, and tested equal to pandas on the same data: rows, missing values (nulls, and NaN in
floating columns), min, max, mean (the sum of exact batch sums), the standard deviation (Chan's
merge of batch moments), histograms (counts on a grid of power-of-two bin widths, coarsened by
merging pairs of bins when the range grows: no count ever moves between bins), value counts and
distinct counts while a column has at most :data:`CAP` distinct values, and Pearson correlations
(streamed co-moments over the rows where every numeric column is present).

Estimated, and said so in the profile (``estimates``: each figure's bounds and how it was made):

- quartiles: the rank is exact, the value is known to lie in one histogram bin (a bound that
  always holds). Apache DataSketches' KLL sketch costs 30 ns a value, a third of the ingest's own
  CPU time on ``bench/ingest.py``'s file, for a rank-only bound;
- distinct counts beyond :data:`CAP`: numbers and dates by a K-minimum-values sketch over 64-bit
  hashes, vectorised with NumPy (the DataSketches Python sketches take one value a call: 100 ns a
  value); text by DataSketches' HLL sketch, fed each batch's distinct values once;
- most frequent text values beyond :data:`CAP` distinct: DataSketches' frequent-items sketch, fed
  each batch's value counts as weights (at most :data:`FEED` per batch; what is left out of a
  batch is added to every item's upper bound, so the bounds still hold).

A column whose profile fails keeps its name and the reason (``error``); the others go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

__all__ = ["CAP", "CORR_MAX", "FEED", "KMV_K", "ProfileBuilder", "correlated", "profile_part", "work_kind"]

FINE = 1024  # fine histogram bins; the profile shows at most HIST_BINS groups of them
HIST_BINS = 30
TOP = 30
CAP = 1000  # values counted exactly up to this many distinct ones per column
FEED = 1024  # per batch, at most this many distinct text values go into the frequent-items sketch
KMV_K = 4096  # distinct-count sketch size: relative standard error 1/sqrt(K-2), about 1.6 %
HLL_LG_K = 12
FI_LG_MAP = 10
PREVIEW_ROWS = 20
PREVIEW_IMAGES = 24
CORR_MAX = 64
_PREFIX = 2 * CAP  # a batch's first values, counted first: more than CAP distinct there ends counting
_U64 = float(2**64)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def work_kind(arrow_type: Any, name: str) -> str:
    """How a column is accumulated: numeric, boolean, datetime, text or image."""
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
        return "null"
    return "text"


def _hash(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over the 64 bits of each value: uniform enough for a KMV sketch."""
    h = values.view(np.uint64) ^ (values.view(np.uint64) >> _S30)
    h *= _C1
    h ^= h >> _S27
    h *= _C2
    h ^= h >> _S31
    return h


@dataclass
class _Hist:
    """Counts of ``floor(x / 2**k) - a`` for bins of width ``2**k`` aligned on 0."""

    k: int
    a: int
    counts: np.ndarray

    def coarsen(self, k: int) -> _Hist:
        if k == self.k:
            return self
        d = k - self.k
        a = self.a >> d
        idx = ((self.a + np.arange(len(self.counts))) >> d) - a
        return _Hist(k, a, np.bincount(idx, weights=self.counts).astype(np.int64))

    def merge(self, other: _Hist) -> _Hist:
        k = max(self.k, other.k)
        while True:
            x, y = self.coarsen(k), other.coarsen(k)
            lo = min(x.a, y.a)
            hi = max(x.a + len(x.counts), y.a + len(y.counts))
            if hi - lo <= FINE:
                break
            k += 1
        out = np.zeros(hi - lo, np.int64)
        out[x.a - lo : x.a - lo + len(x.counts)] += x.counts
        out[y.a - lo : y.a - lo + len(y.counts)] += y.counts
        return _Hist(k, lo, out)


def _grid(lo: float, hi: float, k_floor: int | None) -> int:
    span = hi / 2 - lo / 2  # halved: never overflows
    if span > 0:
        k = math.ceil(math.log2(span / (FINE - 2))) + 1
    else:
        k = math.frexp(abs(lo) or 1.0)[1] - 12
    if k_floor is not None:
        k = max(k, k_floor)
    while math.floor(math.ldexp(hi, -k)) - math.floor(math.ldexp(lo, -k)) >= FINE:
        k += 1
    return k


def _histogram(x: np.ndarray, lo: float, hi: float, k_floor: int | None) -> _Hist:
    k = _grid(lo, hi, k_floor)
    a = math.floor(math.ldexp(lo, -k))
    s = x * math.ldexp(1.0, -k)  # exact: a power of two
    np.floor(s, out=s)
    s -= a
    counts = np.bincount(s.astype(np.intp), minlength=1)
    if len(counts) > FINE:  # pragma: no cover - only where rounding at 2**53 could misplace a value
        counts = np.concatenate([counts[: FINE - 1], [counts[FINE - 1 :].sum()]])
    return _Hist(k, a, counts.astype(np.int64, copy=False))


@dataclass
class _Column:
    """One column's partial profile: a batch's, or the merge of many."""

    kind: str
    rows: int = 0
    nulls: int = 0  # nulls, plus NaN in floating columns
    n: int = 0  # finite numbers
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    lo: Any = None
    hi: Any = None
    hist: _Hist | None = None
    counts: dict[Any, int] | None = field(default_factory=dict)  # None: beyond CAP distinct
    kmv: np.ndarray | None = None  # sorted distinct hashes, the K smallest
    hll: Any = None
    fi: Any = None
    fi_slack: int = 0
    error: str | None = None

    # --- merging -------------------------------------------------------------------------
    def merge(self, o: _Column) -> None:
        if self.error or o.error:
            self.error = self.error or o.error
            return
        n = self.n + o.n
        if o.n:
            delta = o.mean - self.mean
            self.m2 = self.m2 + o.m2 + delta * delta * self.n * o.n / n
            self.mean = self.mean + delta * o.n / n
            self.total = math.fsum((self.total, o.total))
        self.rows, self.nulls, self.n = self.rows + o.rows, self.nulls + o.nulls, n
        if o.lo is not None:
            self.lo = o.lo if self.lo is None else min(self.lo, o.lo)
            self.hi = o.hi if self.hi is None else max(self.hi, o.hi)
        if o.hist is not None:
            self.hist = o.hist if self.hist is None else self.hist.merge(o.hist)
        if self.counts is not None and o.counts is not None:
            merged = self.counts
            for key, c in o.counts.items():
                merged[key] = merged.get(key, 0) + c
            if len(merged) > CAP and self.kind != "boolean":
                self._to_sketch()
            return
        if self.counts is not None:
            self._to_sketch()
        other = o
        if o.counts is not None:  # a batch counted before this column went past CAP
            other = _Column(o.kind, counts=dict(o.counts))
            other._to_sketch()
        if self.kind == "text":
            self.hll.update(other.hll.get_result())
            self.fi.merge(other.fi)
            self.fi_slack += other.fi_slack
        else:
            self.kmv = _kmv_union(self.kmv, other.kmv)

    def _to_sketch(self) -> None:
        counts, self.counts = self.counts or {}, None
        if self.kind == "text":
            import datasketches as ds

            hll = ds.hll_union(HLL_LG_K)
            fi = ds.frequent_strings_sketch(FI_LG_MAP)
            for key, c in counts.items():
                hll.update(key)
                fi.update(key, c)
            self.hll, self.fi = hll, fi
        else:
            keys = np.array(list(counts), dtype=self._dtype(counts))
            self.kmv = _kmv_union(self.kmv, _kmv_of(keys))

    def _dtype(self, counts: dict[Any, int]) -> Any:
        return np.int64 if all(isinstance(k, int) for k in counts) else np.float64


def _kmv_of(values: np.ndarray, theta: int | None = None) -> np.ndarray:
    if values.dtype == np.float64:
        values = values + 0.0  # -0.0 and 0.0 are one value
    h = _hash(values.astype(values.dtype.newbyteorder("="), copy=False))
    if theta is not None:
        h = h[h < np.uint64(theta)]
    return _smallest(h)


def _smallest(h: np.ndarray) -> np.ndarray:
    """The KMV_K smallest distinct values, sorted. (np.unique hashes: 30 times slower here.)"""
    if len(h) > 2 * KMV_K:
        # The KMV_K smallest distinct values are among the 2 KMV_K + 1 smallest, if those hold
        # that many distinct values.
        found = _distinct_sorted(np.partition(h, 2 * KMV_K)[: 2 * KMV_K + 1])
        if len(found) >= KMV_K:
            return found[:KMV_K]
    return _distinct_sorted(h)[:KMV_K]


def _distinct_sorted(h: np.ndarray) -> np.ndarray:
    h = np.sort(h)
    if len(h) < 2:
        return h
    keep = np.empty(len(h), bool)
    keep[0] = True
    np.not_equal(h[1:], h[:-1], out=keep[1:])
    return h[keep]


def _kmv_union(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    if a is None or b is None:
        return a if b is None else b  # type: ignore[return-value]
    return _smallest(np.concatenate([a, b]))


def _kmv_estimate(kmv: np.ndarray) -> tuple[int, int, int] | None:
    """(estimate, low, high) from a full sketch (95 %: two relative standard errors); None when
    the sketch holds every distinct hash (the count is exact)."""
    if len(kmv) < KMV_K:
        return None
    est = (KMV_K - 1) / (float(kmv[-1]) / _U64)
    err = 2 * est / math.sqrt(KMV_K - 2)
    return round(est), max(KMV_K, math.floor(est - err)), math.ceil(est + err)


# --- one batch ---------------------------------------------------------------------------------


@dataclass
class _Hints:
    """What the merged profile tells the next batches (read without a lock: a stale hint only
    costs work that the merge then discards)."""

    counting: bool = True
    theta: int | None = None
    k: int | None = None


def _numbers(arr: Any) -> np.ndarray:
    """Integers (signed, fitting int64) as int64 without their nulls; other numbers as float64
    with NaN where null."""
    import pyarrow as pa

    t = arr.type
    if pa.types.is_integer(t) and t != pa.uint64():
        valid = arr.drop_null() if arr.null_count else arr
        return valid.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return _floats(arr)


def _floats(arr: Any) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_floating(arr.type):
        return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return arr.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _numeric_part(col: _Column, arr: Any, hints: _Hints) -> np.ndarray | None:
    values = _numbers(arr)
    if values.dtype == np.float64:
        missing = np.isnan(values)
        n_missing = int(np.count_nonzero(missing))
        if n_missing:
            values = values[~missing]
        col.nulls = n_missing
    ints = values.dtype == np.int64
    x = values.astype(np.float64, copy=False)
    if len(x):
        lo, hi = float(x.min()), float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            x = x[np.isfinite(x)]
            lo, hi = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
        if len(x):
            col.n = len(x)
            col.total = float(x.sum())
            col.mean = col.total / col.n
            d = x - col.mean
            d *= d
            col.m2 = float(d.sum())
            col.lo, col.hi = lo, hi
            col.hist = _histogram(x, lo, hi, hints.k)
    col.counts = _value_counts(values, ints) if hints.counting and len(values) else None
    if col.counts is None and len(values):
        col.kmv = _kmv_of(values, hints.theta)
    elif not len(values):
        col.counts = {}
    return x if col.n == len(arr) else None


def _value_counts(values: np.ndarray, ints: bool) -> dict[Any, int] | None:
    if ints:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 4 * CAP:
            counts = np.bincount(values - lo)
            nz = np.flatnonzero(counts)
            return None if len(nz) > CAP else {int(i) + lo: int(counts[i]) for i in nz}
    import pyarrow as pa
    import pyarrow.compute as pc

    head = pc.value_counts(pa.array(values[:_PREFIX]))
    if len(head) > CAP:
        return None
    vc = pc.value_counts(pa.array(values))
    if len(vc) > CAP:
        return None
    keys = vc.field("values").to_pylist()
    if not ints:
        keys = [float(k) for k in keys]
    return dict(zip(keys, vc.field("counts").to_pylist(), strict=True))


def _text_part(col: _Column, arr: Any, hints: _Hints) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.string())
    if hints.counting:
        head = pc.value_counts(arr.slice(0, _PREFIX))
        vc = pc.value_counts(arr) if len(head) <= CAP else None
    else:
        vc = None
    if vc is not None:
        vc = vc.filter(vc.field("values").is_valid())
        if len(vc) <= CAP:
            col.counts = dict(
                zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)
            )
            return
    import datasketches as ds

    if vc is None:
        vc = pc.value_counts(arr)
        vc = vc.filter(vc.field("values").is_valid())
    values, counts = vc.field("values"), vc.field("counts").to_numpy()
    hll, fi = ds.hll_union(HLL_LG_K), ds.frequent_strings_sketch(FI_LG_MAP)
    for v in values.to_pylist():
        hll.update(v)
    if len(counts) > FEED:
        order = np.argsort(-counts, kind="stable")
        fed, col.fi_slack = order[:FEED], int(counts[order[FEED]])
    else:
        fed = np.arange(len(counts))
    for v, c in zip(values.take(pa.array(fed)).to_pylist(), counts[fed].tolist(), strict=True):
        fi.update(v, c)
    col.hll, col.fi, col.counts = hll, fi, None


def _datetime_part(col: _Column, arr: Any, hints: _Hints) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = arr.drop_null()
    if not len(valid):
        return
    if pa.types.is_date(valid.type):  # dates cannot cast straight to integers
        valid = valid.cast(pa.timestamp("s"))
    minmax = pc.min_max(valid)
    col.lo, col.hi = minmax["min"].as_py(), minmax["max"].as_py()
    col.counts = None
    col.kmv = _kmv_of(valid.cast(pa.int64()).to_numpy(zero_copy_only=False), hints.theta)


def _column_part(arr: Any, kind: str, hints: _Hints) -> tuple[_Column, np.ndarray | None]:
    col = _Column(kind, rows=len(arr), nulls=arr.null_count)
    dense = None
    try:
        if kind == "image" or kind == "null" or arr.null_count == len(arr):
            col.counts = {} if kind not in ("image", "datetime") else None
        elif kind == "numeric":
            dense = _numeric_part(col, arr, hints)
        elif kind == "boolean":
            import pyarrow.compute as pc

            vc = pc.value_counts(arr.drop_null())
            col.counts = dict(
                zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)
            )
        elif kind == "datetime":
            _datetime_part(col, arr, hints)
        else:
            _text_part(col, arr, hints)
    except Exception as exc:  # noqa: BLE001 - one column's failure must not lose the dataset
        col = _Column(kind, rows=len(arr), error=f"{type(exc).__name__}: {exc}")
    return col, dense


@dataclass
class _Comoments:
    """Streamed co-moments of the numeric columns over complete rows (Chan et al.)."""

    n: int
    mean: np.ndarray
    c: np.ndarray

    def merge(self, o: _Comoments) -> None:
        n = self.n + o.n
        if not o.n:
            return
        delta = o.mean - self.mean
        self.c = self.c + o.c + np.outer(delta, delta) * (self.n * o.n / n)
        self.mean = self.mean + delta * (o.n / n)
        self.n = n


def _comoments(table: Any, names: list[str], dense: dict[str, np.ndarray | None]) -> _Comoments:
    columns, mask = [], None
    for name in names:
        x = dense.get(name)
        if x is None:
            x = _floats(table.column(name))
            finite = np.isfinite(x)
            mask = finite if mask is None else mask & finite
        columns.append(x)
    rows = table.num_rows if mask is None else int(np.count_nonzero(mask))
    mat = np.empty((rows, len(names)), order="F")
    for j, x in enumerate(columns):
        mat[:, j] = x if mask is None else x[mask]
    if not len(mat):
        return _Comoments(0, np.zeros(len(names)), np.zeros((len(names), len(names))))
    mean = mat.mean(axis=0)
    mat -= mean
    return _Comoments(len(mat), mean, mat.T @ mat)


@dataclass
class _Part:
    columns: dict[str, _Column]
    comoments: _Comoments | None
    rows: int


def correlated(kinds: dict[str, str]) -> list[str]:
    """The numeric columns whose correlations are streamed: the first CORR_MAX (the co-moments
    cost CORR_MAX squared per row; a wider heatmap is unreadable anyway)."""
    return [n for n, k in kinds.items() if k == "numeric"][:CORR_MAX]


def profile_part(table: Any, kinds: dict[str, str], hints: dict[str, _Hints]) -> _Part:
    """One batch's partial profile (any thread)."""
    columns: dict[str, _Column] = {}
    dense: dict[str, np.ndarray | None] = {}
    for name, kind in kinds.items():
        arr = table.column(name)
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
        columns[name], dense[name] = _column_part(arr, kind, hints[name])
    numeric = correlated(kinds)
    comoments = None
    if len(numeric) >= 2:
        try:
            comoments = _comoments(table, numeric, dense)
        except Exception:  # noqa: BLE001 - correlations are left out, the rest stands
            comoments = None
    return _Part(columns, comoments, table.num_rows)


class ProfileBuilder:
    """Merges batch partials into a dataset's profile.

    Args:
        schema: The table's Arrow schema.
        head: The first rows (preview, thumbnails, and telling date-like text from text).
    """

    def __init__(self, schema: Any, head: Any) -> None:
        self.schema = schema
        self.head = head.slice(0, max(PREVIEW_ROWS, PREVIEW_IMAGES)) if head is not None else None
        self.kinds = {f.name: work_kind(f.type, f.name) for f in schema}
        self.hints = {name: _Hints() for name in self.kinds}
        self.columns: dict[str, _Column] = {name: _Column(kind) for name, kind in self.kinds.items()}
        self.comoments: _Comoments | None = None
        self.corr_failed = False
        self.rows = 0
        self.error: str | None = None

    def part(self, table: Any) -> _Part:
        return profile_part(table, self.kinds, self.hints)

    def add(self, part: _Part) -> None:
        """Merge one batch's partial (one thread at a time). A failure here is kept for
        ``_profile.profile_of`` to name, and never stops the ingest."""
        self.rows += part.rows
        if self.error is not None:
            return
        try:
            self._add(part)
        except Exception as exc:  # noqa: BLE001 - the dataset stays usable, the reason is named
            self.error = f"{type(exc).__name__}: {exc}"

    def _add(self, part: _Part) -> None:
        for name, col in part.columns.items():
            mine = self.columns[name]
            mine.merge(col)
            hints = self.hints[name]
            hints.counting = mine.counts is not None
            if mine.kmv is not None and len(mine.kmv) >= KMV_K:
                hints.theta = int(mine.kmv[-1])
            if mine.hist is not None:
                hints.k = mine.hist.k
        if part.comoments is None:
            self.corr_failed = self.corr_failed or len(correlated(self.kinds)) >= 2
        elif self.comoments is None:
            self.comoments = part.comoments
        else:
            self.comoments.merge(part.comoments)
