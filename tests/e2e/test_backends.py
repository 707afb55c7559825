"""A PyTorch run in a real browser, with accounts off and on: picked on the Train page, launched,
trained in a process of its own beside the app's TensorFlow worker (a process cluster), its curve
drawn live on the Jobs page and the run finished there; the backend recorded on the run. A second
PyTorch run then trains in the same process, kept warm, and its page says so.

The dataset is written into the store before the app starts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.e2e.test_smoke_job import _points
from tests.e2e.test_smoke_job import _wait_points_above
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


Seeded = IrisApp


@pytest.fixture(scope="module", params=ACCOUNTS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from iris_app(request, tmp_path_factory, "e2e-backends")


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _launch(seeded: Seeded, pg, epochs: int, backend: str = "PyTorch", batch: int | None = None) -> str:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/train?dataset={seeded.iris}")
    pg.get_by_text(re.compile(r"Input \(.*\) · [0-9,]+ parameters")).wait_for()
    pick(pg, "Backend", backend)
    fields = {"Epochs": epochs} | ({"Batch size": batch} if batch else {})
    for label, value in fields.items():
        box = pg.get_by_label(label)
        box.fill(str(value))
        box.press("Enter")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"), timeout=60_000)
    return str(pg.url.split("run=")[1][:32])


def test_a_pytorch_run_from_the_train_page(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    run_id = _launch(seeded, pg, 60)
    store = open_store(seeded.config)
    run = get_run(store, run_id, viewer=SYSTEM)
    assert run.spec["backend"] == "torch"

    first = _wait_points_above(pg, 0, timeout=120)  # drawn live
    wait_until(  # 60 epochs; 180 s ran out with a second test process on the two cores
        lambda: get_run(store, run_id, viewer=SYSTEM).status == "succeeded",
        timeout=360,
        interval=0.5,
        what="the PyTorch run to succeed",
    )
    run = get_run(store, run_id, viewer=SYSTEM)
    assert run.result_json["environment"]["backend"] == "torch"
    pg.get_by_text("validation accuracy").first.wait_for(timeout=60_000)  # its results, on the page
    assert _points(pg) >= first
    pg.get_by_text(re.compile(r"backend torch")).first.wait_for(timeout=30_000)  # "Ran with ..."

    # The next PyTorch run on that worker trains in the same, now warm, process; the page says so.
    again = _launch(seeded, pg, 3)
    wait_until(
        lambda: get_run(store, again, viewer=SYSTEM).status == "succeeded",
        timeout=120,
        interval=0.5,
        what="the second PyTorch run to succeed",
    )
    assert run.result_json["environment"]["process"] == "new"
    assert get_run(store, again, viewer=SYSTEM).result_json["environment"]["process"] == "warm"
    pg.get_by_text(re.compile(r"process warm")).first.wait_for(timeout=30_000)


# Which backends each accounts mode clicks through (one training run each keeps the suite short).
CLICKED = {None: ["TensorFlow", "PyTorch"], "ann": ["JAX"]}
# Twenty clicks, the last a Stop.
CLICKS = ["Pause", "Set", "Resume"] * 6 + ["Pause", "Stop"]


def test_twenty_controls_at_random_moments_are_all_taken(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    """Per backend, one live run gets twenty clicks (pause, resume, learning rate, then Stop),
    each at a random moment of the live view's half-second redraw, the next one as soon as the
    last is stored: every click is stored at once, shown, and answered by the run."""
    import random

    from core.compute import control_log

    store = open_store(seeded.config)
    rng = random.Random(25)
    for backend in CLICKED[seeded.user]:
        # One row a batch: JAX trains iris's 1,000 epochs of 8-row batches in 20 s, before the
        # twentieth click; at one row a batch the run stays live for minutes.
        run_id = _launch(seeded, pg, 1000, backend, batch=1)
        _wait_points_above(pg, 0, timeout=180)
        for i, name in enumerate(CLICKS, 1):
            pg.wait_for_timeout(rng.uniform(0, 1000))
            pg.get_by_role("button", name=name, exact=True).click()
            wait_until(
                lambda i=i, run_id=run_id: len(control_log(store, run_id, viewer=SYSTEM)) == i,
                timeout=10,
                interval=0.1,
                what=f"click {i} ({name}) on the {backend} run in the store",
            )
        run = wait_until_ended(store, run_id, 60)
        assert run.status == "stopped", run.status_reason
        log = control_log(store, run_id, viewer=SYSTEM)
        assert [r.action for r in log] == [{"Set": "set_lr"}.get(c, c.lower()) for c in CLICKS]
        assert all(r.state in ("taken", "answered") for r in log), [r for r in log if r.state == "requested"]
        assert log[-1].step is not None  # the step where the stop took effect
        pg.get_by_text("stopped at step").first.wait_for(timeout=30_000)
