"""Upload through the browser, see the profile; a bad file shows its message, not a traceback;
after an ingest "Add a dataset" folds and lets go of the file; a zip bomb is named as one."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import open_add_dataset
from tests.waiting import wait_until

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
    # Issue 27: the ingest is done, so "Add a dataset" folds, and opened again it holds no file.
    ingest = page.get_by_role("button", name="Ingest")
    wait_until(lambda: not ingest.is_visible(), timeout=10, what='"Add a dataset" folded after the ingest')
    page.get_by_text("Add a dataset").click()
    ingest.wait_for()
    assert ingest.is_disabled() and page.get_by_test_id("stFileUploader").get_by_text("iris.csv").count() == 0


def test_bad_csv_shows_the_line(app_server, page) -> None:  # type: ignore[no-untyped-def]
    open_add_dataset(page, app_server.url)
    page.locator('input[type="file"]').set_input_files(str(ROOT / "tests" / "corpus" / "ragged_short.csv"))
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("Line 3 has 2 fields, too few for the 3 columns").wait_for()
    page.get_by_text("Nothing was stored").first.wait_for()
    assert "Traceback" not in page.content()


def test_upload_cp1252_csv_is_detected_and_decoded(app_server, page) -> None:  # type: ignore[no-untyped-def]
    # Encoding left on "detect": not UTF-8, so Loom reads it as cp1252 and says so.
    open_add_dataset(page, app_server.url)
    page.locator('input[type="file"]').set_input_files(str(ROOT / "tests" / "corpus" / "cp1252.csv"))
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_url("**/data?dataset=*")
    page.get_by_text("encoding 'cp1252'").wait_for()
    page.get_by_text("Müller").first.wait_for(state="attached")  # canvas grid: cells are hidden
    page.get_by_text("naïve").first.wait_for(state="attached")
    assert "Traceback" not in page.content()


def test_a_zip_bomb_is_named_as_one(app_server, page) -> None:  # type: ignore[no-untyped-def]
    # A 40 MB entry of zeros squeezed into 41 KB, under a name that is not an image's: refused for
    # its size and ratio (issue 27: it read "not a PNG or JPEG image").
    open_add_dataset(page, app_server.url)
    bomb = ROOT / "tests" / "corpus" / "zip_bomb_any_name.zip"
    page.locator('input[type="file"]').set_input_files(str(bomb))
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("would expand to 41.9 MB from").first.wait_for()
    text = page.get_by_text("would expand to 41.9 MB from").first.inner_text()
    assert "'payload/big.bin'" in text and ":1), over the limit of 200:1" in text and "a zip bomb" in text
    assert "not a PNG or JPEG" not in page.content() and "Traceback" not in page.content()
