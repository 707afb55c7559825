from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert out.returncode == 2 and "error: cannot read" in out.stdout
