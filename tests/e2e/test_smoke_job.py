"""The foundation's smoke path in a real browser: launch, watch points arrive, stop, reload."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import drawn_curve
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _points(page) -> int:  # type: ignore[no-untyped-def]
    text = page.get_by_text(re.compile(r"^\d+ points · run")).first.inner_text()
    return int(text.split()[0])


def _wait_points_above(page, n: int, timeout: float = 60) -> int:  # type: ignore[no-untyped-def]
    last = [-1]

    def above() -> bool:
        try:
            last[0] = _points(page)
        except Exception:  # noqa: BLE001 - the element is replaced on every refresh
            last[0] = -1
        return last[0] > n

    wait_until(
        above, timeout=timeout, interval=0.25, what=lambda: f"the chart to pass {n} points (last {last[0]})"
    )
    return last[0]


def test_launch_watch_stop_reload(app_server, page) -> None:  # type: ignore[no-untyped-def]
    # A deep link is the first request this server sees: it must still get app.py's navigation.
    page.goto(f"{app_server.url}/jobs")
    page.get_by_role("button", name="Launch").wait_for()
    nav = page.get_by_test_id("stSidebarNav").inner_text().split()
    assert "Cluster" in nav and "ui" not in nav and "app" not in nav, f"legacy sidebar: {nav}"
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"run=[0-9a-f]{32}"))
    run_id = page.url.split("run=")[1][:32]

    # The chart gains points while we watch, without any reload: st.fragment(run_every=...).
    first = _wait_points_above(page, 0)
    later = _wait_points_above(page, first + 3)
    assert later > first
    page.locator(".js-plotly-plot").first.wait_for()

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped on request").wait_for()
    page.wait_for_timeout(1000)  # the page redraws once as a finished run: nothing marks that redraw
    stopped_at = _points(page)
    page.wait_for_timeout(1500)  # the scenario: time in which a late point would show up
    assert _points(page) == stopped_at, "points kept arriving after the stop"

    # A reload (or a teammate opening the URL) rebuilds the same view from the store.
    page.goto(f"{app_server.url}/jobs?run={run_id}")
    page.get_by_text("stopped on request").wait_for()
    assert _points(page) == stopped_at, "the reloaded page shows other points than before"
    # Curves travel as typed binary arrays: the browser's Plotly decoded them into the points.
    page.locator(".js-plotly-plot").first.wait_for()
    x, y = drawn_curve(page, "loss")
    assert 0 < len(y) == len(x) <= stopped_at
    assert all(isinstance(v, int | float) and v == v for v in y), y[:5]
    assert x == sorted(x) and x[0] >= 0, x[:5]


def test_cluster_page_shows_a_worker(app_server, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_server.url}/cluster")
    page.get_by_text("Workers").first.wait_for()
    page.get_by_role("link", name="Open the Dask dashboard").wait_for()
    assert "tcp://127.0.0.1:" in page.content()
