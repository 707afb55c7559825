"""JSON log lines (LOOM_LOG_FORMAT=json, issue 29): Loom's loggers write one JSON object per
line with ts, level, logger, message and the ``extra=`` fields; text leaves logging as it was;
a bad value is refused naming the variable; the CLI sets it up too."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.logs import configure_logging


@pytest.fixture
def text_again() -> Iterator[None]:
    yield
    configure_logging("text")


def test_json_lines_parse_with_their_fields(
    text_again: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_LOG_FORMAT", "json")
    assert configure_logging() == "json"
    assert configure_logging() == "json"  # once: no second handler
    logging.getLogger("core.compute._reaper").warning("run %s interrupted", "abc", extra={"run_id": "abc"})
    logging.getLogger("loom.ui").info("page drawn")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("core.store").exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["level"], x["logger"], x["message"]) for x in lines] == [
        ("WARNING", "core.compute._reaper", "run abc interrupted"),
        ("INFO", "loom.ui", "page drawn"),
        ("ERROR", "core.store", "failed"),
    ]
    assert lines[0]["run_id"] == "abc"
    assert datetime.fromisoformat(lines[0]["ts"]).tzinfo is not None
    assert "ValueError: boom" in lines[2]["exc"]


def test_text_is_the_default_and_changes_nothing(text_again: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOOM_LOG_FORMAT", raising=False)
    assert configure_logging() == "text"
    assert not [h for h in logging.getLogger("core").handlers if getattr(h, "_loom_json", False)]
    assert logging.getLogger("core").propagate


def test_a_bad_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOOM_LOG_FORMAT=.yaml.*text, json"):
        configure_logging("yaml")


def test_the_cli_logs_json_lines(
    text_again: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from core.cli import main

    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("LOOM_LOG_FORMAT", "json")
    assert main(["migrate"]) == 0
    logging.getLogger("core.cli").info("after a command")
    err = capsys.readouterr().err.splitlines()
    assert json.loads(err[-1])["message"] == "after a command"
    monkeypatch.setenv("LOOM_LOG_FORMAT", "yaml")
    assert main(["migrate"]) == 2
    assert "LOOM_LOG_FORMAT='yaml'" in capsys.readouterr().err
