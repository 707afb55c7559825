"""A live run's chart in a real browser, with accounts off and on: the page redraws it while the
run streams (``pages/jobs.py``'s live fragment), the points travel as Plotly's typed binary
arrays and the browser decodes them into the curve, and once the run has stopped the curve holds
every point the store holds."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.store import SYSTEM
from core.store import get_metrics
from core.store import open_store
from tests.e2e.conftest import ACCOUNTS
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import IrisApp
from tests.e2e.conftest import drawn_curve
from tests.e2e.conftest import iris_app
from tests.e2e.conftest import open_page
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module", params=ACCOUNTS)
def live_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisApp]:
    yield from iris_app(request, tmp_path_factory, "e2e-live-chart")


@pytest.fixture
def pg(browser, live_app: IrisApp, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, live_app.server.url, live_app.user)


def _curve(pg) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    try:
        return drawn_curve(pg, "loss")
    except Exception:  # noqa: BLE001 - the chart is replaced while the fragment redraws
        return [], []


def test_the_live_curve_grows_without_a_reload_and_ends_with_every_point(live_app: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    url = live_app.server.url
    pg.goto(f"{url}/jobs")
    steps = pg.get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("2000")
    interval = pg.get_by_role("spinbutton", name="Seconds between steps", exact=True)
    interval.fill("0.02")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"run=[0-9a-f]{32}"))
    run_id = pg.url.split("run=")[1][:32]

    seen: list[int] = []

    def grew() -> bool:
        x, y = _curve(pg)
        assert len(x) == len(y)
        assert all(isinstance(v, int | float) and v == v for v in y), y[:5]  # decoded numbers
        assert x == sorted(x), x[:5]
        if y and (not seen or len(y) > seen[-1]):
            seen.append(len(y))
        return len(seen) >= 3

    # The same page, never reloaded: the fragment redraws the curve with the new points.
    wait_until(grew, timeout=60, interval=0.2, what=lambda: f"the curve to grow three times (lengths {seen})")

    pg.get_by_role("button", name="Stop").click()
    pg.get_by_text("stopped on request").wait_for()
    stored = get_metrics(open_store(live_app.config), run_id, viewer=SYSTEM)["loss"]
    wait_until(
        lambda: _curve(pg)[0] == stored.steps,
        timeout=30,
        interval=0.5,
        what=lambda: f"the stopped run's curve to hold its {len(stored.steps)} stored points",
    )
    assert _curve(pg)[1] == pytest.approx(stored.values)


# Titles as the app sent them (el.layout: Plotly's full layout fills an empty title with a
# placeholder), axis types as Plotly resolved them (el._fullLayout).
_LAYOUTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const l = el._fullLayout || {}, sent = el.layout || {};
    const text = k => ((sent[k] || {}).title || {}).text || '';
    const axes = Object.keys(l).filter(k => /^yaxis[0-9]*$/.test(k)).sort()
        .map(k => ({title: text(k), type: l[k].type}));
    const x = Object.keys(l).filter(k => /^xaxis[0-9]*$/.test(k)).sort().map(text);
    // Streamlit's theme wraps a title in <b>: the text is what a person reads.
    return {title: ((l.title || {}).text || '').replace(/<[^>]+>/g, ''), y: axes, x: x.filter(t => t),
            legend: l.showlegend ? [l.legend.orientation, l.legend.y] : null,
            traces: (el._fullData || []).map(t => [t.name, t.opacity, t.yaxis])};
})"""


def test_a_training_runs_charts_have_titles_and_one_axis_per_unit(live_app: IrisApp, pg) -> None:  # type: ignore[no-untyped-def]
    """The figures as Chromium drew them: every chart titled, loss and accuracy on separate y
    axes, CPU % and memory MB on separate linear ones, the legend above the plot; ``?smooth=``
    draws the smoothed curve over its faded raw values."""
    from tests.e2e.conftest import launch_training

    run_id = launch_training(pg, live_app.server.url, live_app.iris, epochs=40)

    def charts() -> dict[str, dict]:
        try:
            return {c["title"]: c for c in pg.evaluate(_LAYOUTS)}
        except Exception:  # noqa: BLE001 - the chart is replaced while the fragment redraws
            return {}

    wait_until(
        lambda: {"Per batch", "Per epoch", "System"} <= set(charts()),
        timeout=120,
        interval=0.5,
        what=lambda: f"the batch, epoch and system charts (drawn: {sorted(charts())})",
    )
    drawn = charts()
    for title, chart in drawn.items():
        assert title and chart["x"] and all(a["title"] for a in chart["y"]), chart
        if chart["legend"]:
            assert chart["legend"][0] == "h" and chart["legend"][1] >= 1, chart  # above the plot
    batch = drawn["Per batch"]
    assert [a["title"] for a in batch["y"]] == ["loss", "accuracy (fraction)"], batch
    assert batch["y"][1]["type"] == "linear" and batch["x"] == ["batch"]
    axis_of = {name: axis for name, _, axis in batch["traces"]}
    assert axis_of["batch/loss"] != axis_of["batch/accuracy"], axis_of
    system = drawn["System"]
    assert sorted(a["title"] for a in system["y"]) == ["memory (MB)", "usage (%)"], system
    assert {a["type"] for a in system["y"]} == {"linear"} and system["x"] == ["seconds"]
    assert drawn["Per epoch"]["x"] == ["epoch"]

    pg.goto(f"{live_app.server.url}/jobs?run={run_id}&smooth=0.6")
    wait_until(
        lambda: any(
            name == "batch/loss (raw)" and opacity < 0.5
            for name, opacity, _ in charts().get("Per batch", {}).get("traces", [])
        ),
        timeout=60,
        interval=0.5,
        what="the smoothed batch loss over its faded raw curve",
    )
