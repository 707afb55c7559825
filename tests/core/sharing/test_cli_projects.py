"""``python -m core projects ...`` and ``--project`` on the commands that create or list, run
in-process: roles, the last admin kept, delete asking for --yes then the trash and restore,
moving an item; an unknown or ambiguous project is one line naming the candidates, exit 2."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.config import get_config
from core.data import list_datasets
from core.store import SYSTEM
from core.store import create_run
from core.store import open_store

ROOT = Path(__file__).resolve().parents[3]
IRIS = str(ROOT / "assets" / "iris.csv")
SPEC = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return tmp_path


def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    printed = capsys.readouterr()
    if code:  # the error line goes to stderr, after whatever the command printed before it
        assert printed.err.startswith("error: ") and "error: " not in printed.out, printed
    return code, printed.out + printed.err


def _one_error(out: str) -> str:
    """The error line, checking it is the whole output (no traceback without --debug)."""
    assert out.count("\n") == 1 and out.startswith("error: "), out
    return out


def test_projects_and_roles_from_the_command_line(data_dir, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOM_AUTH", "on")

    def cli(*args: str) -> tuple[int, str]:
        return _cli(monkeypatch, capsys, *args)

    for name in ("ann", "ben", "cat"):
        assert _cli(monkeypatch, capsys, "user", "add", name, stdin=f"{name}-password-long\n")[0] == 0
    cli("team", "add", "vision")
    cli("team", "add-member", "vision", "ann")
    cli("team", "add-member", "vision", "ben")

    code, out = cli("projects", "list")
    assert code == 2 and "--as NAME" in _one_error(out)
    code, out = cli("projects", "create", "Images", "--team", "vision", "--as", "ann")
    assert code == 0 and out.endswith(": vision/Images (you are its admin)\n")
    images = out.split()[1].rstrip(":")
    code, out = cli("projects", "create", "Images", "--team", "vision", "--as", "ben")
    assert code == 2 and "team vision already has a project named 'Images'" in _one_error(out)
    assert cli("projects", "create", "Images", "--as", "ben")[0] == 0
    assert cli("projects", "role", "vision/Images", "cat", "viewer", "--as", "ann") == (
        0,
        "cat is a viewer of project vision/Images\n",
    )
    code, out = cli("projects", "members", images, "--as", "ann")
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["user", "role", "from"],
        ["ann", "admin", "named"],
        ["cat", "viewer", "named"],
        ["ben", "member", "team", "vision"],
    ]
    # The last admin is kept: one line, exit 2, nothing changed.
    code, out = cli("projects", "role", "vision/Images", "ann", "member", "--as", "ann")
    assert code == 2 and "ann is the last admin of project 'Images'" in _one_error(out)
    code, out = cli("projects", "role", "vision/Images", "ann", "viewer", "--as", "ben")
    assert code == 2 and "only an admin can manage its members" in _one_error(out)
    code, out = cli("projects", "list", "--as", "ben")
    assert [line.split()[1:] for line in out.splitlines()] == [
        ["project", "role"],
        ["ben/Default", "admin"],
        ["ben/Images", "admin"],
        ["vision/Images", "member"],
    ]

    # --project on a create command: an ambiguous or unknown name names the candidates.
    store = open_store(get_config())
    code, out = cli("ingest", IRIS, "--project", "Images", "--as", "ben")
    assert code == 2 and "2 of your projects are named 'Images'" in _one_error(out)
    assert "ben/Images, vision/Images" in out
    code, out = cli("ingest", IRIS, "--project", "Imagse", "--as", "ben")
    assert code == 2 and "no project 'Imagse'. Yours: ben/Default, ben/Images, vision/Images" in _one_error(
        out
    )
    code, out = cli("ingest", IRIS, "--project", "vision/Images", "--as", "cat")
    assert code == 2 and "You are a viewer of project vision/Images" in _one_error(out)
    assert list_datasets(store, viewer=SYSTEM) == []  # nothing written
    code, out = cli("ingest", IRIS, "--project", "vision/Images", "--as", "ben")
    assert code == 0
    dataset = out.split()[1].rstrip(":")

    # --project on a list command.
    assert cli("datasets", "--project", images, "--as", "ben")[1].splitlines()[1].startswith(dataset)
    assert cli("datasets", "--project", "vision/Images", "--as", "cat")[1].splitlines()[1].startswith(dataset)
    assert cli("datasets", "--project", "ben/Images", "--as", "ben")[1] == "no datasets in this project\n"
    assert dataset in cli("datasets", "--as", "ben")[1]  # all of ben's projects

    assert cli("projects", "team-role", "Images", "viewer", "--as", "ann")[0] == 0
    members = cli("projects", "members", images, "--as", "cat")[1]
    assert ["ben", "viewer", "team", "vision"] in [line.split() for line in members.splitlines()]
    code, out = cli("projects", "rename", images, "Pictures", "--as", "ann")
    assert (code, out) == (0, "project vision/Images is now vision/Pictures\n")

    # Delete asks for --yes, showing what the project holds; then trash and restore.
    code, out = cli("projects", "delete", "vision/Pictures", "--as", "ben")
    assert code == 2 and "only an admin can delete it" in _one_error(out)
    code, out = cli("projects", "delete", "vision/Pictures", "--as", "ann")
    assert code == 2
    held, error = out.splitlines()
    assert held == "project vision/Pictures holds 1 dataset, 0 pipelines, 0 runs, 0 studies, 0 reports"
    assert error.startswith("error: ") and error.endswith(f"python -m core projects delete {images} --yes")
    assert dataset in cli("datasets", "--as", "cat")[1]  # still there
    code, out = cli("projects", "delete", "vision/Pictures", "--yes", "--as", "ann")
    assert code == 0 and out.startswith("project vision/Pictures is in the trash with 1 dataset")
    assert cli("datasets", "--as", "cat")[1] == "no datasets\n"
    code, out = cli("datasets", "--project", "vision/Pictures", "--as", "cat")
    assert code == 2 and "You have no project 'vision/Pictures'" in _one_error(out)
    code, out = cli("projects", "list", "--trash", "--as", "ann")
    assert out.splitlines()[1].split()[:3] == [images, "vision/Pictures", "admin"]
    assert (
        cli("projects", "list", "--trash", "--as", "ben")[1]
        == "no projects in the trash that you may restore\n"
    )
    code, out = cli("projects", "restore", "Pictures", "--as", "ben")
    assert code == 2 and "No project 'Pictures' in the trash" in _one_error(out)
    assert cli("projects", "restore", "Pictures", "--as", "ann") == (
        0,
        "project vision/Pictures restored, with everything in it\n",
    )
    assert dataset in cli("datasets", "--as", "cat")[1]

    # Move: ben's own dataset into his own project; cat (a viewer) may not, nor may ben while the
    # team's role in vision/Pictures makes him a viewer there (moving needs a member of both).
    code, out = cli("projects", "move", "dataset", dataset, "ben/Images", "--as", "cat")
    assert code == 2 and "You have no project 'ben/Images'" in _one_error(out)
    code, out = cli("projects", "move", "dataset", dataset, "ben/Images", "--as", "ben")
    assert code == 2 and "You are a viewer of project 'Pictures'" in _one_error(out)
    assert cli("projects", "team-role", "Pictures", "member", "--as", "ann")[0] == 0
    code, out = cli("projects", "move", "dataset", dataset, "ben/Images", "--as", "ben")
    assert (code, out) == (0, f"dataset {dataset} is now in project ben/Images\n")
    assert cli("datasets", "--project", "ben/Images", "--as", "ben")[1].splitlines()[1].startswith(dataset)
    assert cli("datasets", "--as", "cat")[1] == "no datasets\n"


def test_project_without_accounts(data_dir, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOM_AUTH", "off")
    monkeypatch.setenv("LOOM_USER", "ann")

    def cli(*args: str) -> tuple[int, str]:
        return _cli(monkeypatch, capsys, *args)

    code, out = cli("projects", "create", "Tabular")
    assert code == 0 and out.endswith(": ann/Tabular (you are its admin)\n")
    tabular = out.split()[1].rstrip(":")
    store = open_store(get_config())
    inside = create_run(store, "smoke", SPEC, name="inside", author="ann", project_id=tabular).id
    outside = create_run(store, "smoke", SPEC, name="outside", author="ann").id  # ann's Default

    code, out = cli("runs", "--project", "Tabular")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["id", inside]
    code, out = cli("runs")  # every project, newest first
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["id", outside, inside]
    code, out = cli("ingest", IRIS, "--project", tabular)  # by ID too
    assert code == 0
    assert [d.id for d in list_datasets(store, viewer=SYSTEM)] == [out.split()[1].rstrip(":")]
    assert (
        cli("datasets", "--project", "ann/Tabular")[1].splitlines()[1].startswith(out.split()[1].rstrip(":"))
    )
    assert cli("datasets", "--project", "Default")[1] == "no datasets in this project\n"
    code, out = cli("runs", "--project", "nowhere")
    assert code == 2 and "no project 'nowhere'. Yours: ann/Default, ann/Tabular" in _one_error(out)
    assert "python -m core projects create NAME" in out


@pytest.mark.slow
def test_train_goes_into_the_named_project(tmp_path: Path) -> None:
    from tests.core.test_cli import _run

    out = _run(tmp_path, "projects", "create", "Tabular")
    assert out.returncode == 0, out.stdout + out.stderr
    out = _run(tmp_path, "ingest", IRIS, "--project", "Tabular")
    assert out.returncode == 0, out.stdout + out.stderr
    config = tmp_path / "run.json"
    dataset_id = out.stdout.split()[1].rstrip(":")
    config.write_text(
        f'{{"dataset_id": "{dataset_id}", "target": "species", "estimator": {{"kind": "dummy"}}}}'
    )
    out = _run(tmp_path, "train", "--config", str(config), "--project", "Tabular")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    run_id = out.stdout.split()[1]
    listed = _run(tmp_path, "runs", "--project", "Tabular").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["id", run_id]
    assert _run(tmp_path, "runs", "--project", "Default").stdout == "no runs in this project\n"
