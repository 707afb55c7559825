from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.store import SYSTEM
from core.store import Dataset
from core.store import open_store
from tests.pages.conftest import APP
from tests.pages.conftest import open_page


def test_admin_shows_disk_use_per_user_team_and_project(app: AppTest, app_env: Path) -> None:
    store = open_store(get_config())
    with store.session(SYSTEM) as s:
        row = Dataset(name="d", content_hash="2" * 64, author="ann", team="lab", profile_json={})
        s.add(row)
        s.flush()
        dataset_id = row.id
    store.path_for("datasets", dataset_id, ".parquet").write_bytes(b"x" * 3000)
    open_page(app, "pages/admin.py")
    tables = dict(
        zip(
            ("disk_use_user", "disk_use_team", "disk_use_project"),
            (t.value for t in app.dataframe),
            strict=True,
        )
    )
    users = tables["disk_use_user"]
    ann = users[users["user"] == "ann"].iloc[0]
    assert (ann["datasets"], ann["total"]) == ("2.9 KiB", "2.9 KiB")
    teams = tables["disk_use_team"]
    assert teams[teams["team"] == "lab"].iloc[0]["datasets"] == "2.9 KiB"
    assert any("Default (ann)" == name for name in tables["disk_use_project"]["project"])


def test_admin_asks_a_visitor_to_sign_in_with_accounts_on(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_AUTH", "on")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/admin.py")
    at.run()
    assert not at.exception
    assert "Sign in to Loom" in [t.value for t in at.title]
    assert not at.dataframe
