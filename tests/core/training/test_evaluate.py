"""A real training run scored on other files by the ``evaluate`` job on a real LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import DataError
from core.errors import SpecError
from core.models import mlp_template
from core.store import SYSTEM
from core.store import Viewer
from core.store import get_run
from core.store import open_store
from core.training import EvaluateSpec
from core.training import TrainSpec
from core.training import check_evaluation_data
from core.training import default_pipeline
from core.training import list_evaluations
from tests.conftest import wait_until_ended

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[3] / "assets"


def _evaluate(cluster, store, run_id: str, dataset_id: str):  # type: ignore[no-untyped-def]
    spec = EvaluateSpec(run_id, dataset_id).to_dict()
    job = submit_run(cluster, store, "evaluate", spec, dataset_id=dataset_id, viewer=SYSTEM, parent_id=run_id)
    return wait_until_ended(store, job, 120)


def test_evaluation_on_a_second_file_has_the_known_accuracy(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:
    from core.training._bundle import bundle_for_run
    from core.training._predict import predict_frame

    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), mlp_template().to_dict(), epochs=3, batch_size=16)
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 300)
    assert run.status == "succeeded", run.status_reason

    # A second file whose labels agree with the model's predictions on exactly 60 of 150 rows.
    frame = pd.read_csv(ASSETS / "iris.csv")
    weights = store.path_for("models", run_id, ".keras")
    predicted = predict_frame(bundle_for_run(store, run_id), weights, frame)["prediction"].tolist()
    classes = sorted(frame["species"].unique())
    wrong = [classes[(classes.index(p) + 1) % 3] for p in predicted]
    frame["species"] = predicted[:60] + wrong[60:]
    (tmp_path / "relabelled.csv").write_text(frame.to_csv(index=False))
    second = ingest_file(store, tmp_path / "relabelled.csv", "csv", "relabelled")

    job = _evaluate(thread_cluster, store, run_id, second.id)
    assert job.status == "succeeded", job.status_reason
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert evaluation.id == job.id and evaluation.dataset_name == "relabelled"
    assert evaluation.metrics["accuracy"] == pytest.approx(60 / 150, abs=1e-6)
    assert sum(map(sum, evaluation.confusion["matrix"])) == 150  # type: ignore[index]
    assert [p["class"] for p in evaluation.per_class] == classes
    assert sum(p["support"] for p in evaluation.per_class) == 150
    assert evaluation.rows == {"read": 150, "scored": 150, "removed": 0}
    # An evaluation is visible exactly when its run is.
    assert list_evaluations(store, run_id, viewer=Viewer(name="mallory")) == []

    # A dataset without a column the pipeline needs: named; the run and its evaluation untouched.
    frame.drop(columns=["petal_width_cm"]).to_csv(tmp_path / "short.csv", index=False)
    short = ingest_file(store, tmp_path / "short.csv", "csv", "short")
    failed = _evaluate(thread_cluster, store, run_id, short.id)
    assert failed.status == "failed" and "petal_width_cm" in failed.status_reason
    # A class the model never learned: named.
    frame.assign(species=["daisy"] * 150).to_csv(tmp_path / "daisy.csv", index=False)
    daisy = ingest_file(store, tmp_path / "daisy.csv", "csv", "daisy")
    failed = _evaluate(thread_cluster, store, run_id, daisy.id)
    assert failed.status == "failed" and "daisy" in failed.status_reason
    assert [e.id for e in list_evaluations(store, run_id, viewer=SYSTEM)] == [job.id]
    assert wait_until_ended(store, run_id).status == "succeeded"


def test_bad_evaluate_specs_are_refused() -> None:
    with pytest.raises(SpecError, match="dataset_id"):
        EvaluateSpec("run", "")
    with pytest.raises(SpecError, match="Invalid evaluation spec"):
        EvaluateSpec.from_dict({"model_run": "r", "dataset": "d"})


def _train_rows(store, run_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Positions of the rows the run's split marked ``train``, as training computed them."""
    import pyarrow.parquet as pq

    from core.pipeline import ROW_COLUMN
    from core.pipeline import SPLIT_COLUMN
    from core.pipeline import PipelineSpec
    from core.pipeline import run_pandas
    from core.store import get_run

    pipeline = PipelineSpec.from_dict(dict(get_run(store, run_id, viewer=SYSTEM).spec["pipeline"]))
    raw = pq.read_table(store.path_for("datasets", pipeline.dataset_id, ".parquet")).to_pandas()
    out = run_pandas(pipeline, raw).frame
    return sorted(out.loc[out[SPLIT_COLUMN] == "train", ROW_COLUMN].tolist())


def test_an_evaluation_counts_the_rows_the_run_trained_on(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:
    """A scikit-learn run on iris (stratified split: 120 rows train) scored on its own training
    dataset overlaps on exactly its 120 training rows; on rows none of which it saw, on none; on a
    file mixing both, on exactly the training rows in it. Every view reads the label from the
    record; an evaluation stored before the count existed is labelled by its dataset alone."""
    from core.models import EstimatorSpec
    from core.store import Evaluation

    store = open_store(config)
    iris = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(iris.id, "species", iris.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), EstimatorSpec("linear", "multiclass").to_dict())
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=iris.id, viewer=SYSTEM)
    run = wait_until_ended(store, run_id, 300)
    assert run.status == "succeeded", run.status_reason
    train_rows = _train_rows(store, run_id)
    assert len(train_rows) == run.result.rows["train"] == 120

    own = _evaluate(thread_cluster, store, run_id, iris.id)
    assert own.status == "succeeded", own.status_reason
    assert own.result.raw["overlap"] == {"rows": 120, "of": 150, "fraction": 0.8}
    (evaluation,) = list_evaluations(store, run_id, viewer=SYSTEM)
    assert (evaluation.overlap_rows, evaluation.overlap_of) == (120, 150)
    assert evaluation.overlap_fraction == pytest.approx(0.8)
    assert evaluation.on_training_dataset and evaluation.training_dataset_id == iris.id
    assert evaluation.overlap_warning == (
        "⚠ 80 % of these rows were used in training (120 of 150): this score is not a held-out score."
    )
    assert evaluation.overlap_summary == "⚠ 80 % (120 of 150)"

    # Unseen rows: every measurement moved by a hair (and ints where the file had floats would
    # still match: the hash reads numbers as floats).
    frame = pd.read_csv(ASSETS / "iris.csv")
    moved = frame.assign(sepal_length_cm=frame["sepal_length_cm"] + 0.01)
    moved.to_csv(tmp_path / "moved.csv", index=False)
    unseen = ingest_file(store, tmp_path / "moved.csv", "csv", "moved iris")
    # The first 50 rows as they were (the training ones among them overlap), the rest moved.
    pd.concat([frame[:50], moved[50:]]).to_csv(tmp_path / "mixed.csv", index=False)
    mixed = ingest_file(store, tmp_path / "mixed.csv", "csv", "mixed iris")
    # The training rows alone, in another order and another file.
    frame.iloc[train_rows][::-1].to_csv(tmp_path / "trained.csv", index=False)
    copied = ingest_file(store, tmp_path / "trained.csv", "csv", "copied training rows")
    for dataset in (unseen, mixed, copied):
        assert _evaluate(thread_cluster, store, run_id, dataset.id).status == "succeeded"
    by_name = {e.dataset_name: e for e in list_evaluations(store, run_id, viewer=SYSTEM)}
    assert (by_name["moved iris"].overlap_rows, by_name["moved iris"].overlap_of) == (0, 150)
    assert by_name["moved iris"].overlap_warning == "" and by_name["moved iris"].overlap_summary == "none"
    in_first_50 = sum(1 for r in train_rows if r < 50)
    assert 0 < in_first_50 < 50
    assert by_name["mixed iris"].overlap_rows == in_first_50
    assert f"({in_first_50} of 150)" in by_name["mixed iris"].overlap_warning
    copy = by_name["copied training rows"]
    assert (copy.overlap_rows, copy.overlap_of, copy.on_training_dataset) == (120, 120, False)
    assert copy.overlap_warning.startswith("⚠ 100 % of these rows were used in training (120 of 120)")

    # Evaluations stored before Loom counted: on the training dataset, labelled by its ID alone.
    with store.session(SYSTEM) as s:
        for n, dataset in enumerate((iris, unseen)):
            old = {"evaluation": {"accuracy": 0.9}, "rows": {"read": 150, "scored": 150, "removed": 0}}
            s.add(
                Evaluation(
                    id=f"{n:032d}",
                    run_id=run_id,
                    dataset_id=dataset.id,
                    dataset_name=f"old {n}",
                    metrics_json=old,
                )
            )
    by_name = {e.dataset_name: e for e in list_evaluations(store, run_id, viewer=SYSTEM)}
    assert by_name["old 0"].overlap_rows is None and by_name["old 0"].overlap_fraction is None
    assert by_name["old 0"].overlap_warning.startswith("⚠ Scored on the dataset the run trained on")
    assert by_name["old 0"].overlap_summary == "⚠ its training dataset"
    assert (by_name["old 1"].overlap_warning, by_name["old 1"].overlap_summary) == ("", "unknown")


def test_evaluating_without_the_runs_columns_names_every_missing_one(
    thread_cluster, config: AppConfig, tmp_path: Path
) -> None:
    from core.models import EstimatorSpec

    store = open_store(config)
    iris = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(iris.id, "species", iris.profile_json, "multiclass")
    spec = TrainSpec(pipeline.to_dict(), EstimatorSpec("linear", "multiclass").to_dict())
    run_id = submit_run(thread_cluster, store, "train", spec.to_dict(), dataset_id=iris.id, viewer=SYSTEM)
    assert wait_until_ended(store, run_id, 300).status == "succeeded"
    frame = pd.read_csv(ASSETS / "iris.csv").drop(columns=["petal_width_cm", "species"])
    frame.to_csv(tmp_path / "short.csv", index=False)
    short = ingest_file(store, tmp_path / "short.csv", "csv", "short")
    failed = _evaluate(thread_cluster, store, run_id, short.id)
    assert failed.status == "failed"
    assert "'petal_width_cm'" in failed.status_reason and "'species'" in failed.status_reason
    assert "Choose a dataset with the training data's columns" in failed.status_reason
    assert list_evaluations(store, run_id, viewer=SYSTEM) == []
    # The same check before any job (the run page makes it), from the dataset's stored schema.
    run = get_run(store, run_id, viewer=SYSTEM)
    with pytest.raises(DataError, match=r"Dataset 'short' lacks column\(s\) \['petal_width_cm', 'species'\]"):
        check_evaluation_data(run, short)
    check_evaluation_data(run, iris)


def test_a_file_to_score_needs_no_split_column() -> None:
    """A run whose training file carried its own split column scores a test file without it."""
    from core.pipeline import PipelineSpec

    split = {"type": "split", "method": "column", "label_column": "split"}
    pipeline = PipelineSpec.chain("d", "y", [split, {"type": "standardize", "columns": ["x"]}])
    run = type("Run", (), {"id": "r" * 32, "spec": {"pipeline": pipeline.to_dict()}})()
    test = type("Dataset", (), {"name": "test", "schema": {"fields": [{"name": "x"}, {"name": "y"}]}})()
    check_evaluation_data(run, test)  # type: ignore[arg-type]
    without_target = type("Dataset", (), {"name": "t", "schema": {"fields": [{"name": "x"}]}})()
    with pytest.raises(DataError, match=r"lacks column\(s\) \['y'\]"):
        check_evaluation_data(run, without_target)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [(150, 150, "100 %"), (149, 150, "99 %"), (120, 150, "80 %"), (1, 150, "0.7 %"), (1, 100_000, "0.1 %")],
)
def test_an_overlap_share_reads_100_only_when_whole_and_never_0(part: int, whole: int, shown: str) -> None:
    from core.training._evaluate import _percent

    assert _percent(part, whole) == shown


def test_row_hashes_read_the_values_not_their_types() -> None:
    import numpy as np

    from core.training._evaluate import _row_hashes

    a = pd.DataFrame({"x": [1, 2, 3], "img": [b"\x89PNG1", b"\x89PNG2", None], "c": ["a", "b", "c"]})
    b = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.5],
            "img": pd.Series([b"\x89PNG1", b"\x89PNG2", None], dtype=object),
            "c": pd.Series(["a", "b", "c"], dtype="category"),
        }
    )
    ha, hb = _row_hashes(a, ["x", "img", "c"]), _row_hashes(b, ["x", "img", "c"])
    assert list(ha[:2]) == list(hb[:2]) and ha[2] != hb[2]
    arrays = pd.DataFrame({"image": [np.zeros((2, 2)), np.ones((2, 2))]})
    assert len(set(_row_hashes(arrays, ["image"]))) == 2
