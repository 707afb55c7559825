"""Rough edges of issue 17, each seen in a real browser, with accounts off and on: the Optimizer
Lab's two charts agree on each optimizer's colour; a node left unconnected on the pipeline
canvas is outlined in red at once (it took a reload); the Train page warns before launch when a
feature reaches the model unscaled on a scale far from the others'."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.pipeline import PipelineSpec
from core.pipeline import create_draft
from core.pipeline import save_version
from core.sharing import create_user
from core.sharing import local_viewer
from core.sharing import viewer_for
from core.store import open_store
from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import AppServer
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

RED = "rgb(221, 51, 51)"


class Seeded:
    def __init__(self, server: AppServer, user: str | None, iris: str, wine: str, wine_pipeline: str) -> None:
        self.server, self.user, self.iris, self.wine, self.wine_pipeline = (
            server,
            user,
            iris,
            wine,
            wine_pipeline,
        )


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-edges")
    store = open_store(AppConfig.for_data_dir(root / "data"))
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    who = viewer_for(store, "ann") if on else local_viewer()
    author = who.name
    iris = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris.csv", author=author)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(0, 1, 300) for i in range(6)})
    frame["proline"] = rng.normal(750, 300, 300)  # hundreds of times wider than the rest
    frame["label"] = rng.integers(0, 3, 300)
    frame.to_csv(root / "wine_like.csv", index=False)
    wine = ingest_file(store, root / "wine_like.csv", "csv", "wine_like.csv", author=author)
    partial = PipelineSpec.chain(
        wine.id, "label", ["split", {"type": "standardize", "columns": ["f0", "f1"]}]
    )
    draft = create_draft(store, "two scaled", partial, viewer=who)
    version = save_version(store, draft.id, viewer=who)
    store.engine.dispose()
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(server, user, iris.id, wine.id, version.id)
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    if seeded.user:
        page.goto(f"{seeded.server.url}/")
        page.get_by_label("User name").fill(seeded.user)
        page.get_by_label("Password", exact=True).fill(f"{seeded.user}-password-long")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(f"Signed in as {seeded.user}").wait_for()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
    context.close()


_TRACE_COLOURS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    el => Object.fromEntries((el._fullData || []).filter(t => t.type === 'scatter' || t.type === 'scattergl')
        .map(t => [t.name, t.line && t.line.color])))"""


def test_optimizer_lab_charts_agree_on_colours(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/optimizer_lab")
    pg.get_by_text("Optimizers (1-4)").wait_for()
    wait_until(
        lambda: (
            len(pg.evaluate(_TRACE_COLOURS)) == 2 and all(len(c) == 3 for c in pg.evaluate(_TRACE_COLOURS))
        ),
        timeout=60,
        interval=0.5,
        what="both Lab charts with three optimizers",
    )
    paths, losses = pg.evaluate(_TRACE_COLOURS)
    assert set(paths) == {"sgd", "momentum", "adam"}
    assert paths == losses, f"the contour and the loss chart disagree: {paths} vs {losses}"
    assert len(set(paths.values())) == 3


def test_unconnected_node_is_outlined_at_once(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/pipeline")
    pg.get_by_text("New pipeline").click()  # folded: the seeded pipeline exists
    name = pg.get_by_label("Name")
    name.fill("edges")
    name.press("Enter")
    pg.get_by_label("Dataset", exact=True).click()
    pg.get_by_role("option", name="iris.csv · 150 rows").click()
    pg.wait_for_timeout(1000)  # the pick reruns the page; a click during a rerun can be lost
    pg.get_by_role("button", name="Create").click()
    wait_until(
        lambda: pg.get_by_role("combobox", name="Pipeline", exact=True).input_value() == "edges",
        timeout=30,
        interval=0.2,
        what="the new pipeline to open",
    )
    frames = pg.locator("iframe[title='streamlit_flow.streamlit_flow']")
    wait_until(lambda: frames.count() == 1, timeout=30, interval=0.2, what="the old canvas to go")
    canvas = pg.frame_locator("iframe[title='streamlit_flow.streamlit_flow']")
    canvas.get_by_text("Train/validation/test split (s1)").wait_for()
    pg.wait_for_timeout(1000)  # let the page settle: a rerun closes an open list
    box = pg.get_by_role("combobox", name="Add a step")
    box.click()
    box.fill("Standardize")
    pg.get_by_role("option", name="Standardize (z-score)", exact=True).click()
    pg.get_by_role("button", name="Add step").click()
    node = canvas.locator('.react-flow__node[data-id="s2"]')
    node.wait_for()
    # A new Standardize starts on the numeric features: nothing to flag.
    assert RED not in (node.get_attribute("style") or "")
    pg.locator("iframe[title='streamlit_flow.streamlit_flow']").scroll_into_view_if_needed()
    canvas.locator('[data-testid="rf__edge-s1-s2"]').click(button="right", force=True)
    canvas.get_by_text("Delete Edge").click()
    wait_until(
        lambda: RED in (node.get_attribute("style") or ""),
        timeout=10,
        interval=0.2,
        what="the unconnected node's red outline, without a reload",
    )
    assert canvas.locator('[data-testid="rf__edge-s1-s2"]').count() == 0
    assert "Traceback" not in pg.content()


def test_train_warns_about_an_unscaled_feature(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/train?dataset={seeded.wine}")
    pg.get_by_label("Pipeline").click()
    pg.get_by_role("option", name="two scaled v1").click()
    pg.get_by_text("'proline'").wait_for()
    assert "'f3'" not in pg.get_by_test_id("stAlertContentWarning").inner_text()
    # Loom's default pipeline scales every feature: no warning.
    pg.goto(f"{url}/train?dataset={seeded.iris}")
    pg.get_by_role("button", name="Launch").wait_for()
    pg.wait_for_timeout(1000)
    assert pg.get_by_text("are not scaled").count() == 0
