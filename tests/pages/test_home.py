from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP
from tests.pages.conftest import plain


def test_home_renders_counts(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert app.title[0].value == "Loom"
    assert [m.label for m in app.metric] == ["Datasets", "Runs", "Studies"]


def test_bad_database_url_is_one_clear_message(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", "postgresql+psycopg://loom:s3cret@127.0.0.1:1/loom")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1
    message = plain(at.error[0].value)
    assert "Cannot open the store at postgresql+psycopg://loom:***@127.0.0.1:1/loom" in message
    assert "s3cret" not in message


def test_bad_setting_names_the_variable(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_DASK_PROCESSES", "maybe")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert plain(at.error[0].value).startswith(
        "LOOM_DASK_PROCESSES='maybe' is not a boolean. Use one of 1, true"
    )


def test_unwritable_data_dir_is_one_clear_message(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LOOM_DATA_DIR", str(blocker / "data"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "Cannot create the data directory" in plain(at.error[0].value)
