"""A deleted project in a real browser, accounts off and on: the Projects page's trash says when it
is purged; past that day, the Admin page's Purge the trash removes it with everything in it, and
the trash no longer lists it."""

from __future__ import annotations

import os
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.config import AppConfig
from core.sharing import create_project
from core.sharing import create_user
from core.sharing import delete_project
from core.sharing import local_viewer
from core.store import SYSTEM
from core.store import Project
from core.store import Run
from core.store import Viewer
from core.store import create_run
from core.store import open_store
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
DELETED = datetime.now(UTC) - timedelta(days=31)


@pytest.fixture(scope="module", params=ACCOUNTS)
def trashed(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The app with a project deleted 31 days ago (a run with a model file in it)."""
    on = request.param == "accounts on"
    data = tmp_path_factory.mktemp("e2e-purge") / "data"
    store = open_store(AppConfig.for_data_dir(data))
    who = Viewer(name="ann") if on else local_viewer()
    if on:
        create_user(store, "ann", "ann-password-long", admin=True)
    project = create_project(store, "Old work", viewer=who)
    run = create_run(store, "external", {"type": "external"}, author=who.name, project_id=project)
    model = store.path_for("models", run.id, ".keras")
    model.write_bytes(os.urandom(2_000))
    delete_project(store, project, viewer=who)
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == run.id).values(status="succeeded"))  # a finished run
        s.execute(update(Project).where(Project.id == project).values(deleted_at=DELETED))
    store.engine.dispose()
    server = AppServer(data, **({"LOOM_AUTH": "on"} if on else {}))
    yield server, "ann" if on else None, model
    server.stop()


def test_a_project_past_its_days_in_the_trash_is_purged_on_the_admin_page(trashed, browser, request) -> None:  # type: ignore[no-untyped-def]
    server, user, model = trashed
    for page in open_page(browser, request, server.url, user=user):
        page.goto(f"{server.url}/projects")
        page.get_by_text("Old work").first.wait_for()
        purge_day = DELETED + timedelta(days=30)
        page.get_by_text(f"purged with everything in it after {purge_day:%Y-%m-%d}").wait_for()

        page.goto(f"{server.url}/admin")
        page.get_by_role("button", name="Purge the trash").click()
        page.get_by_text("Purged 2 item(s)").wait_for()  # the run, then its project
        assert not model.exists()

        page.goto(f"{server.url}/projects")
        page.get_by_text("No deleted projects you can restore.").wait_for()
        assert page.get_by_text("Old work").count() == 0
        assert "Traceback" not in page.content()
