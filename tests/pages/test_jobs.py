from __future__ import annotations

import base64
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.store import SYSTEM
from core.store import get_run
from core.store import open_store
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.waiting import wait_until


def _launch(at: AppTest, steps: int, interval: float, name: str = "") -> str:
    at.number_input(key="smoke_steps").set_value(steps)
    at.number_input(key="smoke_interval").set_value(interval)
    at.text_input(key="smoke_name").set_value(name)
    at.button(key="smoke_launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]


def _wait_until(run_id: str, statuses: set[str], timeout: float = 60) -> None:
    store = open_store(get_config())
    wait_until(
        lambda: get_run(store, run_id, viewer=SYSTEM).status in statuses,
        timeout=timeout,
        interval=0.1,
        what=f"run {run_id} to reach {statuses}",
    )


def test_launch_watch_and_finish(app: AppTest) -> None:
    open_page(app, "pages/jobs.py")
    run_id = _launch(app, steps=5, interval=0.0, name="*bold* [link](http://x)")
    _wait_until(run_id, {"succeeded"})
    app.run()
    assert not app.exception
    status = app.markdown[0].value
    assert status.startswith("**:material/check_circle: succeeded**")
    assert app.get("plotly_chart")  # the live chart
    assert app.selectbox(key="run_select").value == run_id
    assert not [b for b in app.button if b.key and b.key.startswith("stop_")]
    assert any("5 points" in c.value for c in app.caption)


def test_stop_button_stops_the_run(app: AppTest) -> None:
    open_page(app, "pages/jobs.py")
    run_id = _launch(app, steps=10_000, interval=0.05)
    _wait_until(run_id, {"running"})
    app.run()
    app.button(key=f"stop_{run_id}").click().run()
    assert not app.exception
    _wait_until(run_id, {"stopped"}, timeout=15)


def test_a_stop_that_arrives_just_after_the_run_ended_says_so(app: AppTest) -> None:
    """The page was drawn while the run trained; the run ends before the click lands: the click
    is answered above the buttons, and nothing is stored as a request."""
    from core.compute import control_log

    open_page(app, "pages/jobs.py")
    run_id = _launch(app, steps=40, interval=0.05)
    _wait_until(run_id, {"running"})
    app.run()
    stop = app.button(key=f"stop_{run_id}")  # drawn while running
    _wait_until(run_id, {"succeeded"})
    stop.click().run()
    assert not app.exception
    said = " ".join(plain(e.value) for e in app.error)
    assert f"Run {run_id[:8]} had already ended (succeeded) when the Stop arrived" in said
    assert control_log(open_store(get_config()), run_id, viewer=SYSTEM) == []


def test_reload_shows_the_run_from_the_url(app: AppTest) -> None:
    open_page(app, "pages/jobs.py")
    run_id = _launch(app, steps=3, interval=0.0)
    _wait_until(run_id, {"succeeded"})
    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/jobs.py", run=run_id)
    assert fresh.selectbox(key="run_select").value == run_id


def test_unknown_run_in_url_warns_and_falls_back(app: AppTest) -> None:
    open_page(app, "pages/jobs.py", run="0" * 32)
    assert not app.exception
    # The one not-found answer of every page (pages/_ui.py not_found), then the newest run.
    assert any("does not exist or is not shared with you" in plain(e.value) for e in app.error) or any(
        "No runs yet" in i.value for i in app.info
    )


def test_invalid_spec_shows_the_rule(app: AppTest) -> None:
    open_page(app, "pages/jobs.py")
    app.number_input(key="smoke_steps").set_value(5)
    app.number_input(key="smoke_fail_at").set_value(7)
    app.button(key="smoke_launch").click().run()
    assert not app.exception
    assert "`0 <= fail_at_step < steps` must hold, but got (fail_at_step=7, steps=5)." in plain(
        app.error[0].value
    )


def test_a_run_with_an_incomplete_spec_is_shown_not_crashed(app: AppTest) -> None:
    """A training run whose spec lacks parts (another Loom version, a hand edit) still opens."""
    from core.config import get_config
    from core.store import create_run
    from core.store import open_store

    run = create_run(open_store(get_config()), "train", {"type": "train", "epochs": 3}, name="partial")
    open_page(app, "pages/jobs.py", run=run.id)
    assert any("spec cannot be drawn" in e.value for e in app.error)


def _chart_traces(at: AppTest, prefix: str) -> dict[str, tuple[list, list]]:
    """The curves of the chart of ``prefix/`` metrics, by name: (x, y) as the browser gets them."""
    import json

    def values(sent: Any) -> list:
        # NumPy arrays travel as Plotly's typed arrays: base64 of the raw values, and their dtype.
        if isinstance(sent, dict) and "bdata" in sent:
            return np.frombuffer(base64.b64decode(sent["bdata"]), dtype=sent["dtype"]).tolist()
        return list(sent)

    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    for spec in charts:
        traces = {t["name"]: (values(t["x"]), values(t["y"])) for t in spec["data"]}
        if traces and all(name.rpartition("/")[0] == prefix for name in traces):
            return traces
    raise AssertionError(f"no chart of {prefix}/ metrics among {len(charts)}")


def test_a_long_run_is_drawn_small_and_a_window_in_full(app: AppTest) -> None:
    """50,000 points per curve are drawn as at most 2,000 that keep the extremes; new points are
    appended on the next rerun; a step window is read point by point."""
    from core.store import create_run
    from core.store import write_metrics

    store = open_store(get_config())
    n = 50_000
    run_id = create_run(store, "smoke", {"type": "smoke", "steps": n}, name="long").id
    values = [1.0 + ((s * 7919) % 1000) / 1000 for s in range(n)]
    values[12_345] = 9.0  # a spike that must survive the downsampling
    for start in range(0, n, 10_000):
        write_metrics(
            store, run_id, [("batch/loss", s, values[s], 0.0) for s in range(start, start + 10_000)]
        )
    open_page(app, "pages/jobs.py", run=run_id)
    xs, ys = _chart_traces(app, "batch")["batch/loss"]
    assert len(xs) <= 2000 and max(ys) == 9.0 and min(ys) == min(values)
    assert any(c.value.startswith("50000 points") for c in app.caption)

    write_metrics(store, run_id, [("batch/loss", n + i, 0.5, 0.0) for i in range(10)])
    app.run()
    assert not app.exception
    xs, ys = _chart_traces(app, "batch")["batch/loss"]
    assert xs[-10:] == list(range(n, n + 10)) and ys[-1] == 0.5
    assert app.session_state[f"curves_{run_id}_None"].appended == 10  # appended, not re-read

    app.number_input(key=f"zoom_lo_{run_id}_batch").set_value(12_000)
    app.number_input(key=f"zoom_hi_{run_id}_batch").set_value(12_999).run()
    assert not app.exception
    xs, ys = _chart_traces(app, "batch")["batch/loss"]
    assert xs == list(range(12_000, 13_000)) and ys == values[12_000:13_000]


def test_the_live_chart_appends_points_while_the_run_streams(app: AppTest) -> None:
    open_page(app, "pages/jobs.py")
    run_id = _launch(app, steps=400, interval=0.02)
    store = open_store(get_config())

    def points() -> int:
        from core.store import get_metrics

        return sum(len(m.steps) for m in get_metrics(store, run_id, viewer=SYSTEM).values())

    wait_until(lambda: points() >= 5, timeout=30, interval=0.05, what="the first points")
    app.run()
    first = app.session_state[f"curves_{run_id}_None"]
    wait_until(lambda: points() >= first.drawn + 20, timeout=30, interval=0.05, what="more points")
    app.run()
    assert not app.exception
    later = app.session_state[f"curves_{run_id}_None"]
    assert later.appended >= 20 and later.drawn >= first.drawn + 20
    _wait_until(run_id, {"succeeded"})
    app.run()
    assert not app.exception
    assert sum(app.session_state[f"curves_{run_id}_None"].stored.values()) == points() == 400
    xs, _ = _chart_traces(app, "")["loss"]
    assert xs == sorted(set(xs)) and len(xs) == 400  # every point once, in order
