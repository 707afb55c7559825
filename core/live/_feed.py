"""One live feed per run per app process.

Streamlit runs every browser session of an app as a thread of one process. Before this module,
each page watching a run read the run's new points, appended them to its own copy of the curves
and drew the same figure again, twice a second: with 50 viewers of 8 runs, ~6 pages per run redid
one read and one figure build, and the process's one core for Python (the GIL) ran out first
(``bench/live_latency.py``: p99 1.8 s, target 1 s).

Here a process-wide registry keeps, per ``(database, run)``, one :class:`MetricView` that the first
viewer of a tick extends with the points written since (one :func:`metrics_since` read), and the
figures drawn from it at that state: every other viewer of the run at the same state gets the same
figure without drawing it again. Each viewer's own access check still comes first
(:func:`core.store.get_run` with their viewer), before any shared data is handed to them.

The shared view is read whole once (from the run's first point) and then only appended to, under
the feed's lock, so no point is lost or seen twice, as the page's own per-visit view guaranteed.
A feed is dropped when its run has ended (the page then draws the finished run from the store)
and when nobody asked for it for ``IDLE_S``; at most ``MAX_FEEDS`` are kept.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from core.charts import plot_metric_curves
from core.compute import TERMINAL
from core.compute import RunStatus
from core.store import SYSTEM
from core.store import MetricSeries
from core.store import MetricView
from core.store import RunRecord
from core.store import Store
from core.store import Viewer
from core.store import extend_view
from core.store import get_events
from core.store import get_run
from core.store import metric_view
from core.store import metrics_since

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["LiveFrame", "forget_feeds", "live_figure", "live_frame", "run_markers"]

IDLE_S = 30.0  # a feed nobody asked for this long is dropped (a page asks every 0.5 s)
MAX_FEEDS = 64  # feeds kept at most; beyond, the one asked for longest ago goes
_FIGURES = 16  # figures kept per feed (per state, smoothing, chart); a page draws up to ~4 per tick


@dataclass
class _Feed:
    view: MetricView | None = None
    version: int = 0  # +1 each time points are appended: a figure drawn at a version stays right
    asked: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the view: read, extend
    draw: threading.Lock = field(default_factory=threading.Lock)  # the figures: one drawer at a time
    figures: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    drawn: int = 0  # figures drawn (tests and the bench count them)


_FEEDS: dict[tuple[str, str], _Feed] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class LiveFrame:
    """What a page watching a run draws this tick.

    Attributes:
        run: The run as ``viewer`` may see it, read for this viewer now.
        view: The run's curves, every point from its first (downsampled past ``view.points``
            per curve as :func:`core.store.extend_view` does), shared by every viewer of the run
            in this process: never change it (it is frozen; its series are not copied).
        events: The run's events, oldest first, read for this viewer now.
        version: The shared view's state: equal versions hold equal points.
    """

    run: RunRecord
    view: MetricView
    events: list[Any]
    version: int
    feed: _Feed = field(repr=False, compare=False)

    @property
    def markers(self) -> tuple[tuple[int, str], ...]:
        """Steering actions to draw as vertical lines: see :func:`run_markers`."""
        return run_markers(self.events)


def run_markers(events: Sequence[Any]) -> tuple[tuple[int, str], ...]:
    """``(step, label)`` of each steering marker among a run's events (a learning-rate change
    reads ``set_lr 0.001``), in the order they were written.

    Args:
        events: The run's events, as :func:`core.store.get_events` returns them.

    Returns:
        The markers, to pass to :func:`core.charts.plot_metric_curves`.
    """
    out = []
    for event in events:
        if event.kind == "marker":
            data = json.loads(event.message)
            value = f" {data['value']:g}" if isinstance(data.get("value"), int | float) else ""
            out.append((int(data["step"]), f"{data['action']}{value}"))
    return tuple(out)


def _feed(key: tuple[str, str], now: float) -> _Feed:
    with _LOCK:
        feed = _FEEDS.get(key)
        if feed is not None and now - feed.asked > IDLE_S:
            # Nobody watched for a while: a viewer back after minutes reads the run whole (its
            # blocks) rather than every point written meanwhile.
            feed = None
        if feed is None:
            for old in [k for k, f in _FEEDS.items() if now - f.asked > IDLE_S]:
                del _FEEDS[old]
            while len(_FEEDS) >= MAX_FEEDS:
                del _FEEDS[min(_FEEDS, key=lambda k: _FEEDS[k].asked)]
            feed = _FEEDS[key] = _Feed()
        feed.asked = now
        return feed


def live_frame(store: Store, run_id: str, *, viewer: Viewer) -> LiveFrame:
    """A run's state for a page watching it: the run and its events read for ``viewer``, and
    the process's one shared view of its curves, brought up to date by the first viewer of the
    tick (one read of the points written since; the view is read whole on the first call).

    Args:
        store: The store.
        run_id: The run watched.
        viewer: Who is watching: the run is read with their access first, and nothing shared is
            handed to a viewer who may not see it.

    Returns:
        The frame to draw; pass it to :func:`live_figure` for its charts.

    Raises:
        NotFoundError: ``viewer`` may not see the run (or there is no such run).
    """
    run = get_run(store, run_id, viewer=viewer)  # the viewer's own check, before anything shared
    key = (store.config.database_url, run_id)
    feed = _feed(key, time.monotonic())
    with feed.lock:
        if feed.view is None:
            feed.view = metric_view(store, run_id, viewer=SYSTEM)
            feed.version += 1
        else:
            new, last = metrics_since(store, run_id, feed.view.last_id, viewer=SYSTEM)
            if any(series.steps for series in new.values()):
                feed.view = extend_view(feed.view, new, last)
                feed.version += 1
            elif last > feed.view.last_id:  # other runs' rows: read on from there, same points
                feed.view = replace(feed.view, last_id=last)
        view, version = feed.view, feed.version
    if RunStatus(run.status) in TERMINAL:
        # The finished run is drawn from the store once (the page stops polling): nothing to share.
        with _LOCK:
            if _FEEDS.get(key) is feed:
                del _FEEDS[key]
    return LiveFrame(run, view, get_events(store, run_id, viewer=viewer), version, feed)


def _fingerprint(history: Mapping[str, MetricSeries] | None) -> Any:
    if not history:
        return None
    return tuple(
        (k, len(s.steps), hash(tuple(s.steps)), hash(tuple(s.values))) for k, s in sorted(history.items())
    )


def live_figure(
    frame: LiveFrame,
    keys: Sequence[str],
    *,
    markers: Sequence[tuple[int, str]] | None = None,
    smoothing: float = 0.0,
    history: Mapping[str, MetricSeries] | None = None,
) -> go.Figure:
    """The chart of ``keys`` of ``frame``'s view, drawn by :func:`core.charts.plot_metric_curves`
    once per state of the run's feed and way of drawing it: every viewer asking for the same
    chart of the same state gets the same figure object. Treat it as read-only.

    Args:
        frame: From :func:`live_frame`.
        keys: The metric keys of one chart (as :func:`core.charts.get_run_chart_groups` groups them).
        markers: Steering markers to draw. Defaults to none.
        smoothing: TensorBoard's smoothing weight. Defaults to 0 (raw only).
        history: A branch's shared history, as :func:`core.charts.plot_metric_curves` takes it.
            Defaults to none.

    Returns:
        The Plotly figure.

    Raises:
        SpecError: ``smoothing`` is outside ``[0, 1)``.
    """
    group = {k: frame.view.series[k] for k in keys}
    wanted = (frame.version, tuple(keys), tuple(markers or ()), float(smoothing), _fingerprint(history))
    feed = frame.feed
    with feed.draw:  # a second viewer of the same state waits for the first's figure
        fig = feed.figures.get(wanted)
        if fig is None:
            fig = plot_metric_curves(
                group, markers=list(markers) if markers else None, smoothing=smoothing, history=history
            )
            _share_dict(fig)
            feed.drawn += 1
            # The oldest first: a viewer whose frame is a state behind still finds its figure.
            while len(feed.figures) >= _FIGURES:
                del feed.figures[next(iter(feed.figures))]
            feed.figures[wanted] = fig
    return fig


def _share_dict(fig: go.Figure) -> None:
    # st.plotly_chart asks each session's figure for its dict (Plotly deep-copies every trace,
    # then base64-encodes its arrays) before writing it as JSON: with the figure drawn once, that
    # copy was the largest part of a viewer's tick left (1.4 ms of 2.3 ms for 800 points; the
    # JSON and the element ID's hash of it 0.1-0.6 ms). A shared figure is never changed, so its
    # dict is made once and handed to every session: Streamlit and Plotly's to_json only read
    # it (to_json pops trace uids, which Loom's figures do not set).
    shared = fig.to_dict()
    object.__setattr__(fig, "to_dict", lambda: shared)


def forget_feeds() -> None:
    """Drops every feed of the process (tests; a store restored under the app)."""
    with _LOCK:
        _FEEDS.clear()
