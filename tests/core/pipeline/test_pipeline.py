from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import SpecError
from core.pipeline import REGISTRY
from core.pipeline import ROW_COLUMN
from core.pipeline import SPLIT_COLUMN
from core.pipeline import Node
from core.pipeline import PipelineSpec
from core.pipeline import diff_specs
from core.pipeline import get_step
from core.pipeline import run_dask
from core.pipeline import run_pandas
from core.pipeline import to_mermaid

DS = "0" * 32


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 600
    df = pd.DataFrame(
        {
            "x": rng.normal(10, 3, n),
            "y": rng.exponential(2, n),
            "city": rng.choice(["a", "b", "c"], n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "label": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        }
    )
    df.loc[::17, "x"] = np.nan
    df.loc[::23, "city"] = None
    return df


def full_spec(method: str = "random") -> PipelineSpec:
    return PipelineSpec.chain(
        DS,
        "label",
        [
            {"type": "filter_rows", "column": "y", "op": "<", "value": 8},
            {
                "type": "split",
                "method": method,
                "validation": 0.2,
                "test": 0.1,
                "seed": 3,
                "time_column": "when",
            },
            {"type": "fill_missing", "columns": ["x"], "strategy": "median"},
            {"type": "fill_missing", "columns": ["city"], "strategy": "most_frequent"},
            {"type": "clip_outliers", "columns": ["x"], "method": "iqr", "factor": 1.5},
            {"type": "log_transform", "columns": ["y"]},
            {"type": "standardize", "columns": ["x", "y"]},
            {"type": "one_hot", "columns": ["city"]},
            {"type": "drop_columns", "columns": ["when"]},
        ],
    )


def test_round_trip_and_stable_hash() -> None:
    spec = full_spec()
    text = json.dumps(spec.to_dict())
    again = PipelineSpec.from_json(text)
    assert again == spec
    assert again.hash == spec.hash
    assert PipelineSpec.from_dict(json.loads(json.dumps(spec.to_dict(), sort_keys=True))).hash == spec.hash
    other = PipelineSpec.chain(DS, "label", [{"type": "split", "seed": 4}])
    assert other.hash != PipelineSpec.chain(DS, "label", [{"type": "split", "seed": 3}]).hash


def test_literal_json_fixture() -> None:
    literal = {
        "type": "pipeline",
        "dataset_id": DS,
        "target": "label",
        "nodes": [
            {
                "id": "s1",
                "type": "split",
                "method": "random",
                "validation": 0.25,
                "test": 0.0,
                "seed": 0,
                "time_column": None,
            }
        ],
        "edges": [["source", "s1"]],
    }
    assert PipelineSpec.from_dict(literal).to_dict() == literal


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_step_round_trips(name: str) -> None:
    examples = {
        "select_columns": {"columns": ["x"]},
        "drop_columns": {"columns": ["x"]},
        "fill_missing": {"columns": ["x"]},
        "filter_rows": {"column": "x", "op": ">", "value": 1},
        "clip_outliers": {"columns": ["x"]},
        "log_transform": {"columns": ["x"]},
        "one_hot": {"columns": ["city"]},
        "ordinal_encode": {"columns": ["city"]},
        "standardize": {"columns": ["x"]},
        "minmax_scale": {"columns": ["x"]},
    }
    step = get_step({"type": name, **examples.get(name, {})})
    assert get_step(json.loads(json.dumps(step.to_dict()))) == step


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "explode"}, "Unknown step 'explode'. Valid steps are: augment_images, clip_outliers"),
        ({"type": "fill_missing", "columns": ["x"], "strategy": "magic"}, "strategy must be one of"),
        ({"type": "split", "validation": 0.6, "test": 0.5}, "`validation \\+ test < 1` must hold"),
        (
            {"type": "filter_rows", "column": "x", "op": "eval", "value": "__import__('os')"},
            "operator must be one of",
        ),
        ({"type": "standardize"}, "missing parameter\\(s\\) \\['columns'\\]"),
        ({"type": "standardize", "columns": ["x"], "bogus": 1}, "unknown parameter\\(s\\) \\['bogus'\\]"),
    ],
)
def test_bad_steps_are_explained(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        get_step(data)


def test_malformed_json_is_explained() -> None:
    with pytest.raises(SpecError, match="not valid JSON: Expecting value at line 1, column 1"):
        PipelineSpec.from_json("nope")
    with pytest.raises(SpecError, match='"type": "pipeline"'):
        PipelineSpec.from_json("[]")


def test_graph_problems_are_pinned_to_nodes() -> None:
    fill = get_step({"type": "fill_missing", "columns": ["x"]})
    split = get_step("split")
    spec = PipelineSpec(
        DS,
        "label",
        [Node("a", fill), Node("b", split), Node("c", get_step({"type": "drop_columns", "columns": ["x"]}))],
        [("source", "a"), ("a", "b")],
    )
    problems = {p.node: p.message for p in spec.problems()}
    assert "put a split before it" in problems["a"]
    assert "not connected to the source" in problems["c"]
    cyclic = PipelineSpec(
        DS, "label", [Node("a", split), Node("b", fill)], [("source", "a"), ("a", "b"), ("b", "a")]
    )
    assert any("cycle" in p.message or "inputs" in p.message for p in cyclic.problems())
    with pytest.raises(SpecError, match="Node 'c': Is not connected to the source"):
        spec.ordered()
    assert PipelineSpec(DS, "", []).problems()[0].message == "Choose the target column."


def test_fitted_statistics_come_from_train_only(frame: pd.DataFrame) -> None:
    spec = PipelineSpec.chain(
        DS,
        "label",
        [{"type": "split", "validation": 0.3, "seed": 1}, {"type": "standardize", "columns": ["y"]}],
    )
    result = run_pandas(spec, frame)
    split = result.frame[SPLIT_COLUMN]
    train_rows = result.frame.loc[split == "train", ROW_COLUMN]
    train_y = frame.loc[train_rows, "y"]
    mean, sd = result.states["s2"]["mean_std"]["y"]
    assert mean == pytest.approx(train_y.mean())
    assert sd == pytest.approx(train_y.std(ddof=0))
    assert mean != pytest.approx(frame["y"].mean())
    assert set(split) == {"train", "validation"}


def test_unseen_categories_are_handled(frame: pd.DataFrame) -> None:
    spec = PipelineSpec.chain(DS, "label", ["split", {"type": "one_hot", "columns": ["city"]}])
    state = run_pandas(spec, frame).states["s2"]
    later = frame.head(3).assign(city=["a", "zzz", None])
    out = spec.nodes[1].step.transform(later, state)
    assert out.loc[1, ["city=a", "city=b", "city=c"]].tolist() == [0.0, 0.0, 0.0]
    ordinal = get_step({"type": "ordinal_encode", "columns": ["city"]})
    st = ordinal.fit(frame)
    assert ordinal.transform(later, st)["city"].tolist() == [0, -1, -1]


@pytest.mark.parametrize("method", ["random", "stratified", "time"])
def test_pandas_and_dask_agree(frame: pd.DataFrame, method: str) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import dask

    spec = full_spec(method)
    expected = run_pandas(spec, frame)
    with dask.config.set(scheduler="synchronous"):
        result = run_dask(spec, dd.from_pandas(frame, npartitions=4))
        got = result.frame.compute().sort_values(ROW_COLUMN).reset_index(drop=True)
    want = expected.frame.sort_values(ROW_COLUMN).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert json.dumps(result.states, sort_keys=True) == json.dumps(expected.states, sort_keys=True)


def test_stratified_split_keeps_class_shares(frame: pd.DataFrame) -> None:
    spec = PipelineSpec.chain(DS, "label", [{"type": "split", "method": "stratified", "validation": 0.2}])
    out = run_pandas(spec, frame).frame
    shares = out.groupby(SPLIT_COLUMN)["label"].apply(lambda s: (s == "yes").mean())
    assert abs(shares["train"] - shares["validation"]) < 0.02


def test_time_split_holds_out_the_latest_rows(frame: pd.DataFrame) -> None:
    spec = PipelineSpec.chain(
        DS, "label", [{"type": "split", "method": "time", "validation": 0.2, "time_column": "when"}]
    )
    out = run_pandas(spec, frame).frame
    assert (
        out.loc[out[SPLIT_COLUMN] == "train", "when"].max()
        < out.loc[out[SPLIT_COLUMN] == "validation", "when"].min()
    )


def test_column_split_takes_each_rows_part_from_a_column_and_drops_it() -> None:
    import dask.dataframe as dd

    from core.pipeline import apply_fitted

    parts = ["train", " Train", "VAL", "test", "validation", "dev", "testing", "training"] * 5
    df = pd.DataFrame({"x": np.arange(40.0), "y": [0, 1] * 20, "part": parts})
    spec = PipelineSpec.chain(
        DS,
        "y",
        [
            {"type": "split", "method": "column", "label_column": "part"},
            {"type": "standardize", "columns": ["x"]},
        ],
    )
    expected = ["train", "train", "validation", "test", "validation", "validation", "test", "train"] * 5
    out = run_pandas(spec, df)
    assert out.frame[SPLIT_COLUMN].tolist() == expected
    assert "part" not in out.frame.columns
    # Standardize learnt from the rows the column marks as training only.
    train_x = df.loc[[e == "train" for e in expected], "x"]
    assert out.states["s2"]["mean_std"]["x"][0] == pytest.approx(train_x.mean())
    lazy = run_dask(spec, dd.from_pandas(df, npartitions=3)).frame.compute()
    assert lazy[SPLIT_COLUMN].tolist() == expected and "part" not in lazy.columns
    # Applied to new rows for prediction: the part column is dropped whether the file has it or not.
    for rows in (df.head(3), df.head(3).drop(columns=["part"])):
        applied, removed = apply_fitted(spec, rows, out.states)
        assert "part" not in applied.columns and not removed


def test_column_split_names_the_values_that_are_no_part() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0], "part": ["train", "holdout", None]})
    spec = PipelineSpec.chain(DS, "y", [{"type": "split", "method": "column", "label_column": "part"}])
    with pytest.raises(
        SpecError, match=r"'part' has 2 value\(s\) that name no part.*holdout.*train, validation"
    ):
        run_pandas(spec, df)
    with pytest.raises(SpecError, match="method 'column' needs `label_column`"):
        PipelineSpec.chain(DS, "y", [{"type": "split", "method": "column"}])
    with pytest.raises(SpecError, match=r"\['gone'\] do not exist"):
        run_pandas(
            PipelineSpec.chain(DS, "y", [{"type": "split", "method": "column", "label_column": "gone"}]), df
        )


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [{"type": "drop_columns", "columns": ["nope"]}],
            r"Node 's1' \(Drop columns\).*\['nope'\] do not exist",
        ),
        (
            ["split", {"type": "standardize", "columns": ["city"]}],
            r"Node 's2'.*\['city'\] are not numeric.*Encode them first",
        ),
        ([{"type": "filter_rows", "column": "y", "op": ">", "value": 1e9}], r"Node 's1'.*no rows are left"),
        ([{"type": "split", "method": "stratified", "validation": 0.2}], r"have too few rows .* to stratify"),
        ([{"type": "log_transform", "columns": ["x"]}], r"negative values; log1p needs values >= 0"),
    ],
)
def test_step_errors_name_the_node(frame: pd.DataFrame, steps: list, message: str) -> None:
    data = frame.assign(x=frame["x"] - 100)
    data.loc[0, "label"] = "rare"
    with pytest.raises(SpecError, match=message):
        run_pandas(PipelineSpec.chain(DS, "label", steps), data)


def test_preview_stops_at_the_failing_node(frame: pd.DataFrame) -> None:
    spec = PipelineSpec.chain(DS, "label", ["split", {"type": "drop_columns", "columns": ["ghost"]}])
    result = run_pandas(spec, frame, stop_on_error=True)
    assert result.failed is not None and result.failed[0] == "s2"
    assert [r.node for r in result.reports] == ["s1"]
    upto = run_pandas(full_spec(), frame, upto="s2")
    assert [r.node for r in upto.reports] == ["s1", "s2"]
    assert upto.reports[0].rows_after < upto.reports[0].rows_before


def test_mermaid_and_diff() -> None:
    a = full_spec()
    text = to_mermaid(a)
    assert text.startswith("flowchart LR")
    assert "source --> s1" in text and "s8 --> s9" in text
    b = PipelineSpec.chain(
        DS, "label", [n.step for n in a.nodes[:-1]] + [get_step({"type": "drop_columns", "columns": ["x"]})]
    )
    assert diff_specs(a, b) == ["s9 (Drop columns): columns ['when'] → ['x']"]
    assert to_mermaid(PipelineSpec(DS, 'a"b', [])).count("#quot;") == 1


def test_image_steps_augment_train_rows_only() -> None:
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    from core.config import AppConfig
    from core.data import ingest_file
    from core.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(AppConfig.for_data_dir(Path(tmp)))
        ds = ingest_file(
            store, Path(__file__).resolve().parents[3] / "assets" / "digits_8x8.npz", "npz", "digits"
        )
        df = pq.read_table(store.path_for("datasets", ds.id, ".parquet")).to_pandas().head(200)
    spec = PipelineSpec.chain(
        ds.id,
        "label",
        [
            {"type": "split", "validation": 0.3, "seed": 2},
            {"type": "resize_images", "height": 16, "width": 16},
            {"type": "augment_images", "flip": True, "max_rotation": 30, "seed": 1},
        ],
    )
    resized = run_pandas(spec, df, upto="s2").frame
    out = run_pandas(spec, df).frame
    val = out[SPLIT_COLUMN] == "validation"
    assert (out.loc[val, "image"] == resized.loc[val, "image"]).all()
    assert (out.loc[~val, "image"] != resized.loc[~val, "image"]).mean() > 0.5
    scaled = get_step("scale_images").transform(out, {})
    assert scaled["image"].iloc[0].shape == (16, 16, 1)
    assert 0.0 <= scaled["image"].iloc[0].min() and scaled["image"].iloc[0].max() <= 1.0
    with pytest.raises(SpecError, match="put a split before it"):
        run_pandas(PipelineSpec.chain(ds.id, "label", ["augment_images"]), df)


SMALL = pd.DataFrame(
    {
        "a": [1.0, 2.0, None, 4.0, 4.0, 100.0],
        "b": ["x", "y", "y", None, None, "z"],
        "c": [0, 1, 0, 1, 1, 0],
    }
)


@pytest.mark.parametrize(
    ("step", "check"),
    [
        ({"type": "select_columns", "columns": ["a"]}, lambda d: list(d.columns) == ["a"]),
        ({"type": "drop_columns", "columns": ["a", "b"]}, lambda d: list(d.columns) == ["c"]),
        ({"type": "drop_missing"}, lambda d: len(d) == 3),
        ({"type": "drop_missing", "columns": ["a"]}, lambda d: len(d) == 5),
        ({"type": "drop_duplicates"}, lambda d: len(d) == 5),
        ({"type": "drop_duplicates", "columns": ["c"]}, lambda d: len(d) == 2),
        (
            {"type": "filter_rows", "column": "a", "op": ">=", "value": 4},
            lambda d: d["a"].tolist() == [4, 4, 100],
        ),
        ({"type": "filter_rows", "column": "b", "op": "in", "value": ["x", "z"]}, lambda d: len(d) == 2),
        ({"type": "filter_rows", "column": "b", "op": "not in", "value": ["y"]}, lambda d: len(d) == 4),
        ({"type": "filter_rows", "column": "a", "op": "is missing"}, lambda d: len(d) == 1),
        ({"type": "filter_rows", "column": "b", "op": "!=", "value": "y"}, lambda d: len(d) == 2),
        (
            {"type": "log_transform", "columns": ["c"]},
            lambda d: d["c"].tolist()[:2] == [0.0, float(np.log(2))],
        ),
        (
            {"type": "fill_missing", "columns": ["b"], "strategy": "constant", "value": "?"},
            lambda d: d["b"].tolist()[3] == "?",
        ),
        (
            {"type": "fill_missing", "columns": ["b"], "strategy": "most_frequent"},
            lambda d: d["b"].tolist()[3] == "y",
        ),
        (
            {"type": "fill_missing", "columns": ["a"], "strategy": "median"},
            lambda d: d["a"].tolist()[2] == 4.0,
        ),
        (
            {"type": "clip_outliers", "columns": ["a"], "method": "zscore", "factor": 1.0},
            lambda d: d["a"].max() < 100,
        ),
        ({"type": "minmax_scale", "columns": ["a"]}, lambda d: d["a"].min() == 0.0 and d["a"].max() == 1.0),
        ({"type": "standardize", "columns": ["c"]}, lambda d: abs(d["c"].mean()) < 1e-9),
        ({"type": "ordinal_encode", "columns": ["b"]}, lambda d: d["b"].tolist() == [0, 1, 1, -1, -1, 2]),
        ({"type": "one_hot", "columns": ["b"]}, lambda d: d["b=y"].tolist() == [0, 1, 1, 0, 0, 0]),
    ],
    ids=lambda v: (
        v["type"] + "-" + "-".join(str(x) for k, x in v.items() if k not in ("type",))[:30]
        if isinstance(v, dict)
        else ""
    ),
)
def test_each_step(step: dict, check) -> None:  # type: ignore[no-untyped-def]
    s = get_step(step)
    state = s.fit(SMALL) if s.fitted else {}
    out = s.transform(SMALL, state)
    assert check(out), out
    assert SMALL["a"].isna().sum() == 1  # the input is never modified


def test_a_scaler_without_columns_is_flagged_on_its_node() -> None:
    spec = PipelineSpec.chain("d" * 32, "y", ["split", {"type": "standardize", "columns": []}])
    problems = [(p.node, p.message) for p in spec.problems()]
    assert (
        "s2",
        "Standardize (z-score) has no columns: it would change nothing. Pick the columns to scale.",
    ) in problems
