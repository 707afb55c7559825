"""``python -m core baselines``: the UI button's three baselines from a terminal, for a dataset
and target or for a training run's data, with ``--wait`` printing their held-out metrics; bad
arguments and other users' data are refused before anything is launched."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.config import AppConfig
from core.config import get_config
from core.data import ingest_file
from core.experiments import BASELINE_TAG
from core.experiments import ExperimentQuery
from core.experiments import list_experiments
from core.store import SYSTEM
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from tests.core.test_cli import ROOT
from tests.core.test_cli import _run


@pytest.mark.slow
def test_baselines_for_a_dataset_then_for_a_run_reuse_them_and_print_their_metrics(tmp_path: Path) -> None:
    out = _run(tmp_path, "ingest", str(ROOT / "assets" / "iris.csv"))
    assert out.returncode == 0, out.stdout + out.stderr
    dataset_id = out.stdout.split()[1].rstrip(":")

    out = _run(tmp_path, "baselines", "--dataset", dataset_id, "--target", "species", "--wait")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    launched = [ln.split()[1].rstrip(":") for ln in lines if ln.startswith("baseline ")]
    assert len(launched) == 3
    store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
    runs = [get_run(store, i, viewer=SYSTEM) for i in launched]
    assert [r.name.split(" · ")[:3] for r in runs] == [
        ["Baseline", "dummy (majority)", "iris.csv"],
        ["Baseline", "logistic regression", "iris.csv"],
        ["Baseline", "histogram gradient boosting", "iris.csv"],
    ]
    rows, total = list_experiments(store, ExperimentQuery(tag=BASELINE_TAG), viewer=SYSTEM)
    assert total == 3 and {r.id for r in rows} == set(launched)

    # The table: a header, then one row per baseline with each held-out metric as stored.
    table = [re.split(r"\s{2,}", ln.strip()) for ln in lines[3:]]
    header = table[0]
    assert header[:3] == ["run", "model", "status"] and "validation_accuracy" in header
    assert len(table) == 4
    for run, row in zip(runs, table[1:], strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["run"] == run.id[:8] and cells["status"] == "succeeded"
        assert cells["model"] == run.name.split(" · ")[1]
        for key, value in run.result.evaluation.items():
            assert float(cells[key]) == pytest.approx(value, rel=1e-3, abs=1e-6)
    accuracy = [float(dict(zip(header, row, strict=True))["validation_accuracy"]) for row in table[1:]]
    assert accuracy[0] < 0.5 < accuracy[2]  # the majority class of three vs boosting

    # For a training run's data (here one of the baselines): the same three runs, reused.
    out = _run(tmp_path, "baselines", "--run", launched[0])
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert [ln.split()[1].rstrip(":") for ln in out.stdout.splitlines()] == launched
    assert len(list_runs(store, kind="train", viewer=SYSTEM)) == 3


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return tmp_path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The exit code and what the command printed: a failure's error, on stderr alone."""
    code = main(list(args))
    printed = capsys.readouterr()
    if code:
        assert "error: " not in printed.out, printed.out
        return code, printed.err
    return code, printed.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: give either --run RUN_ID or --dataset ID --target COLUMN"),
        (("--run", "r1", "--dataset", "d1"), "error: give either --run RUN_ID or --dataset ID"),
        (("--dataset", "d1"), "error: say which column to predict: --dataset d1 --target COLUMN"),
        (("--run", "nope"), "error: No run with ID 'nope'"),
        (("--dataset", "nope", "--target", "y"), "error: No dataset with ID 'nope'"),
    ],
)
def test_bad_arguments_are_explained_and_launch_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out = _cli(capsys, "baselines", *args)
    assert code == 2 and out.startswith(message), out
    assert list_runs(open_store(get_config()), viewer=SYSTEM) == []


def test_a_bad_target_is_explained(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(get_config())
    iris = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    code, out = _cli(capsys, "baselines", "--dataset", iris.id, "--target", "colour")
    assert code == 2 and "There is no column 'colour'" in out
    assert list_runs(store, viewer=SYSTEM) == []


def test_with_accounts_on_it_acts_for_one_user_and_cannot_reach_anothers_data(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOM_AUTH", "on")
    for name in ("ann", "ben"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{name}-password-long\n"))
        assert main(["user", "add", name]) == 0
    store = open_store(get_config())
    anns = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris", author="ann")
    code, out = _cli(capsys, "baselines", "--dataset", anns.id, "--target", "species")
    assert code == 2 and "--as NAME" in out
    code, out = _cli(capsys, "baselines", "--dataset", anns.id, "--target", "species", "--as", "ben")
    assert code == 2 and f"No dataset with ID {anns.id!r}" in out and "iris" not in out
    code, out = _cli(
        capsys, "baselines", "--dataset", anns.id, "--target", "species", "--as", "ann", "--team", "lab"
    )
    assert code == 2 and "not a member of team 'lab'" in out
    assert list_runs(store, viewer=SYSTEM) == []  # nothing was launched
