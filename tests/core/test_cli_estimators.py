"""The CLI trains a scikit-learn model from the short config form (``"estimator"``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import AppConfig
from core.store import SYSTEM
from core.store import list_runs
from core.store import open_store
from core.store import thaw
from tests.core.test_cli import ROOT
from tests.core.test_cli import _run

pytestmark = pytest.mark.slow


def test_train_a_random_forest_headless(tmp_path: Path) -> None:
    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    config = tmp_path / "run.json"
    estimator = {"kind": "random_forest", "params": {"n_estimators": 30, "max_depth": 3}}
    config.write_text(json.dumps({"dataset_id": dataset_id, "target": "species", "estimator": estimator}))
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert any(ln.startswith("succeeded") for ln in out.stdout.splitlines())
    (run,) = list_runs(open_store(AppConfig.for_data_dir(tmp_path / "data")), kind="train", viewer=SYSTEM)
    assert thaw(run.spec)["model"]["params"]["n_estimators"] == 30
    assert (tmp_path / "data" / "models" / f"{run.id}.skops").exists()

    config.write_text(
        json.dumps({"dataset_id": dataset_id, "target": "species", "estimator": {"kind": "xgb"}})
    )
    out = _run(tmp_path, "train", "--config", str(config))
    assert out.returncode != 0 and "Valid estimators are: dummy, linear, random_forest" in out.stderr
