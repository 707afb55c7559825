from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.store import SYSTEM

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOOM_DATA_DIR": str(tmp_path / "data"), "LOOM_DASK_WORKERS": "1"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.pop("LOOM_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_ingest_then_train_headless(tmp_path: Path) -> None:
    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps({"dataset_id": dataset_id, "target": "species", "epochs": 3, "batch_size": 16})
    )
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run ") and lines[0].endswith(" submitted")
    assert [ln.split()[1] for ln in lines if ln.startswith("epoch ")] == ["1", "2", "3"]
    assert any(ln.startswith("succeeded") for ln in lines)


def test_bad_config_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text("{nope")
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 2 and out.stderr.startswith("error: cannot read") and out.stdout == ""


def _study_config(base: dict, **overrides: object) -> dict:
    from core.tuning import Param
    from core.tuning import SearchSpace
    from core.tuning import StudySpec

    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),))
    fields = {"sampler": "random", "n_trials": 3, "parallelism": 2, "seed": 0, **overrides}
    return StudySpec(base, space.to_dict(), **fields).to_dict()  # type: ignore[arg-type]


def test_tune_runs_a_study_headless(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from core.config import AppConfig
    from core.data import get_dataset
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import load_optuna_study

    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    profile = get_dataset(store, dataset_id, viewer=SYSTEM).profile_json
    base = TrainSpec(
        default_pipeline(dataset_id, "species", profile, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=2,
        batch_size=16,
    ).to_dict()
    config = tmp_path / "study.json"
    config.write_text(json.dumps({**_study_config(base), "name": "iris lr"}))

    out = _run(tmp_path, "tune", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("study ") and "submitted (driver run " in lines[0]
    study_id = lines[0].split()[1]
    progress = [ln for ln in lines if ln.startswith("trials ")]
    assert progress[-1].startswith(
        "trials 3/3 finished (3 complete, 0 pruned, 0 failed), 0 running, best val_loss="
    )
    assert lines[-2].startswith("succeeded")
    trials = load_optuna_study(store.config, study_id).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    summary = json.loads(lines[-1])
    best = min(trials, key=lambda t: t.values[0])
    assert summary["best_number"] == best.number and summary["best_value"] == best.values[0]
    assert f"best val_loss={best.values[0]:.4g} (trial {best.number})" in progress[-1]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[1, 2]", "error: A study config is a JSON object"),
        ("nsga2", "error: NSGA-II is for two objectives"),
        ("n_trials", "error: `n_trials >= 1` must hold, but got n_trials=0."),
        (json.dumps({"space": {}}), 'error: "base" must be a training spec'),
        (
            json.dumps({"base": {"dataset_id": "nope", "target": "y"}, "space": {}}),
            "error: No dataset with ID 'nope'",
        ),
    ],
)
def test_bad_study_config_is_explained(tmp_path: Path, config: str, message: str) -> None:
    from core.models import mlp_template
    from core.training import TrainSpec
    from core.training import default_pipeline

    # A valid training spec on a dataset that was never ingested: the study spec is checked first.
    profile = {"columns": [{"name": "x", "kind": "numeric"}, {"name": "y", "kind": "categorical"}]}
    base = TrainSpec(
        default_pipeline("not-ingested", "y", profile, "multiclass").to_dict(),
        mlp_template("multiclass").to_dict(),
    ).to_dict()
    if config == "nsga2":
        config = json.dumps(_study_config(base) | {"sampler": "nsga2"})
    elif config == "n_trials":
        config = json.dumps(_study_config(base) | {"n_trials": 0})
    path = tmp_path / "study.json"
    path.write_text(config)
    out = _run(tmp_path, "tune", "--config", str(path))
    assert out.returncode == 2 and message in out.stderr, out.stdout + out.stderr[-2000:]


def test_evaluate_and_predict_headless(tmp_path: Path) -> None:
    import pandas as pd

    iris = ROOT / "assets" / "iris.csv"
    dataset_id = _run(tmp_path, "ingest", str(iris)).stdout.split()[1].rstrip(":")
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"dataset_id": dataset_id, "target": "species", "epochs": 2}))
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    run_id = out.stdout.splitlines()[0].split()[1]

    predictions = tmp_path / "predictions.csv"
    out = _run(tmp_path, "predict", "--run", run_id, str(iris), "--out", str(predictions))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    predicted = pd.read_csv(predictions)
    assert len(predicted) == 150 and list(predicted["row"]) == list(range(150))
    expected = (predicted["prediction"] == pd.read_csv(iris)["species"]).mean()

    # The file is ingested, then scored; the accuracy is the predictions' agreement with the labels.
    out = _run(tmp_path, "evaluate", "--run", run_id, str(iris))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    # Quiet: the worker imported TensorFlow, and none of its log lines reached the terminal.
    assert not [n for n in ("I0000", "E0000", "cuInit", "oneDNN", "Traceback") if n in out.stderr], out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["accuracy"] == pytest.approx(expected, abs=1e-6)
    # The same file the run trained on: its 120 training rows are among the 150, and it says so.
    assert out.stdout.splitlines()[-2] == (
        "⚠ 80 % of these rows were used in training (120 of 150): this score is not a held-out score."
    )

    short = tmp_path / "short.csv"
    pd.read_csv(iris).drop(columns=["species"]).to_csv(short, index=False)
    out = _run(tmp_path, "evaluate", "--run", run_id, str(short))
    assert out.returncode == 1 and "failed" in out.stdout and "'species'" in out.stdout
    out = _run(tmp_path, "evaluate", "--run", "nope", dataset_id)
    assert out.returncode == 2 and "No run with ID 'nope'" in out.stderr and out.stdout == ""


def test_train_validates_on_another_dataset_headless(tmp_path: Path) -> None:
    import pandas as pd

    iris = pd.read_csv(ROOT / "assets" / "iris.csv")
    ids = {}
    for name, frame in {
        "train": iris.iloc[::2],
        "test": iris.iloc[1::2],
        "odd": iris.iloc[1::2].drop(columns=["petal_width_cm"]).assign(colour="blue"),
    }.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        out = _run(tmp_path, "ingest", str(path))
        assert out.returncode == 0, out.stdout + out.stderr
        ids[name] = out.stdout.split()[1].rstrip(":")
    config = tmp_path / "run.json"
    short = {"dataset_id": ids["train"], "target": "species", "template": "mlp", "hidden": [8], "epochs": 2}
    config.write_text(json.dumps(short | {"batch_size": 16}))

    # Refused before anything is stored, naming what differs.
    out = _run(tmp_path, "train", "--config", str(config), "--validation-dataset", ids["odd"])
    assert out.returncode == 2, out.stdout + out.stderr[-2000:]
    assert "error: Validation dataset 'odd.csv' differs from the training data" in out.stderr
    assert "lacks column(s) ['petal_width_cm']" in out.stderr and "column(s) ['colour']" in out.stderr
    assert "submitted" not in out.stdout
    assert "Traceback" not in out.stderr and "Compute Failed" not in out.stderr, out.stderr  # one line

    out = _run(tmp_path, "train", "--config", str(config), "--validation-dataset", ids["test"])
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == (
        f"validating on dataset {ids['test']} (75 rows); training on every one of the 75 rows of "
        f"dataset {ids['train']}"
    )
    assert "val_loss=" in next(ln for ln in lines if ln.startswith("epoch 2"))
    evaluation = json.loads(lines[-1])
    assert set(evaluation) >= {"validation_accuracy", "validation_loss"}
