"""Share a run: make a link on the run page, open it in a second browser, see the same curves."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_smoke_job import _points

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_share_a_run_and_open_it_in_a_fresh_browser(app_server, browser, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_server.url}/jobs")
    page.get_by_label("Steps", exact=True).fill("25")
    page.get_by_label("Seconds between steps").fill("0")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
    page.get_by_text("succeeded").first.wait_for(timeout=60_000)
    points = _points(page)
    run_id = page.url.split("run=")[1][:32]

    page.get_by_role("tab", name="Share").click()
    page.get_by_text("Share this view").click()
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_text(re.compile(r"/share\?token=")).first.inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/share\?token=[A-Za-z0-9_-]{43}", link), link

    teammate = browser.new_context(viewport={"width": 1300, "height": 900})  # no cookies, no session
    try:
        other = teammate.new_page()
        other.set_default_timeout(60_000)
        other.goto(link)
        other.wait_for_url(re.compile(rf"/jobs\?.*run={run_id}"))
        other.get_by_text(re.compile(r"^\d+ points · run")).first.wait_for()
        assert _points(other) == points
        assert other.get_by_role("button", name="Stop").count() == 0
        assert other.get_by_role("button", name="Launch").count() == 0
        # A tampered token gets the same answer as a missing run.
        other.goto(link[:-3] + "xyz")
        other.get_by_text("Not found: nothing exists at this link").wait_for()
    finally:
        teammate.close()
