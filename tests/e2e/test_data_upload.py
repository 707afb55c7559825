"""Upload through the browser, see the profile; a bad file shows its message, not a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_upload_csv_and_see_profile(app_server, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_server.url}/data")
    page.locator('input[type="file"]').set_input_files(str(ROOT / "assets" / "iris.csv"))
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_url("**/data?dataset=*")
    page.get_by_test_id("stMetricValue").filter(has_text="150").first.wait_for()
    page.get_by_role("tab", name="Columns").click()
    page.get_by_text("categorical").first.wait_for(state="attached")  # canvas grid: cells are hidden
    page.get_by_role("tab", name="Target").click()
    page.get_by_text("multiclass").first.wait_for()
    assert page.locator(".js-plotly-plot").count() >= 1


def test_bad_csv_shows_the_line(app_server, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_server.url}/data")
    page.get_by_text("Add a dataset").wait_for()
    page.wait_for_timeout(1000)  # let the first rerun settle the expander
    if not page.get_by_role("button", name="Ingest").is_visible():
        page.get_by_text("Add a dataset").click()
    page.locator('input[type="file"]').set_input_files(str(ROOT / "tests" / "corpus" / "ragged_short.csv"))
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("Line 3 has 2 fields, too few for the 3 columns").wait_for()
    page.get_by_text("Nothing was stored").first.wait_for()
    assert "Traceback" not in page.content()


def test_upload_cp1252_csv_is_detected_and_decoded(app_server, page) -> None:  # type: ignore[no-untyped-def]
    # Encoding left on "detect": not UTF-8, so Loom reads it as cp1252 and says so.
    page.goto(f"{app_server.url}/data")
    page.get_by_text("Add a dataset").wait_for()
    page.wait_for_timeout(1000)  # let the first rerun settle the expander
    if not page.get_by_role("button", name="Ingest").is_visible():
        page.get_by_text("Add a dataset").click()
    page.locator('input[type="file"]').set_input_files(str(ROOT / "tests" / "corpus" / "cp1252.csv"))
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_url("**/data?dataset=*")
    page.get_by_text("encoding 'cp1252'").wait_for()
    page.get_by_text("Müller").first.wait_for(state="attached")  # canvas grid: cells are hidden
    page.get_by_text("naïve").first.wait_for(state="attached")
    assert "Traceback" not in page.content()
