"""The running job's side: :class:`JobContext` buffers metrics, heartbeats, reads stop and
control requests, and writes progress; a job body sees only this."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from core.compute._lifecycle import Heartbeat
from core.compute._lifecycle import Started
from core.compute._system import SystemSampler
from core.errors import AppError
from core.errors import JobStopped
from core.errors import StoreError
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import create_run
from core.store import write_metrics

if TYPE_CHECKING:
    pass
from core.compute._transition import _record
from core.compute._transition import transition
from core.store import SYSTEM

__all__ = ["CONTROL_POLL_SECONDS", "JobContext", "inline_job"]

_log = logging.getLogger(__name__)


# The context's thread writes buffered points and reads the stop flag and control requests this
# often: a point is readable within ~0.25 s of being logged (``bench/live_latency.py``), and a
# pause or stop is read within a quarter second. Each tick is one small write and two indexed
# reads per running job (~2 ms of CPU).
CONTROL_POLL_SECONDS = 0.25


_METRIC_FLUSH_ROWS = 5_000


class JobContext:
    """What a job body gets: metric logging, progress, and the stop flag.

    A background thread flushes buffered metrics and reads the stop flag and control requests
    every ``CONTROL_POLL_SECONDS``, and writes the heartbeat and progress every heartbeat, so
    that :meth:`log_metric`, :meth:`should_stop` and :meth:`pending_controls` cost a list append
    or an attribute read and can be called on every batch. A failed store write keeps the buffer
    and retries on the next tick: nothing is dropped.
    """

    def __init__(
        self, store: Store, run_id: str, heartbeat_seconds: float, max_buffered: int | None = None
    ) -> None:
        """
        Args:
            store: The store the run is in.
            run_id: The run.
            heartbeat_seconds: How often the heartbeat is written.
            max_buffered: None (Loom's jobs): a full buffer is written by the caller of
                :meth:`log_metric`, which waits for the store. A number (a script's run, which
                must never wait): the buffer is only ever written by the context's thread, and
                points beyond this many unwritten ones are dropped, counted, with a warning.
        """
        self.store = store
        self.run_id = run_id
        self._heartbeat_seconds = heartbeat_seconds
        self._buffer: list[tuple[str, int, float, float]] = []
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()  # one reader of new control requests at a time
        self._stop_flag = threading.Event()
        self._closed = threading.Event()
        self._wake = threading.Event()  # the first point is written at once, not a tick later
        self._first_point = True
        self._progress: float | None = None
        self._progress_written: float | None = None
        self._controls: list[dict[str, Any]] = []
        self._last_control = 0
        self._max_buffered = max_buffered
        self.dropped = 0  # points refused because the buffer was full (max_buffered)
        self._sampler: SystemSampler | None = None
        self._thread = threading.Thread(target=self._loop, name=f"loom-heartbeat-{run_id[:8]}", daemon=True)

    # job-facing API
    def log_metric(self, key: str, step: int, value: float) -> None:
        """Record ``value`` of ``key`` at ``step``; written to the store within
        ``CONTROL_POLL_SECONDS``.

        NaN and infinite values are not stored (SQL has no portable NaN); a job that meets one
        should fail with a reason saying so, as training does.
        """
        value = float(value)
        if not math.isfinite(value):
            return
        with self._lock:
            if self._max_buffered is not None and len(self._buffer) >= self._max_buffered:
                self._overflow()
                return
            self._buffer.append((key, int(step), value, time.time()))
            full = len(self._buffer) >= _METRIC_FLUSH_ROWS
        if full and self._max_buffered is not None:
            self._wake.set()  # the thread writes it; the caller never waits on the store
        elif full:
            self.flush()
        elif self._first_point:  # a run's first live point shows as soon as it exists
            self._first_point = False
            self._wake.set()

    def _overflow(self) -> None:
        # Under the lock: the store has been unreachable for a long time.
        if self.dropped == 0 or self.dropped % 100_000 == 0:
            _log.warning(
                "run %s: %s metric points wait for the store, the most kept in memory; new points "
                "are dropped (%s so far) until it is reachable again",
                self.run_id,
                f"{len(self._buffer):,}",
                f"{self.dropped + 1:,}",
            )
        self.dropped += 1

    @property
    def buffered(self) -> int:
        """Points not yet written to the store."""
        return len(self._buffer)

    def sample_system(self) -> None:
        """Record CPU %, memory and GPU use about once a second under ``system/`` until
        :meth:`close` (see :mod:`core.compute._system`)."""
        if self._sampler is None:
            self._sampler = SystemSampler(self.log_metric).start()

    def owner(self) -> tuple[str, str]:
        """The run's author and team: what the job creates (a dataset) belongs to them too."""
        with self.store.session(SYSTEM) as s:
            row = s.execute(select(Run.author, Run.team).where(Run.id == self.run_id)).one()
        return str(row[0]), str(row[1])

    def project(self) -> str | None:
        """The run's project: what the job creates (a dataset) goes into it too."""
        with self.store.session(SYSTEM) as s:
            return s.scalar(select(Run.project_id).where(Run.id == self.run_id))

    def set_progress(self, fraction: float) -> None:
        self._progress = min(1.0, max(0.0, float(fraction)))

    def should_stop(self) -> bool:
        return self._stop_flag.is_set()

    def check_stop(self) -> None:
        """Raise :class:`JobStopped` if a user asked this run to stop."""
        if self._stop_flag.is_set():
            raise JobStopped("stopped on request")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up and raise :class:`JobStopped` as soon as a stop arrives."""
        if self._stop_flag.wait(seconds):
            raise JobStopped("stopped on request")

    # lifecycle
    def start(self) -> None:
        self._thread.start()

    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
        try:
            write_metrics(self.store, self.run_id, rows)
        except StoreError:
            with self._lock:
                self._buffer[:0] = rows  # keep order; retried on the next tick
            raise

    def close(self) -> None:
        """Stop the thread and write what is left; raises if the last write fails."""
        if self._sampler is not None:
            self._sampler.stop()
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
        self._write_progress()

    def _write_progress(self) -> None:
        progress = self._progress
        if progress is None or progress == self._progress_written:
            return
        with self.store.session(SYSTEM) as s:
            s.execute(update(Run).where(Run.id == self.run_id).values(progress=progress))
        self._progress_written = progress

    def _poll(self) -> None:
        with self._poll_lock:  # one reader at a time, so no request is queued twice
            with self.store.session(SYSTEM) as s:
                stop = s.scalar(select(Run.stop_requested).where(Run.id == self.run_id))
                new = s.execute(
                    select(RunEvent.id, RunEvent.message)
                    .where(
                        RunEvent.run_id == self.run_id,
                        RunEvent.kind == "control",
                        RunEvent.id > self._last_control,
                    )
                    .order_by(RunEvent.id)
                ).all()
            for event_id, message in new:
                self._last_control = event_id
                try:
                    request = json.loads(message)
                except json.JSONDecodeError:
                    continue  # a plain note such as "stop requested by …"
                if not isinstance(request, dict):
                    continue
                # The request's own ID goes with it, so the marker that says it took effect
                # names it and the run page can show each request as taken (control_log).
                request["request"] = event_id
                with self._lock:
                    self._controls.append(request)
        if stop:
            self._stop_flag.set()

    def pending_controls(self) -> list[dict[str, Any]]:
        """Control requests (pause, resume, set_lr…) that arrived since the last call.

        A memory read, cheap enough for every batch: the context's thread fetches requests from
        the store every ``CONTROL_POLL_SECONDS``.
        """
        if not self._controls:  # the common case, read without the lock: at worst one poll late
            return []
        with self._lock:
            out, self._controls = self._controls, []
        return out

    def note(self, kind: str, data: dict[str, Any]) -> None:
        """Record a run event (``checkpoint``, ``resumed``…) with a JSON payload."""
        _record(self.store, self.run_id, kind, json.dumps(data))

    def mark(self, action: str, step: int, value: Any = None, request: int | None = None) -> None:
        """Record that a control took effect at ``step`` (drawn as a marker on the curves).

        ``request``: the ID of the control request it answers (``pending_controls`` gives it as
        ``"request"``), so the run page shows that request as taken. Defaults to None.
        """
        data: dict[str, Any] = {"action": action, "step": step, "value": value}
        if request is not None:
            data["request"] = request
        _record(self.store, self.run_id, "marker", json.dumps(data))

    def acknowledge(self, request: int | None, outcome: str, step: int) -> None:
        """Record that a control request arrived but changed nothing (a pause while paused):
        it is answered all the same, never left pending. Not drawn on the curves."""
        if request is not None:
            _record(
                self.store,
                self.run_id,
                "control_ack",
                json.dumps({"request": request, "outcome": outcome, "step": step}),
            )

    def _loop(self) -> None:
        last_beat = 0.0
        while True:
            self._wake.wait(CONTROL_POLL_SECONDS)
            self._wake.clear()
            if self._closed.is_set():
                break
            try:
                self.flush()
                self._poll()
                if time.monotonic() - last_beat >= self._heartbeat_seconds:
                    # Progress goes with the heartbeat: a progress bar needs no more.
                    self._write_progress()
                    transition(self.store, self.run_id, Heartbeat(worker=""))
                    last_beat = time.monotonic()
            except AppError as exc:
                # The store may be locked or briefly unreachable: keep the buffer, try again.
                _log.warning("run %s: store write deferred: %s", self.run_id, exc)
            except Exception:
                # A bug, or an error the store did not translate: said with its traceback, and the
                # buffer kept for the next tick. A thread that ended would stop the run's
                # heartbeat (the reaper would call it dead) and lose every later point.
                _log.exception("run %s: store write deferred", self.run_id)


@contextlib.contextmanager
def inline_job(
    store: Store, kind: str, spec: dict[str, Any], system_metrics: bool = True
) -> Iterator[JobContext]:
    """A running job context in this process, for job bodies driven by benchmarks or a debugger.

    The run is recorded and streams metrics like any cluster run; its final status is left to
    the caller. Every buffered metric is stored when the block ends. ``system_metrics``: sample
    CPU, memory and GPU as a training run on a worker does (so a benchmark counts their cost).
    """
    run = create_run(store, kind, spec)
    transition(store, run.id, Started(worker="inline"))
    ctx = JobContext(store, run.id, heartbeat_seconds=2.0)
    ctx.start()
    if system_metrics:
        ctx.sample_system()
    try:
        yield ctx
    finally:
        ctx.close()
