"""Population-based training in a real browser, with accounts off and on: start a small
population from the Tune page, watch its family tree grow while it trains (the live fragment),
and freeze a setting: the action shows among the population's events."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

_TREE = re.compile(r"Family tree: (\d+) segments of \d+ members")


def _segments(page) -> int:  # type: ignore[no-untyped-def]
    """The segments on the family tree, as its caption counts them (redrawn by the live fragment)."""
    text = page.get_by_text(_TREE).first.inner_text(timeout=30_000)
    match = _TREE.search(text)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module", params=ACCOUNTS)
def pbt_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisApp]:
    yield from iris_app(request, tmp_path_factory, "e2e-pbt")


@pytest.fixture
def pg(browser, pbt_app: IrisApp, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, pbt_app.server.url, pbt_app.user)


def _base_run(app: IrisApp) -> str:
    """A finished training run on iris owned by the app's user, for the population to start from
    (written to the store: the Train page's own launch is tests/e2e/test_training.py's)."""
    from core.data import get_dataset
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.sharing import local_viewer
    from core.sharing import viewer_for
    from core.store import SYSTEM
    from core.store import Run
    from core.store import create_run
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import default_pipeline

    store = open_store(app.config)
    owner = viewer_for(store, app.user) if app.user else local_viewer()
    ds = get_dataset(store, app.iris, viewer=SYSTEM)
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
    ).to_dict()
    run = create_run(store, "train", base, name="iris base", dataset_id=ds.id, author=owner.name)
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    store.engine.dispose()
    return run.id


def _fill(page, label: str, value: float) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)  # the rerun that takes the number: nothing on the page marks it


def test_start_a_population_watch_its_tree_grow_and_freeze_a_setting(pbt_app: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    url = pbt_app.server.url
    base = _base_run(pbt_app)
    pg.goto(f"{url}/tune?base={base}")
    pg.get_by_text("Start from training run").wait_for(timeout=120_000)
    pg.get_by_text("Population-based training", exact=True).click()
    pg.get_by_role("button", name="Start population").wait_for()
    _fill(pg, "Members", 3)
    _fill(pg, "Epochs per member", 4)
    _fill(pg, "Exploit every (epochs)", 1)
    _fill(pg, "Resample chance", 0.5)
    pg.get_by_role("button", name="Start population").click()
    pg.wait_for_url(re.compile(r"/tune\?study=[0-9a-f]{32}"), timeout=60_000)
    pg.get_by_text("Population-based training · 3 members × 4 epochs", exact=False).wait_for()
    pg.get_by_text("each setting redrawn from the space with chance 50%", exact=False).wait_for()
    stop = pg.get_by_role("button", name="Stop population")
    stop.wait_for()

    # While it trains, freeze the learning rate (the only setting explored).
    pg.get_by_role("button", name="Freeze it").click()
    pg.get_by_text(re.compile(r"froze optimizer\.learning_rate: explore leaves it as it is")).wait_for(
        timeout=60_000
    )

    seen: list[int] = []

    def grown() -> bool:
        try:
            seen.append(_segments(pg))
        except Exception:  # noqa: BLE001 - the chart is replaced while the fragment redraws
            return False
        return seen[-1] >= 6

    # The tree grows round by round while we watch (3 members: 3 segments a round).
    wait_until(grown, timeout=400, interval=1, what=lambda: f"two rounds on the tree (seen: {seen[-5:]})")
    assert min(seen) < 6, f"the tree should grow while we watch: {seen}"
    pg.get_by_text(re.compile(r"member \d copied member \d at epoch \d")).first.wait_for(timeout=400_000)
    stop.wait_for(state="detached", timeout=400_000)  # it finished: the board without the fragment
    assert _segments(pg) == 12
