"""``python -m core train --branch-from RUN --epoch N``: a branch from the terminal, its curve
going on from the parent's epoch, and refusals with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
