"""Reports in a real browser, with accounts off and on: compose a report (a Markdown block and a
run's chart) on the Reports page, see the Markdown in the editor's preview before saving, save
it, download its HTML export, and open that file in Chromium from file:// with every network
request refused: its Plotly chart renders (a ``.js-plotly-plot`` with SVG paths) from the
inlined plotly.js, and no request left the page.

The run (a finished one with a loss curve) is written into the store before the app starts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import AppConfig
from core.reports import MarkdownBlock
from core.reports import RunChartBlock
from core.reports import get_report
from core.reports import list_reports
from core.sharing import create_user
from core.store import SYSTEM
from core.store import Run
from core.store import create_run
from core.store import open_store
from core.store import write_metrics
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

LOSSES = [1.0, 0.7, 0.45, 0.3, 0.22]


@dataclass
class Seeded:
    server: AppServer
    config: AppConfig
    user: str | None
    run_id: str


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-reports")
    config = AppConfig.for_data_dir(root / "data")
    store = open_store(config)
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    run = create_run(store, "smoke", {"type": "smoke", "steps": 5}, name="loss curve", author=user or "")
    write_metrics(store, run.id, [("epoch/val_loss", i + 1, v, 1000.0 + i) for i, v in enumerate(LOSSES)])
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    store.engine.dispose()
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(server, config, user, run.id)
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def test_compose_save_export_and_open_offline(seeded: Seeded, pg, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/reports")
    pg.get_by_label("New report").fill("Loss review")
    pg.get_by_role("button", name="Create report").click()
    pg.wait_for_url(re.compile(r".*report=[0-9a-f]{32}.*"))
    report_id = re.search(r"report=([0-9a-f]{32})", pg.url).group(1)  # type: ignore[union-attr]

    pg.get_by_role("button", name="Add block").click()  # Markdown text, the first type
    text = pg.get_by_label("Markdown")
    text.fill("# Findings\n\nThe loss *fell* to 0.22. <b>raw</b>")
    text.press("Control+Enter")  # commit the text area's value
    # The preview beside the editor shows it at once, raw HTML as text, before any save.
    preview = pg.locator(".st-key-report_preview")
    preview.get_by_role("heading", name="Findings").wait_for()
    preview.get_by_text("<b>raw</b>", exact=False).wait_for()
    assert preview.locator("b").count() == 0
    assert get_report(open_store(seeded.config), report_id, viewer=SYSTEM).latest_version == 1
    pick(pg, "Block", "Run chart")
    pg.get_by_role("button", name="Add block").click()
    pg.wait_for_timeout(1000)  # the new block's rerun: an open list would close under the click
    pick(pg, "Runs", "loss curve", exact=False, multi=True)
    pg.keyboard.press("Escape")
    pg.get_by_role("button", name="Save version").click()
    pg.wait_for_url(re.compile(r".*version=2.*"))

    store = open_store(seeded.config)
    saved = get_report(store, report_id, viewer=SYSTEM)
    assert saved.spec.blocks == (
        MarkdownBlock("# Findings\n\nThe loss *fell* to 0.22. <b>raw</b>"),
        RunChartBlock((seeded.run_id,), "epoch/val_loss"),
    )
    assert [r.id for r in list_reports(store, viewer=SYSTEM)] == [report_id]
    view = pg.locator(".st-key-report_block_0, .st-key-report_block_1")  # not the editor's preview
    view.get_by_role("heading", name="Findings").wait_for()
    view.locator(".js-plotly-plot").wait_for()
    # Saving kept the editor open, with its preview.
    preview.get_by_role("heading", name="Findings").wait_for()

    # A new visit to a report with blocks: the editor is folded and draws no preview, until
    # it is opened.
    pg.goto(f"{seeded.server.url}/reports?report={report_id}")
    view.locator(".js-plotly-plot").wait_for()
    assert preview.count() == 0
    pg.get_by_text("Edit this report").click()
    preview.get_by_role("heading", name="Findings").wait_for()
    preview.locator(".js-plotly-plot").wait_for()

    with pg.expect_download() as download:
        pg.get_by_role("button", name="Download HTML").click()
    path = tmp_path / "report.html"
    download.value.save_as(path)
    assert download.value.suggested_filename == "loss-review-v2.html"
    html = path.read_text()
    assert "&lt;b&gt;raw&lt;/b&gt;" in html and "<b>raw</b>" not in html
    assert not re.findall(r"<script[^>]*\bsrc=", html)  # plotly.js inlined, no CDN
    assert html.count("<script") >= 2  # plotly.js once, then the chart

    # The file alone, offline: every request that is not the file itself is refused and noted.
    context = browser.new_context(offline=True)
    asked: list[str] = []

    def refuse(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        page.get_by_role("heading", name="Findings").wait_for(timeout=30_000)
        page.locator(".js-plotly-plot .main-svg path").first.wait_for(state="attached", timeout=30_000)
        trace_ys = page.evaluate(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".map(d => d.data.map(t => Array.from(t.y)))"
        )
        assert trace_ys == [[LOSSES]]
        assert page.locator(".js-plotly-plot .scatterlayer path.js-line").count() == 1  # the curve drawn
        assert page.get_by_text("<b>raw</b>").count() == 1  # shown as text
        assert asked == []
    finally:
        context.close()
