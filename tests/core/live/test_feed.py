"""core.live: one shared feed per run per process (issue 28's live latency with 50 viewers).

Viewers on threads, as Streamlit runs sessions: every point once and in order from the first,
one figure per state for all of them, each viewer's access checked before anything shared,
feeds dropped when their run ends, when idle and past the bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import plotly.io
import pytest

from core.charts import get_run_chart_groups
from core.charts import plot_metric_curves
from core.errors import NotFoundError
from core.live import _feed
from core.live import forget_feeds
from core.live import live_figure
from core.live import live_frame
from core.live import run_markers
from core.store import SYSTEM
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import write_metrics
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def _fresh_feeds() -> Iterator[None]:
    forget_feeds()
    yield
    forget_feeds()


def _run(store: Store, author: str = "alice") -> str:
    return create_run(store, "smoke", {"type": "smoke", "steps": 1}, author=author).id


def _end(store: Store, run_id: str) -> None:
    with store.session(SYSTEM) as s:
        s.get(Run, run_id).status = "succeeded"


def test_viewers_on_threads_see_every_point_once_in_order_and_share_figures(store: Store) -> None:
    run_id = _run(store)
    write_metrics(store, run_id, [("loss", s, float(s), 0.0) for s in range(5)])  # before anyone watched
    n, viewers = 1_500, 8
    done = threading.Event()
    problems: list[str] = []
    figures: list[tuple[int, object]] = []
    lock = threading.Lock()

    def write() -> None:
        for start in range(5, n, 25):
            write_metrics(
                store, run_id, [("loss", s, float(s), 0.0) for s in range(start, min(n, start + 25))]
            )
        done.set()

    def watch() -> None:
        last = -1
        while True:
            finished = done.is_set()
            frame = live_frame(store, run_id, viewer=SYSTEM)
            steps = frame.view.series["loss"].steps if "loss" in frame.view.series else []
            if steps != list(range(len(steps))):  # complete from step 0, no gap, no duplicate
                problems.append(f"steps not 0..{len(steps) - 1}: {steps[:3]}...{steps[-3:]}")
                return
            if len(steps) < last:
                problems.append(f"the view shrank from {last} to {len(steps)} points")
            last = len(steps)
            for _prefix, keys in get_run_chart_groups(frame.view.series).charts:
                fig = live_figure(frame, keys)
                with lock:
                    figures.append((frame.version, fig))
            if finished:
                return

    threads = [threading.Thread(target=watch) for _ in range(viewers)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not problems, problems[:3]
    # The last flush may land just after a shared poll began: the next poll past the store's
    # 0.1 s tail TTL reads it (core.store.metrics_since).
    wait_until(
        lambda: live_frame(store, run_id, viewer=SYSTEM).view.stored["loss"] == n,
        timeout=10,
        interval=0.05,
        what="the last points",
    )
    final = live_frame(store, run_id, viewer=SYSTEM)
    assert final.view.series["loss"].steps == list(range(n)) and final.view.stored["loss"] == n
    # One figure per state: viewers of the same state got the same object, drawn once.
    by_version: dict[int, set[int]] = {}
    for version, fig in figures:
        by_version.setdefault(version, set()).add(id(fig))
    assert all(len(ids) == 1 for ids in by_version.values())
    assert final.feed.drawn <= len(by_version) < len(figures)


def test_a_figure_is_drawn_once_per_state_and_way_of_drawing(store: Store) -> None:
    run_id = _run(store)
    write_metrics(store, run_id, [("batch/loss", s, 1.0 / (s + 1), 0.0) for s in range(10)])
    a, b = live_frame(store, run_id, viewer=SYSTEM), live_frame(store, run_id, viewer=SYSTEM)
    assert a.version == b.version and a.view is b.view
    fig = live_figure(a, ["batch/loss"], smoothing=0.6)
    assert live_figure(b, ["batch/loss"], smoothing=0.6) is fig
    assert live_figure(b, ["batch/loss"], smoothing=0.0) is not fig  # another viewer's smoothing
    assert live_figure(b, ["batch/loss"], smoothing=0.6, markers=[(3, "pause")]) is not fig
    assert fig.layout.title.text and fig.layout.xaxis.title.text == "batch"  # core.charts' look
    # What st.plotly_chart sends: one dict for every session, the same JSON as a figure of its own.
    fresh = plot_metric_curves({"batch/loss": a.view.series["batch/loss"]}, smoothing=0.6)
    assert fig.to_dict() is fig.to_dict()
    assert plotly.io.to_json(fig, validate=False) == plotly.io.to_json(fresh, validate=False)
    write_metrics(store, run_id, [("batch/loss", 10, 0.01, 0.0)])
    c = live_frame(store, run_id, viewer=SYSTEM)
    assert c.version == a.version + 1 and c.view.appended == 1
    newer = live_figure(c, ["batch/loss"], smoothing=0.6)
    assert newer is not fig and list(newer.data[-1].x)[-1] == 10
    assert live_frame(store, run_id, viewer=SYSTEM).version == c.version  # nothing new: same state


def test_a_viewer_who_may_not_see_the_run_gets_nothing_shared(store: Store) -> None:
    run_id = _run(store, author="alice")
    write_metrics(store, run_id, [("loss", s, 1.0, 0.0) for s in range(3)])
    alice = live_frame(store, run_id, viewer=Viewer(name="alice"))
    assert alice.view.stored["loss"] == 3
    with pytest.raises(NotFoundError):
        live_frame(store, run_id, viewer=Viewer(name="bob"))
    with pytest.raises(NotFoundError):
        live_frame(store, run_id, viewer=Viewer())  # an anonymous visitor
    with pytest.raises(NotFoundError):  # an unknown run makes no feed
        live_frame(store, "no-such-run", viewer=SYSTEM)
    assert len(_feed._FEEDS) == 1


def test_a_finished_runs_feed_is_dropped_and_its_last_frame_complete(store: Store) -> None:
    run_id = _run(store)
    write_metrics(store, run_id, [("loss", s, 1.0, 0.0) for s in range(3)])
    live_frame(store, run_id, viewer=SYSTEM)
    write_metrics(store, run_id, [("loss", 3, 1.0, 0.0)])
    _end(store, run_id)
    last = live_frame(store, run_id, viewer=SYSTEM)
    assert last.run.status == "succeeded" and last.view.series["loss"].steps == [0, 1, 2, 3]
    assert not _feed._FEEDS
    again = live_frame(store, run_id, viewer=SYSTEM)  # read whole from the store
    assert again.view.series["loss"].steps == [0, 1, 2, 3] and again.view.appended == 0


def test_idle_feeds_are_dropped_and_the_registry_is_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [_run(store) for _ in range(4)]
    monkeypatch.setattr(_feed, "MAX_FEEDS", 3)
    for run_id in runs:
        live_frame(store, run_id, viewer=SYSTEM)
    assert [k[1] for k in _feed._FEEDS] == runs[1:]  # the one asked for longest ago went
    live_frame(store, runs[1], viewer=SYSTEM)
    monkeypatch.setattr(_feed, "IDLE_S", 0.0)
    live_frame(store, runs[0], viewer=SYSTEM)  # a new feed: those nobody asked for since go
    assert [k[1] for k in _feed._FEEDS] == [runs[0]]
    write_metrics(store, runs[0], [("loss", s, 1.0, 0.0) for s in range(3)])
    back = live_frame(store, runs[0], viewer=SYSTEM)  # idle meanwhile: read whole, not appended
    assert back.view.series["loss"].steps == [0, 1, 2] and back.view.appended == 0


def test_markers_are_read_from_the_viewers_events(store: Store) -> None:
    run_id = _run(store)
    with store.session(SYSTEM) as s:
        s.add(RunEvent(run_id=run_id, kind="marker", message='{"step": 4, "action": "set_lr", "value": 0.5}'))
        s.add(RunEvent(run_id=run_id, kind="marker", message='{"step": 7, "action": "pause"}'))
    frame = live_frame(store, run_id, viewer=SYSTEM)
    assert frame.markers == ((4, "set_lr 0.5"), (7, "pause")) == run_markers(frame.events)
