"""Projects in a real browser (issue 26).

Accounts on: alice makes the team project "Images" (team vision) on the Projects page and makes
carol (team nlp) its viewer; the sidebar carries the project to the Jobs page, where she launches
a smoke job into it. bob (team vision) switches to the project and sees the run; carol opens the
project's deep link, sees the run read only, with no Launch. alice deletes the project: bob's
link to it gets the not-found answer and the run leaves his lists; alice restores it, and a cold
open of ``/jobs?project=<id>`` shows the project in bob's sidebar again.

Accounts off: a project made on the Projects page, the Jobs page's list following the switcher.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.config import AppConfig
from core.sharing import add_member
from core.sharing import create_team
from core.sharing import create_user
from core.store import open_store
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import pick
from tests.e2e.conftest import wait_for_session_cookie
from tests.e2e.test_accounts import _settled

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

GONE = "This project does not exist or is not shared with you."


# Function scope (each module has one test per server): a rerun of a failed first try gets a
# fresh app, not one where its "Images" already exists (seen in a full run, stop 37).
@pytest.fixture
def teams_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data = tmp_path_factory.mktemp("e2e-projects") / "data"
    store = open_store(AppConfig.for_data_dir(data))
    for name in ("alice", "bob", "carol"):
        create_user(store, name, f"{name}-password-long")
    for team in ("vision", "nlp"):
        create_team(store, team)
    for team, member in (("vision", "alice"), ("vision", "bob"), ("nlp", "carol")):
        add_member(store, team, member)
    store.engine.dispose()
    server = AppServer(data, LOOM_AUTH="on")
    yield server
    server.stop()


def _person(browser, url: str, name: str, path: str):  # type: ignore[no-untyped-def]
    """``name`` signed in, in a browser of their own, on ``path`` (the page they asked for)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}{path}")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(f"{name}-password-long")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for()
    wait_for_session_cookie(context)
    return context, page


def _sidebar_project(page) -> str:  # type: ignore[no-untyped-def]
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Project").input_value()


def _nav(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def test_a_team_works_in_a_project(teams_server, browser) -> None:  # type: ignore[no-untyped-def]
    url = teams_server.url
    contexts = []
    try:
        a_ctx, alice = _person(browser, url, "alice", "/projects")
        contexts.append(a_ctx)
        alice.get_by_text("Create a project", exact=True).click()
        alice.get_by_label("Name", exact=True).fill("Images")
        pick(alice, "Owner", "team vision")
        alice.get_by_role("button", name="Create project").click()
        alice.get_by_text("Created project Images").wait_for()
        alice.wait_for_url(re.compile(r"project=[0-9a-f]{32}"))
        project = re.search(r"project=([0-9a-f]{32})", alice.url).group(1)  # type: ignore[union-attr]
        assert _sidebar_project(alice) == "vision / Images (admin)"
        alice.get_by_label("User", exact=True).fill("carol")
        pick(alice, "Role", "viewer")
        alice.get_by_role("button", name="Set role").click()
        alice.get_by_text("carol is now a viewer in vision / Images").wait_for()

        # The sidebar's page links drop the query; the tab writes the project back.
        _nav(alice, "Jobs")
        alice.wait_for_url(f"**/jobs?project={project}")
        assert _sidebar_project(alice) == "vision / Images (admin)"
        steps = alice.get_by_label("Steps", exact=True)
        steps.fill("40")  # no Enter: in a form it would submit
        alice.get_by_label("Name (optional)").fill("images-smoke")
        alice.get_by_role("button", name="Launch").click()
        alice.wait_for_url(re.compile(r"run=[0-9a-f]{32}"))
        run_id = re.search(r"run=([0-9a-f]{32})", alice.url).group(1)  # type: ignore[union-attr]
        assert f"project={project}" in alice.url

        # bob, in team vision, picks the project and finds alice's run there.
        b_ctx, bob = _person(browser, url, "bob", "/jobs")
        contexts.append(b_ctx)
        pick(bob, "Project", "vision / Images (member)")
        bob.wait_for_url(f"**/jobs?project={project}")
        bob.get_by_text(re.compile(f"run `?{run_id}")).first.wait_for()

        # carol, a viewer, opens the project's link: the run, read only, nothing to launch.
        c_ctx, carol = _person(browser, url, "carol", f"/jobs?project={project}")
        contexts.append(c_ctx)
        carol.get_by_text(re.compile(f"run `?{run_id}")).first.wait_for()
        assert _sidebar_project(carol) == "vision / Images (viewer)"
        _settled(carol)
        assert carol.get_by_role("button", name="Launch").count() == 0
        assert carol.get_by_text("Launch the smoke job").count() == 0

        # alice deletes the project: what it holds is said first; it goes to the trash.
        _nav(alice, "Projects")
        alice.wait_for_url(f"**/projects?project={project}")
        alice.get_by_text("Delete this project").click()
        alice.get_by_text(re.compile(r"vision / Images holds 1 run")).wait_for()
        alice.get_by_text("Yes, put this project in the trash").click()
        alice.get_by_role("button", name="Delete project").click()
        alice.get_by_text("Moved vision / Images to the trash").wait_for()

        # bob's next page: the not-found answer, all his projects, and the run is gone from them.
        bob.goto(f"{url}/jobs?project={project}")
        bob.get_by_text(GONE).wait_for()
        text = _settled(bob)
        assert run_id not in text and "images-smoke" not in text
        assert _sidebar_project(bob) == "All my projects"

        # Restored, everything comes back; a cold open of the link shows the project in the sidebar.
        alice.get_by_role("button", name="Restore").click()
        alice.get_by_text("Restored vision / Images").wait_for()
        bob.goto(f"{url}/jobs?project={project}")
        bob.get_by_text(re.compile(f"run `?{run_id}")).first.wait_for()
        assert _sidebar_project(bob) == "vision / Images (member)"
        assert bob.get_by_text(GONE).count() == 0
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)  # each person's page as the failure left it
        for i, context in enumerate(contexts):
            for page in context.pages:
                page.screenshot(path=str(ARTIFACTS / f"test_a_team_works_in_a_project-{i}.png"))
        raise
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    server = AppServer(tmp_path_factory.mktemp("e2e-projects-off") / "data", LOOM_USER="dana")
    yield server
    server.stop()


def test_projects_without_accounts(local_server, page) -> None:  # type: ignore[no-untyped-def]
    url = local_server.url
    page.goto(f"{url}/projects")
    page.get_by_text("Create a project", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Images")
    page.get_by_role("button", name="Create project").click()
    page.get_by_text("Created project Images").wait_for()
    page.wait_for_url(re.compile(r"project=[0-9a-f]{32}"))
    project = re.search(r"project=([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    assert _sidebar_project(page) == "dana / Images"
    _nav(page, "Jobs")
    page.wait_for_url(f"**/jobs?project={project}")
    steps = page.get_by_label("Steps", exact=True)
    steps.fill("4")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"run=[0-9a-f]{32}"))
    run_id = re.search(r"run=([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    page.get_by_text(re.compile(r"Project: .*Images")).first.wait_for()
    # No wait for the run's end: the switch may land as the live view reruns the page for the
    # finished view (that left a blank page; tests/e2e/test_live_end_switch.py times it on purpose).
    # The other project lists nothing of it; all projects list it again.
    pick(page, "Project", "dana / Default")
    page.get_by_text("No runs yet").wait_for()
    pick(page, "Project", "All my projects")
    page.wait_for_url(re.compile(r"/jobs$|/jobs\?(?!.*project=)"))
    page.get_by_text(re.compile(f"run `?{run_id}")).first.wait_for()
