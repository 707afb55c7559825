"""Build a 3-step pipeline by clicking, select a node on the canvas, and see its preview."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import add_sample
from tests.e2e.conftest import flow_canvas

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_build_three_steps_and_preview(app_server, page) -> None:  # type: ignore[no-untyped-def]
    add_sample(page, app_server.url)

    page.goto(f"{app_server.url}/pipeline")
    name = page.get_by_label("Name")
    name.fill("iris prep")
    name.press("Enter")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/pipeline?pipeline=*")
    canvas = flow_canvas(page)
    canvas.get_by_text("Train/validation/test split (s1)").wait_for()

    for title in ("Fill missing values", "Standardize (z-score)"):
        page.get_by_label("Add a step").click()
        page.get_by_role("option", name=title, exact=True).click()
        page.get_by_role("button", name="Add step").click()
        page.get_by_role("heading", name=f"{title} (s").wait_for()

    canvas.get_by_text("Standardize (z-score) (s3)").wait_for()
    canvas.get_by_text("Fill missing values (s2)").click()
    page.wait_for_url("**node=s2*")
    page.get_by_role("heading", name="Preview after s2").wait_for()
    page.get_by_role("heading", name="Fill missing values (s2)").wait_for()
    assert "Traceback" not in page.content()
