"""A long run in a real browser: 200,000 points per curve open as a chart of at most 2,000 points
(the browser gets the downsampled figure, drawn with WebGL), and a step window redraws it with
every point of the window."""

from __future__ import annotations

import re

import pytest

from core.store import SYSTEM

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

N = 200_000


def _long_run(data_dir) -> str:  # type: ignore[no-untyped-def]
    from core.config import AppConfig
    from core.store import Run
    from core.store import create_run
    from core.store import open_store
    from core.store import write_metrics

    store = open_store(AppConfig.for_data_dir(data_dir))
    run_id = create_run(store, "smoke", {"type": "smoke", "steps": N}, name="a long run").id
    for start in range(0, N, 20_000):
        write_metrics(
            store,
            run_id,
            [("batch/loss", s, 1.0 + (s * 7919 % 1000) / 1000, 0.0) for s in range(start, start + 20_000)],
        )
    with store.session(SYSTEM) as s:
        run = s.get(Run, run_id)
        run.status, run.status_reason, run.progress = "succeeded", "finished", 1.0
    return run_id


def _drawn(page) -> list[int]:  # type: ignore[no-untyped-def]
    """Points per curve, as Plotly holds them in the browser (``_fullData``: the curves arrive as
    typed binary arrays, which Plotly decodes there)."""
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".flatMap(p => (p._fullData || []).map(t => (t.x || []).length))"
    )


def test_a_long_run_opens_downsampled_and_zooms_to_every_point(app_server, page) -> None:  # type: ignore[no-untyped-def]
    run_id = _long_run(app_server.data_dir)
    page.goto(f"{app_server.url}/jobs?run={run_id}")
    page.get_by_text(re.compile(rf"^{N} points · run")).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    drawn = _drawn(page)
    assert drawn and max(drawn) <= 2000, drawn
    assert page.locator(".js-plotly-plot canvas").count() > 0  # WebGL (Scattergl) for long curves

    page.get_by_label("From step").fill("1000")
    page.get_by_label("From step").press("Enter")
    page.get_by_label("To step").fill("1999")
    page.get_by_label("To step").press("Enter")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".some(p => (p._fullData || []).some(t => (t.x || []).length === 1000))"
    )
