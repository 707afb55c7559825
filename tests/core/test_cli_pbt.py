"""``python -m core tune`` with a population config ("type": "pbt"): started on the cluster,
its events printed as they happen, then the best member."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.test_cli import ROOT
from tests.core.test_cli import _run

pytestmark = pytest.mark.slow


def test_tune_runs_a_population_headless(tmp_path: Path) -> None:
    from core.tuning import Param
    from core.tuning import SearchSpace

    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),))
    config = tmp_path / "pbt.json"
    config.write_text(
        json.dumps(
            {
                "type": "pbt",
                "name": "iris population",
                "base": {"dataset_id": dataset_id, "target": "species", "batch_size": 16},
                "space": space.to_dict(),
                "members": 2,
                "interval": 1,
                "epochs": 2,
                "quantile": 0.5,
                "seed": 0,
            }
        )
    )
    out = _run(tmp_path, "tune", "--config", str(config))
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("population ") and "2 members x 2 epochs" in lines[0]
    assert sum("trains epochs 1-1" in ln for ln in lines) == 2
    assert any(" copied member " in ln and "at epoch 1" in ln for ln in lines)
    assert lines[-2].startswith("succeeded")
    summary = json.loads(lines[-1])
    assert summary["finished"] == 2 and summary["best_member"] in (0, 1)

    config.write_text(
        json.dumps(
            {
                "type": "pbt",
                "base": {"dataset_id": dataset_id, "target": "species"},
                "space": space.to_dict(),
                "members": 1,
            }
        )
    )
    out = _run(tmp_path, "tune", "--config", str(config))
    assert out.returncode != 0 and "`members >= 2` must hold, but got members=1" in out.stdout + out.stderr
