"""Seed groups and alerts in a real browser, with accounts off and on: "Repeat with N seeds" on
the Train page launches 3 real runs as one group; Experiments opens on the group with its final
metric's spread and its band (a filled Plotly area); Compare shows the group beside its runs;
an alert added on a run's page fires once, is shown there, and reaches a local webhook receiver
configured as the operator's notification URL.

The dataset is written into the store before the app starts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.experiments import group_members
from core.store import SYSTEM
from core.store import get_events
from core.store import get_run
from core.store import open_store
from tests.core.alerts.test_alerts import _Receiver
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@dataclass
class Seeded(IrisApp):
    receiver: _Receiver  # LOOM_ALERT_URLS: every fired alert is posted here


@pytest.fixture(scope="module", params=ACCOUNTS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    receiver = _Receiver()
    for app in iris_app(request, tmp_path_factory, "e2e-groups", LOOM_ALERT_URLS=receiver.url):
        yield Seeded(app.server, app.config, app.user, app.iris, receiver)
    receiver.close()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _band_drawn(pg) -> None:  # type: ignore[no-untyped-def]
    """A Plotly chart with a filled band (the group's spread) and a mean line."""
    pg.locator(".js-plotly-plot path.js-fill").first.wait_for(timeout=60_000)
    pg.locator(".js-plotly-plot path.js-line").first.wait_for(timeout=60_000)


def test_repeat_with_three_seeds_then_the_group_band_and_an_alert(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/train?dataset={seeded.iris}")
    pg.get_by_text(re.compile(r"Input \(.*\) · [0-9,]+ parameters")).wait_for()
    for label, value in (("Epochs", "3"), ("Repeat with N seeds", "3")):
        box = pg.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Enter")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"/experiments\?group=[0-9a-f]{32}"), timeout=60_000)
    group_id = pg.url.split("group=")[1][:32]
    store = open_store(seeded.config)
    members = group_members(store, group_id, viewer=SYSTEM)
    assert len(members) == 3
    runs = [get_run(store, r, viewer=SYSTEM) for r in members]
    assert [r.spec["seed"] for r in runs] == [0, 1, 2] and len({r.author for r in runs}) == 1
    if seeded.user:
        assert runs[0].author == seeded.user
    for run_id in members:
        wait_until(
            lambda run_id=run_id: get_run(store, run_id, viewer=SYSTEM).status == "succeeded",
            timeout=240,
            interval=0.5,
            what="the group's runs to succeed",
        )

    pg.reload()
    pg.get_by_role("heading", name="Seed group").wait_for(timeout=60_000)
    table = pg.get_by_test_id("stDataFrame").first
    table.wait_for()
    _band_drawn(pg)
    pg.get_by_text("±1 std").first.click()
    _band_drawn(pg)

    # Compare: the group's runs, the group's spread and band.
    pg.goto(f"{url}/compare?runs={','.join(members)}")
    pg.get_by_role("heading", name="Groups").wait_for(timeout=60_000)
    _band_drawn(pg)

    # Experiments grouped by a setting of the runs' spec.
    pg.goto(f"{url}/experiments?group_by=model")
    pg.get_by_role("heading", name="Groups").wait_for(timeout=60_000)
    _band_drawn(pg)

    # An alert on the first run: it finished, so it fires at once, once.
    pg.goto(f"{url}/jobs?run={members[0]}")
    pg.get_by_role("heading", name="Alerts").wait_for(timeout=60_000)
    pick(pg, "When", "the run succeeded or was stopped")
    pg.get_by_role("button", name="Add alert").click()
    wait_until(
        lambda: any(e.kind == "alert" for e in get_events(store, members[0], viewer=SYSTEM)),
        timeout=60,
        interval=0.5,
        what="the alert to fire",
    )
    pg.reload()
    pg.get_by_text("Alert fired").wait_for(timeout=60_000)
    wait_until(lambda: len(seeded.receiver.received) == 1, timeout=30, interval=0.2, what="the webhook")
    assert "finished (succeeded)" in seeded.receiver.received[0]["message"]
    pg.wait_for_timeout(3_000)  # several evaluations later: still once
    assert len(seeded.receiver.received) == 1
    assert sum(e.kind == "alert" for e in get_events(store, members[0], viewer=SYSTEM)) == 1

    # A malformed URL: the rule is saved, its error shown; the run is unaffected.
    pg.get_by_label("Notification URL (optional, Apprise)").fill("not a url")
    pg.get_by_role("button", name="Add alert").click()
    pg.get_by_text(re.compile("The alert was saved, but its URL cannot be used")).wait_for(timeout=30_000)
    assert get_run(store, members[0], viewer=SYSTEM).status == "succeeded"
