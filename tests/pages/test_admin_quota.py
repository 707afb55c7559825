"""The admin page's team quotas: the form sets and clears one (audited), a bad size is refused
with the rule and keeps what was typed, and the table shows each team's usage and quota."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.ops import list_quotas
from core.sharing import create_project
from core.sharing import create_team
from core.store import AuditEvent
from core.store import Viewer
from core.store import open_store
from tests.pages.conftest import open_page


def _table(app: AppTest):  # type: ignore[no-untyped-def]
    return next(d.value for d in app.dataframe if "used %" in d.value.columns)


def test_the_quota_form_sets_and_clears_a_teams_quota(app: AppTest, app_env: Path) -> None:
    from sqlalchemy import select

    store = open_store(get_config())
    create_team(store, "vision")
    create_team(store, "audio")
    create_project(store, "p", viewer=Viewer(name="ann", teams=("vision",)), team="vision")
    open_page(app, "pages/admin.py")
    assert not app.exception
    app.selectbox(key="quota_team").set_value("vision")
    app.text_input(key="quota_size").set_value("50 GB")
    app.button(key="quota_save").click().run()
    assert not app.exception
    assert "Team vision: quota 50 GB." in [s.value for s in app.success]
    assert {(q.team, q.quota) for q in list_quotas(store)} == {("vision", 50 * 10**9)}
    table = _table(app)
    assert table[table["team"] == "vision"].iloc[0]["quota"] == "50 GB"

    app.text_input(key="quota_size").set_value("lots")
    app.button(key="quota_save").click().run()
    errors = [e.value for e in app.error]
    assert any("must be a number of bytes" in e for e in errors), (errors, [s.value for s in app.success])
    assert app.text_input(key="quota_size").value == "lots"  # nothing typed is lost
    assert list_quotas(store)[0].quota == 50 * 10**9

    app.text_input(key="quota_size").set_value("")
    app.button(key="quota_save").click().run()
    assert "Team vision: no quota." in [s.value for s in app.success]
    assert list_quotas(store)[0].quota is None
    with store.engine.connect() as conn:
        actions = conn.execute(select(AuditEvent.action).where(AuditEvent.target_id == "vision")).scalars()
        assert list(actions).count("team.quota") == 2


def test_the_purge_button_purges_what_was_deleted_long_enough_ago(app: AppTest, app_env: Path) -> None:
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    from sqlalchemy import update

    from core.store import SYSTEM
    from core.store import Run
    from core.store import create_run

    store = open_store(get_config())
    old = create_run(store, "external", {"type": "external"}, name="old")
    recent = create_run(store, "external", {"type": "external"}, name="recent")
    with store.session(SYSTEM) as s:
        s.execute(update(Run).values(status="succeeded"))
        s.execute(
            update(Run).where(Run.id == old.id).values(deleted_at=datetime.now(UTC) - timedelta(days=40))
        )
        s.execute(update(Run).where(Run.id == recent.id).values(deleted_at=datetime.now(UTC)))
    store.path_for("models", old.id, ".keras").write_bytes(b"0" * 3000)
    open_page(app, "pages/admin.py")
    assert app.dataframe[0].value["models"].tolist() == ["2.9 KiB"]
    assert app.number_input(key="purge_days").value == 30.0
    app.button(key="purge_trash").click().run()
    assert not app.exception
    assert [s.value for s in app.success] == ["Purged 1 item(s), freed 2.9 KiB."]
    # The disk use above the button is drawn after the purge: the model, the one file, is gone.
    assert "Nothing stored yet." in [i.value for i in app.info]
    with store.session(SYSTEM) as s:
        assert s.get(Run, old.id) is None and s.get(Run, recent.id) is not None
