"""The profile made in the same pass as a CSV's ingest (and over a Parquet file's row groups),
against pandas on the same data: exact figures equal, estimates within their stated bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.config import AppConfig
from core.data import CsvOptions
from core.data import compute_profile
from core.data import ingest_file
from core.data._csv import csv_to_parquet
from core.data._sketch import CAP
from core.store import Profile
from core.store import Store
from core.store import open_store

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus"
ASSETS = ROOT / "assets"


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 KiB segments: a 2 MB file streams as dozens of batches and row groups, so every
    # figure goes through the merges.
    monkeypatch.setattr("core.data._csv_stream.BLOCK_SIZE", 64 << 10)


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    users = np.where(rng.random(n) < 0.2, "admin", np.char.add("user", rng.integers(0, 3000, n).astype(str)))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "label": rng.integers(0, 10, n),
            "x": np.where(rng.random(n) < 0.05, np.nan, x.round(6)),
            "wide": (rng.exponential(size=n) * 1e6).round(2),
            "neg": -rng.integers(1, 50, n) * 0.5,
            "flag": rng.random(n) < 0.3,
            "city": np.where(rng.random(n) < 0.03, None, rng.choice(["Lisbon", "Oslo", "Quito"], n)),
            "user": users,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        }
    )
    # The first two rows pin the types that the first segment settles.
    return frame


def _entries(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in profile["columns"]}


def _within(bounds: dict[str, Any], value: float) -> bool:
    return bool(bounds["low"] <= value <= bounds["high"])


def check_against_pandas(profile: dict[str, Any], df: pd.DataFrame) -> None:
    """Every figure of ``profile`` against pandas on ``df`` (the same data)."""
    assert profile["n_rows"] == len(df)
    for name, c in _entries(profile).items():
        s = df[name]
        assert "error" not in c, c.get("error")
        estimates = c.get("estimates", {})
        assert c["missing"] == int(s.isna().sum()), name
        if c["kind"] == "image":
            continue
        if "unique" in estimates:
            assert s.nunique() > CAP and _within(estimates["unique"], s.nunique()), (name, estimates)
        else:
            assert c["unique"] == s.nunique(), name
        if c["kind"] == "numeric" and "stats" in c:
            v = s.dropna().astype(float)
            st = c["stats"]
            assert st["min"] == v.min() and st["max"] == v.max(), name
            assert st["mean"] == pytest.approx(v.mean(), rel=1e-12, abs=1e-12), name
            if len(v) > 1:
                assert st["std"] == pytest.approx(v.std(), rel=1e-9), name
            for q in ("25%", "50%", "75%"):
                truth = v.quantile(float(q[:-1]) / 100)
                if q in estimates:
                    assert _within(estimates[q], truth), (name, q, estimates[q], truth)
                    assert estimates[q]["low"] <= st[q] <= estimates[q]["high"]
                else:
                    assert st[q] == pytest.approx(truth), (name, q)
            edges = c["hist"]["edges"]
            assert c["hist"]["counts"] == np.histogram(v, bins=edges)[0].tolist(), name
            assert len(c["hist"]["counts"]) <= 30 and sum(c["hist"]["counts"]) == len(v)
        truth_counts = s.value_counts()
        if "top" in estimates:
            for (value, est), (low, high) in zip(c["top"], estimates["top"]["bounds"], strict=True):
                assert low <= truth_counts[value] <= high and low <= est <= high, (name, value)
        elif c.get("top"):
            for value, n in c["top"]:
                key = value if c["kind"] != "boolean" else bool(value)
                assert truth_counts[key] == n, (name, value)
            assert len(c["top"]) == min(30, s.nunique())


def _correlation_matches(profile: dict[str, Any], df: pd.DataFrame) -> None:
    corr = profile["correlation"]
    numeric = df[corr["columns"]].astype(float).dropna()  # rows where every numeric column is present
    expected = numeric.corr().to_numpy()
    assert np.allclose(np.array(corr["matrix"], dtype=float), expected, atol=1e-9, equal_nan=True)


def test_csv_profile_made_while_parsing_matches_pandas(tmp_path: Path, small_blocks: None) -> None:
    df = _frame(40_000)
    src, out = tmp_path / "data.csv", tmp_path / "data.parquet"
    df.to_csv(src, index=False)
    result = csv_to_parquet(src, out, CsvOptions())
    assert result.profile is not None
    assert pq.ParquetFile(out).metadata.num_row_groups > 10  # it streamed in many batches
    stored = pd.read_parquet(out)  # the same data the profile saw
    check_against_pandas(result.profile, stored)
    _correlation_matches(result.profile, stored)
    cols = _entries(result.profile)
    assert cols["city"]["kind"] == "categorical" and cols["flag"]["kind"] == "boolean"
    assert cols["day"]["kind"] == "datetime"
    assert cols["user"]["kind"] == "text"
    # Beyond CAP distinct values: estimated, and said so.
    assert set(cols["user"]["estimates"]) == {"unique", "top"}
    assert cols["user"]["top"][0][0] == "admin"
    assert "unique" in cols["id"]["estimates"] and "unique" not in cols["label"].get("estimates", {})
    # The same figures when the Parquet file is profiled on its own (another batching).
    again = _entries(compute_profile(out))
    for name, c in cols.items():
        assert (again[name]["missing"], again[name]["kind"]) == (c["missing"], c["kind"]), name
        exact = {k: v for k, v in c.get("stats", {}).items() if k not in c.get("estimates", {})}
        assert {k: again[name]["stats"][k] for k in exact} == pytest.approx(exact, rel=1e-12), name


def test_parquet_profile_matches_pandas(tmp_path: Path) -> None:
    df = _frame(30_000, seed=3)
    df["x"] = df["x"].astype("float32")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=2_000)
    profile = compute_profile(path)
    check_against_pandas(profile, pd.read_parquet(path))
    _correlation_matches(profile, pd.read_parquet(path))


@pytest.mark.parametrize(
    "source",
    [ASSETS / "iris.csv", ASSETS / "housing.csv", *sorted(CORPUS.glob("*.csv"))],
    ids=lambda p: p.name,
)
def test_corpus_profiles_match_pandas(tmp_path: Path, source: Path) -> None:
    from core.errors import DataError

    out = tmp_path / "out.parquet"
    try:
        result = csv_to_parquet(source, out, CsvOptions())
    except DataError:
        pytest.skip("a bad file of the corpus: refused with its message (tests/core/data/test_bad_inputs.py)")
    assert result.profile is not None
    stored = pd.read_parquet(out)
    check_against_pandas(result.profile, stored)
    if "correlation" in result.profile:
        _correlation_matches(result.profile, stored)


def test_estimates_are_within_their_bounds_over_many_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    df = pd.DataFrame(
        {
            "big": rng.integers(0, 10**12, n),  # all distinct: KMV
            "dup": rng.integers(0, 20_000, n).astype(float),  # repeats: KMV on a smaller set
            "heavy": np.where(
                rng.random(n) < 0.1, "hot", np.char.add("v", rng.integers(0, 50_000, n).astype(str))
            ),
            "skew": np.concatenate([rng.normal(size=n - 3), [1e9, -1e9, 5e8]]),  # quartiles in wide bins
        }
    )
    path = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=7_000)
    profile = compute_profile(path)
    check_against_pandas(profile, df)
    cols = _entries(profile)
    assert cols["heavy"]["top"][0][0] == "hot"
    assert {"unique", "top"} <= set(cols["heavy"]["estimates"])
    # The median of the skewed column: the rank is exact, the bound is one (wide) bin.
    assert _within(cols["skew"]["estimates"]["50%"], float(np.median(df["skew"])))


def test_column_of_only_nan_is_all_missing_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"a": [float("nan")] * 5, "b": [1.0, 2, 3, 4, 5]}), path)
    cols = _entries(compute_profile(path))
    assert cols["a"]["missing"] == 5 and cols["a"]["flags"] == ["all missing"] and "error" not in cols["a"]
    assert "stats" not in cols["a"] and cols["b"]["stats"]["mean"] == 3.0
    csv = tmp_path / "nan.csv"
    csv.write_text("a,b\nnan,1\nNaN,2\n,3\n")
    result = csv_to_parquet(csv, tmp_path / "nan2.parquet", CsvOptions())
    assert result.profile is not None
    assert _entries(result.profile)["a"]["flags"] == ["all missing"]


@pytest.fixture
def local_store(config: AppConfig) -> Store:
    return open_store(config)


def test_a_failing_profile_leaves_the_dataset_usable(
    local_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise ValueError("boom")

    monkeypatch.setattr("core.data._sketch._numeric_part", broken)
    ds = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    assert ds.n_rows == 150
    sepal = ds.profile.column("sepal_length_cm")
    assert sepal is not None and sepal.error == "ValueError: boom"
    species = ds.profile.column("species")
    assert species is not None and not species.error and species.unique == 3
    assert pq.read_table(local_store.path_for("datasets", ds.id, ".parquet")).num_rows == 150


def test_a_profile_that_fails_whole_is_named(local_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("no memory for sketches")

    monkeypatch.setattr("core.data._profile.finish_profile", broken)
    ds = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    assert ds.n_rows == 150 and ds.profile.errors
    assert "no memory for sketches" in ds.profile.errors[0]
    assert [c.name for c in ds.profile.columns][:1] == ["sepal_length_cm"]


def test_profiles_stored_before_estimates_still_load() -> None:
    # A profile as version 1 stored it (Dask over row groups; nothing marked as estimated).
    old = {
        "n_rows": 3,
        "n_cols": 2,
        "columns": [
            {
                "name": "x",
                "dtype": "double",
                "kind": "numeric",
                "missing": 0,
                "unique": 3,
                "flags": [],
                "stats": {
                    "mean": 2.0,
                    "std": 1.0,
                    "min": 1.0,
                    "25%": 1.5,
                    "50%": 2.0,
                    "75%": 2.5,
                    "max": 3.0,
                },
                "hist": {"counts": [1, 1, 1], "edges": [1.0, 1.67, 2.33, 3.0]},
                "top": [[1, 1], [2, 1], [3, 1]],
            },
            {
                "name": "c",
                "dtype": "string",
                "kind": "categorical",
                "missing": 1,
                "unique": 1,
                "flags": ["constant"],
            },
        ],
        "correlation": None,
        "preview": {"columns": ["x", "c"], "rows": [["1.0", "a"]]},
    }
    profile = Profile.from_json(old)
    x = profile.column("x")
    assert x is not None and x.stats["mean"] == 2.0 and x.bounds("50%") is None and x.error == ""
    assert profile.errors == () and profile.n_rows == 3
