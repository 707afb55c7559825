"""An MNIST-shaped ``.npz`` uploaded in a real browser, accounts off and on: it ingests through
the Data page, and the page shows the grid of its first images, each under its label; the Train
page's default pipeline splits by the file's own ``split`` column and says so, and a run of the
article's network launches validated on another (test) file, as Keras's ``validation_data``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.sharing import create_user
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.mnist_like import write_npz
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@dataclass
class Seeded:
    server: AppServer
    user: str | None
    npz: Path
    labels: list[str]


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-images")
    store = open_store(AppConfig.for_data_dir(root / "data"))
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    store.engine.dispose()
    npz = root / "mnist_like.npz"
    write_npz(npz, 2_000, 400, seed=6)
    labels = [str(v) for v in np.load(npz)["y"][:24]]
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(server, user, npz, labels)
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def test_upload_an_npz_and_see_the_image_grid(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pg.goto(f"{seeded.server.url}/data")
    header, ingest = pg.get_by_text("Add a dataset"), pg.get_by_role("button", name="Ingest")
    header.wait_for()
    for _ in range(4):  # open the expander; a rerun landing on a click may close it again
        try:
            ingest.wait_for(state="visible", timeout=3_000)
            break
        except PlaywrightTimeout:
            header.click()
    pg.locator('input[type="file"]').set_input_files(str(seeded.npz))
    pg.get_by_role("button", name="Ingest").click()
    pg.wait_for_url("**/data?dataset=*", timeout=120_000)
    pg.get_by_text("The first 24 of 2,400 images, each captioned with its label.").wait_for()
    captions = pg.get_by_test_id("stImageCaption")
    wait_until(lambda: captions.count() == 24, timeout=30, interval=0.2, what="24 captioned images")
    assert captions.all_inner_texts() == seeded.labels
    images = pg.get_by_test_id("stImage").locator("img")
    assert images.count() == 24
    wait_until(
        lambda: all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(24)),
        timeout=30,
        interval=0.2,
        what="every thumbnail loaded",
    )
    assert "Traceback" not in pg.content()

    # Train on it: Loom's default pipeline splits by the file's own split column, and says so.
    dataset = pg.url.split("dataset=")[1].split("&")[0]
    pg.goto(f"{seeded.server.url}/train?dataset={dataset}")
    pg.get_by_text(re.compile(r"Split: by the dataset's own\s+split\s+column")).wait_for(timeout=60_000)
    assert "Traceback" not in pg.content()

    # Validate on another file (Keras's validation_data): every uploaded row trains. The
    # article's network is the first template.
    store = open_store(AppConfig.for_data_dir(seeded.server.data_dir))
    write_npz(seeded.npz.parent / "test.npz", 0, 200, seed=7)
    test = ingest_file(
        store, seeded.npz.parent / "test.npz", "npz", "mnist-like test", author=seeded.user or ""
    )
    pg.reload()
    pg.get_by_text(re.compile(r"Split: by the dataset's own\s+split\s+column")).wait_for(timeout=60_000)
    pick(pg, "Validate on", "mnist-like test", exact=False)
    pg.get_by_text(re.compile(r"Trains on all 2,400 rows of .* validates on the 200 rows")).wait_for(
        timeout=60_000
    )
    pg.get_by_text(re.compile(r"· 693,962 parameters")).wait_for()
    epochs = pg.get_by_label("Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"), timeout=60_000)
    run_id = pg.url.split("run=")[1][:32]
    assert get_run(store, run_id, viewer=SYSTEM).spec_json["validation_dataset"] == test.id
    run = wait_until_ended(store, run_id, 240)
    assert run.status == "succeeded", run.status_reason
    assert run.result_json["rows"] == {"train": 2_400, "validation": 200, "test": 0}
    store.engine.dispose()
