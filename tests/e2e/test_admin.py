"""Team quotas in a real browser, accounts on: team vision's project holds more than its 1 KB
quota, so alice's upload into it is refused on the Data page with the figures, and nothing she
typed is lost; the Admin page (alice is a site admin) shows the team over its quota."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import AppConfig
from core.ops import set_quota
from core.sharing import add_member
from core.sharing import create_project
from core.sharing import create_team
from core.sharing import create_user
from core.store import Viewer
from core.store import create_run
from core.store import open_store
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, str]]:
    data = tmp_path_factory.mktemp("e2e-quota") / "data"
    store = open_store(AppConfig.for_data_dir(data))
    create_user(store, "alice", "alice-password-long", admin=True)
    create_team(store, "vision")
    add_member(store, "vision", "alice")
    project = create_project(store, "Images", viewer=Viewer(name="alice", teams=("vision",)), team="vision")
    run = create_run(
        store, "external", {"type": "external"}, author="alice", team="vision", project_id=project
    )
    store.path_for("models", run.id, ".keras").write_bytes(os.urandom(5_000))
    set_quota(store, "vision", "1 KB", actor="root")
    store.engine.dispose()
    server = AppServer(data, LOOM_AUTH="on")
    yield server, project
    server.stop()


def test_an_upload_over_the_teams_quota_shows_the_figures(quota_server, browser, request) -> None:  # type: ignore[no-untyped-def]
    server, project = quota_server
    for page in open_page(browser, request, server.url, user="alice"):
        page.goto(f"{server.url}/data?project={project}")
        page.locator('input[type="file"]').set_input_files(str(ROOT / "assets" / "iris.csv"))
        name = page.get_by_label("Name", exact=True)
        name.fill("my-iris")
        page.get_by_role("button", name="Ingest").click()
        page.get_by_text("Team vision uses 5 KB of its 1 KB quota.").wait_for()
        assert page.get_by_text("ask a site admin to raise the quota").count() == 1
        assert name.input_value() == "my-iris"  # nothing typed is lost
        assert "Traceback" not in page.content()

        page.goto(f"{server.url}/admin")
        page.get_by_text("Team quotas").wait_for()
        page.get_by_text("over: uploads and launches refused").first.wait_for(state="attached")

        # The audit log's filters rerun only the log (a fragment): the rest of the page stays.
        actor = page.get_by_label("Actor", exact=True)
        actor.fill("nobody")
        actor.press("Enter")
        page.get_by_text("No audit events match.").wait_for()
        actor.fill("alice")
        actor.press("Enter")
        page.get_by_text(re.compile(r"^[\d,]+ event\(s\); showing \d+ from #1\.$")).wait_for()
        # The fragment's last answer stays on screen (stale) until its new run ends: it goes then.
        empty = page.get_by_text("No audit events match.")
        wait_until(lambda e=empty: e.count() == 0, timeout=10, what="the empty answer gone")
        assert page.get_by_text("Team quotas").count() == 1 and "Traceback" not in page.content()
