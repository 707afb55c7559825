"""``python -m core train --branch-from RUN --epoch N``: a branch from the terminal, its curve
going on from the parent's epoch, and refusals with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import AppConfig
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from tests.core.test_cli import ROOT
from tests.core.test_cli import _run

pytestmark = pytest.mark.slow


def test_branch_from_the_cli(tmp_path: Path) -> None:
    out = _run(tmp_path, "train")
    assert (
        out.returncode == 2 and "train needs --config run.json, or --branch-from RUN --epoch N" in out.stderr
    )
    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps({"dataset_id": dataset_id, "target": "species", "epochs": 3, "batch_size": 16})
    )
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    parent = out.stdout.splitlines()[0].split()[1]

    # The default rule keeps the last two epochs (2, 3): epoch 1 is refused, naming epoch 2.
    out = _run(tmp_path, "train", "--branch-from", parent, "--epoch", "1", "--lr", "0.0005")
    assert out.returncode == 2
    assert f"error: Run {parent} has no checkpoint at epoch 1: the nearest kept one is epoch 2" in out.stderr
    out = _run(tmp_path, "train", "--branch-from", parent)
    assert out.returncode == 2 and "--branch-from needs --epoch N" in out.stderr

    out = _run(tmp_path, "train", "--branch-from", parent, "--epoch", "2", "--lr", "0.0005", "--epochs", "4")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].endswith(f"submitted (a branch of {parent} from epoch 2)")
    assert [ln.split()[1] for ln in lines if ln.startswith("epoch ")] == ["3", "4"]
    assert any(ln.startswith("succeeded") for ln in lines)

    # A network's branch takes no scikit-learn hyperparameters; a malformed --param is named.
    out = _run(tmp_path, "train", "--branch-from", parent, "--epoch", "2", "--param", "n_estimators=9")
    assert out.returncode == 2 and "A branch of a Keras network cannot change `params`" in out.stderr
    out = _run(tmp_path, "train", "--branch-from", parent, "--epoch", "2", "--param", "n_estimators")
    assert out.returncode == 2 and "--param takes NAME=VALUE (e.g. n_estimators=300)" in out.stderr


def test_branch_a_forest_from_the_cli_with_more_trees_and_another_setting(tmp_path: Path) -> None:
    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    config = tmp_path / "forest.json"
    forest = {"kind": "random_forest", "params": {"n_estimators": 20}}
    config.write_text(json.dumps({"dataset_id": dataset_id, "target": "species", "estimator": forest}))
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    parent = out.stdout.splitlines()[0].split()[1]
    last = [ln.split()[1] for ln in out.stdout.splitlines() if ln.startswith("epoch ")][-1]

    out = _run(
        tmp_path,
        "train",
        "--branch-from",
        parent,
        "--epoch",
        last,
        "--param",
        "n_estimators=40",
        "--param",
        "max_features=log2",
        "--param",
        "max_depth=null",
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert out.stdout.splitlines()[0].endswith(f"submitted (a branch of {parent} from epoch {last})")
    assert any(ln.startswith("succeeded") for ln in out.stdout.splitlines())
    child = out.stdout.splitlines()[0].split()[1]
    store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    try:
        run = get_run(store, child, viewer=SYSTEM)
    finally:
        store.engine.dispose()
    assert run.parent_id == parent and run.spec["branch"]["epoch"] == int(last)
    assert (
        run.spec["model"]["params"] | {"n_estimators": 40, "max_features": "log2", "max_depth": None}
        == (run.spec["model"]["params"])
    )
    # A value of the wrong type is refused by the estimator's own check, with the setting named,
    # and nothing is submitted.
    out = _run(tmp_path, "train", "--branch-from", parent, "--epoch", last, "--param", "n_estimators=many")
    assert out.returncode == 2, out.stdout + out.stderr[-2000:]
    refusal = "random forest: `n_estimators` must be a number, but got n_estimators='many'"
    assert refusal in out.stderr, out.stderr[-2000:]
    assert "submitted" not in out.stdout
