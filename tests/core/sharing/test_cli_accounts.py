"""The admin CLI for users and teams, and the CLI acting for one user with accounts on: another
user's dataset ID answers as missing, and nothing is written."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.config import get_config
from core.data import ingest_file
from core.store import SYSTEM
from core.store import list_runs
from core.store import open_store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOOM_AUTH", "on")
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


def test_users_and_teams_from_the_command_line(accounts, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert _cli(monkeypatch, capsys, "user", "add", "ann", stdin="ann-password-long\n")[0] == 0
    assert (
        _cli(
            monkeypatch,
            capsys,
            "user",
            "add",
            "ben",
            "--email",
            "Ben@Example.org",
            stdin="ben-password-long\n",
        )[0]
        == 0
    )
    code, out = _cli(monkeypatch, capsys, "user", "add", "ann", stdin="another-password\n")
    assert code == 2 and "already a user" in out
    assert _cli(monkeypatch, capsys, "team", "add", "lab") == (0, "team lab added\n")
    assert _cli(monkeypatch, capsys, "team", "add-member", "lab", "ann")[0] == 0
    code, out = _cli(monkeypatch, capsys, "team", "add-member", "lab", "nobody")
    assert code == 2 and "There is no user 'nobody'" in out
    assert _cli(monkeypatch, capsys, "team", "list")[1] == "lab: ann\n"
    assert _cli(monkeypatch, capsys, "team", "remove-member", "lab", "ann")[0] == 0
    assert _cli(monkeypatch, capsys, "team", "list")[1] == "lab: (no members)\n"
    assert _cli(monkeypatch, capsys, "user", "list")[1] == "ann\nben\n"
    assert _cli(monkeypatch, capsys, "user", "passwd", "ann", stdin="a-new-password-1\n")[0] == 0
    assert _cli(monkeypatch, capsys, "user", "remove", "ben")[0] == 0
    assert _cli(monkeypatch, capsys, "user", "list")[1] == "ann\n"


def test_the_cli_acts_for_one_user_and_cannot_reach_anothers_data(accounts, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _cli(monkeypatch, capsys, "user", "add", "ann", stdin="ann-password-long\n")
    _cli(monkeypatch, capsys, "user", "add", "ben", stdin="ben-password-long\n")
    store = open_store(get_config())
    anns = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris", author="ann")
    config = accounts / "run.json"
    config.write_text(json.dumps({"dataset_id": anns.id, "target": "species", "epochs": 1}))
    code, out = _cli(monkeypatch, capsys, "train", "--config", str(config))
    assert code == 2 and "--as NAME" in out  # accounts on: say who this is for
    code, out = _cli(monkeypatch, capsys, "train", "--config", str(config), "--as", "ben")
    assert code == 2 and f"No dataset with ID {anns.id!r}" in out and "iris" not in out
    code, out = _cli(monkeypatch, capsys, "train", "--config", str(config), "--as", "ben", "--team", "lab")
    assert code == 2 and "not a member of team 'lab'" in out
    assert list_runs(store, viewer=SYSTEM) == []  # nothing was written
