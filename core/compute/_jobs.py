"""Jobs: submit a spec to Dask, run it on a worker, record its lifecycle in the store.

The pure decisions live in :mod:`core.compute._lifecycle`; this module carries them out.

* :func:`submit_run` (UI process) writes a ``queued`` run, then hands :func:`execute_run` to
  the cluster with ``fire_and_forget`` so that no page reload or garbage collection cancels it.
* :func:`execute_run` (worker) moves the run to ``running``, heartbeats, runs the job body, and
  records ``succeeded``/``failed``/``stopped``.
* :func:`stop_run` raises the stop flag; the job sees it within ``CONTROL_POLL_SECONDS``.
* :func:`reap` marks runs whose heartbeat stopped, or whose task the cluster forgot, as
  ``interrupted`` with the reason.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import re
import threading
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from core.compute._lifecycle import TERMINAL
from core.compute._lifecycle import BeatHeart
from core.compute._lifecycle import CancelTask
from core.compute._lifecycle import Decision
from core.compute._lifecycle import Event
from core.compute._lifecycle import Failed
from core.compute._lifecycle import Heartbeat
from core.compute._lifecycle import Lost
from core.compute._lifecycle import RecordEvent
from core.compute._lifecycle import RunState
from core.compute._lifecycle import RunStatus
from core.compute._lifecycle import SetStatus
from core.compute._lifecycle import SignalStop
from core.compute._lifecycle import Started
from core.compute._lifecycle import Stopped
from core.compute._lifecycle import StopRequested
from core.compute._lifecycle import Succeeded
from core.compute._lifecycle import handle
from core.config import AppConfig
from core.errors import AppError
from core.errors import ComputeError
from core.errors import JobStopped
from core.errors import NotFoundError
from core.errors import SpecError
from core.errors import StoreError
from core.store import Dataset
from core.store import Pipeline
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import create_run
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import open_store
from core.store import utcnow
from core.store import write_metrics

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONTROL_POLL_SECONDS",
    "JOB_KINDS",
    "JobContext",
    "execute_run",
    "inline_job",
    "reap",
    "request_control",
    "run_key",
    "stop_run",
    "submit_run",
    "transition",
]

_log = logging.getLogger(__name__)

CONTROL_POLL_SECONDS = 0.5
_METRIC_FLUSH_ROWS = 5_000
_CAS_RETRIES = 50

# Job kind -> "module:function". Resolved on the worker, so the UI process never imports the
# job's dependencies (TensorFlow). Only these names are accepted: a kind is an ID, not code.
JOB_KINDS: dict[str, str] = {
    "smoke": "core.compute._smoke:run_smoke",
    "ingest": "core.data._ingest:run_ingest",
    "train": "core.training:run_training",
    "predict": "core.training._bundle:run_predict",
    "study": "core.tuning._study:run_study",
}
# Job kind -> "module:function" that validates a spec dict and returns its normalised form.
_SPEC_VALIDATORS: dict[str, str] = {
    "smoke": "core.compute._smoke:validate_smoke_spec",
    "ingest": "core.data._ingest:validate_ingest_spec",
    "train": "core.training:validate_train_spec",
    "predict": "core.training._bundle:validate_predict_spec",
    "study": "core.tuning._study:validate_study_spec",
}


def _resolve(ref: str) -> Callable[..., Any]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _check_kind(kind: str) -> None:
    if kind not in JOB_KINDS:
        raise SpecError(f"Unknown job kind {kind!r}. Valid kinds are: {', '.join(sorted(JOB_KINDS))}.")


def run_key(run_id: str) -> str:
    """The Dask task key of a run, so any process can find or cancel its task."""
    return f"loom-run-{run_id}"


# --- the store adapter ----------------------------------------------------------------------


def transition(store: Store, run_id: str, event: Event) -> Decision:
    """Apply ``event`` to the run atomically and return the decision taken.

    Uses compare-and-swap on (status, stop flag) so that concurrent events (a stop arriving while
    the job finishes) are decided one after the other, on every database backend.

    Raises:
        NotFoundError: No such run.
        InvalidTransition: The event does not apply to the run's status.
    """
    for _ in range(_CAS_RETRIES):
        with store.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise NotFoundError(f"No run with ID {run_id!r}.")
            before = RunState(RunStatus(run.status), bool(run.stop_requested), run.worker or "")
            decision = handle(before, event)
            if not decision.actions:
                return decision
            now = utcnow()
            values: dict[str, Any] = {}
            events: list[RunEvent] = []
            for action in decision.actions:
                match action:
                    case SetStatus(status=status, reason=reason):
                        values["status"] = status.value
                        values["status_reason"] = reason
                        if status is RunStatus.RUNNING:
                            values["worker"] = decision.state.worker
                            values["started_at"] = now
                            values["attempts"] = run.attempts + 1
                        if status in TERMINAL:
                            values["ended_at"] = now
                        events.append(
                            RunEvent(
                                run_id=run_id,
                                ts=now,
                                kind="status",
                                from_status=before.status.value,
                                to_status=status.value,
                                message=reason,
                            )
                        )
                    case SignalStop():
                        values["stop_requested"] = True
                    case BeatHeart():
                        values["heartbeat_at"] = now
                    case RecordEvent(kind=kind, message=message):
                        events.append(RunEvent(run_id=run_id, ts=now, kind=kind, message=message))
                    case CancelTask():
                        pass  # done by the caller, which holds the Dask client
            result = s.execute(
                update(Run)
                .where(
                    Run.id == run_id,
                    Run.status == before.status.value,
                    Run.stop_requested == before.stop_requested,
                )
                .values(**values)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                s.add_all(events)
                return decision
            s.rollback()
    raise StoreError(f"Run {run_id} changed {_CAS_RETRIES} times while Loom tried to update it; retry.")


# --- worker side ----------------------------------------------------------------------------


class JobContext:
    """What a job body gets: metric logging, progress, and the stop flag.

    A background thread flushes buffered metrics, writes the heartbeat and reads the stop flag,
    so that :meth:`log_metric` and :meth:`should_stop` cost a list append and an attribute read.
    A failed store write keeps the buffer and retries on the next tick: nothing is dropped.
    """

    def __init__(self, store: Store, run_id: str, heartbeat_seconds: float) -> None:
        self.store = store
        self.run_id = run_id
        self._heartbeat_seconds = heartbeat_seconds
        self._buffer: list[tuple[str, int, float, float]] = []
        self._lock = threading.Lock()
        self._stop_flag = threading.Event()
        self._closed = threading.Event()
        self._progress: float | None = None
        self._controls: list[dict[str, Any]] = []
        self._last_control = 0
        self._thread = threading.Thread(target=self._loop, name=f"loom-heartbeat-{run_id[:8]}", daemon=True)

    # job-facing API
    def log_metric(self, key: str, step: int, value: float) -> None:
        """Record ``value`` of ``key`` at ``step``; written to the store within half a second.

        NaN and infinite values are not stored (SQL has no portable NaN); a job that meets one
        should fail with a reason saying so, as training does.
        """
        value = float(value)
        if not math.isfinite(value):
            return
        with self._lock:
            self._buffer.append((key, int(step), value, time.time()))
            full = len(self._buffer) >= _METRIC_FLUSH_ROWS
        if full:
            self.flush()

    def owner(self) -> tuple[str, str]:
        """The run's author and team: what the job creates (a dataset) belongs to them too."""
        with self.store.session() as s:
            row = s.execute(select(Run.author, Run.team).where(Run.id == self.run_id)).one()
        return str(row[0]), str(row[1])

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
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
        self._write_progress()

    def _write_progress(self) -> None:
        if self._progress is None:
            return
        with self.store.session() as s:
            s.execute(update(Run).where(Run.id == self.run_id).values(progress=self._progress))

    def _poll(self) -> None:
        with self.store.session() as s:
            stop = s.scalar(select(Run.stop_requested).where(Run.id == self.run_id))
            if self._progress is not None:
                s.execute(update(Run).where(Run.id == self.run_id).values(progress=self._progress))
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
            with self._lock:
                self._controls.append(request)
        if stop:
            self._stop_flag.set()

    def pending_controls(self) -> list[dict[str, Any]]:
        """Control requests (pause, resume, set_lr…) that arrived since the last call."""
        with self._lock:
            out, self._controls = self._controls, []
        return out

    def note(self, kind: str, data: dict[str, Any]) -> None:
        """Record a run event (``checkpoint``, ``resumed``…) with a JSON payload."""
        _record(self.store, self.run_id, kind, json.dumps(data))

    def mark(self, action: str, step: int, value: Any = None) -> None:
        """Record that a control took effect at ``step`` (drawn as a marker on the curves)."""
        _record(
            self.store, self.run_id, "marker", json.dumps({"action": action, "step": step, "value": value})
        )

    def _loop(self) -> None:
        last_beat = 0.0
        while not self._closed.wait(CONTROL_POLL_SECONDS):
            try:
                self.flush()
                self._poll()
                if time.monotonic() - last_beat >= self._heartbeat_seconds:
                    transition(self.store, self.run_id, Heartbeat(worker=""))
                    last_beat = time.monotonic()
            except AppError as exc:
                # The store may be locked or briefly unreachable: keep the buffer, try again.
                _log.warning("run %s: store write deferred: %s", self.run_id, exc)


@contextlib.contextmanager
def inline_job(store: Store, kind: str, spec: dict[str, Any]) -> Iterator[JobContext]:
    """A running job context in this process, for job bodies driven by benchmarks or a debugger.

    The run is recorded and streams metrics like any cluster run; its final status is left to
    the caller. Every buffered metric is stored when the block ends.
    """
    run = create_run(store, kind, spec)
    transition(store, run.id, Started(worker="inline"))
    ctx = JobContext(store, run.id, heartbeat_seconds=2.0)
    ctx.start()
    try:
        yield ctx
    finally:
        ctx.close()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        import socket

        return socket.gethostname()


def execute_run(config: AppConfig, run_id: str) -> str:
    """Run one job on this worker and record how it ended. Never raises.

    Args:
        config: Where the store is; the worker opens it itself.
        run_id: The run to execute; its kind and spec are read from the store.

    Returns:
        The run's final status (or ``"skipped"`` if it was not to run here).
    """
    store = open_store(config)
    decision = transition(store, run_id, Started(worker=_worker_name()))
    if not decision.proceed:
        return decision.state.status.value
    with store.session() as s:
        run = s.get(Run, run_id)
        assert run is not None  # noqa: S101 - it was just updated in the same store
        kind, spec = run.kind, dict(run.spec_json)

    ctx = JobContext(store, run_id, config.heartbeat_seconds)
    ctx.start()
    outcome: Event
    result: dict[str, Any] | None = None
    try:
        result = _resolve(JOB_KINDS[kind])(ctx, spec)
        outcome = Succeeded()
    except JobStopped as exc:
        outcome = Stopped(str(exc))
    except Exception as exc:  # noqa: BLE001 - the job boundary: every failure is recorded
        outcome = Failed(_explain(exc))
        _log.exception("run %s failed", run_id)
        _record(store, run_id, "log", traceback.format_exc()[-4000:])
    try:
        ctx.close()  # every metric is stored before the final status is
    except AppError as exc:
        first = f"{outcome.message}; also " if isinstance(outcome, Failed) else ""
        outcome = Failed(f"{first}could not store the last metrics: {exc}")
    if result:
        with store.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(result_json=result))
    _summarize(store, run_id)
    return transition(store, run_id, outcome).state.status.value


def _summarize(store: Store, run_id: str) -> None:
    """Each metric's last/min/max in one row, for lists that filter and sort by a metric."""
    from core.experiments import summarize_run

    try:
        summarize_run(store, run_id)
    except AppError as exc:  # the run's own outcome matters more than its summary
        _log.warning("could not summarize run %s: %s", run_id, exc)


def _explain(exc: BaseException) -> str:
    """A failure as the run's reason; running out of memory or disk says what to change."""
    import errno

    name = exc.__class__.__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"the disk is full on {_worker_name()} ({exc.strerror}) while writing "
            f"{exc.filename or 'a file'}. Free space in the data directory (or raise the quota), then "
            "launch the run again; its metrics so far are kept."
        )
    if (
        isinstance(exc, MemoryError)
        or name == "ResourceExhaustedError"
        or "out of memory" in str(exc).lower()
    ):
        text = str(exc).strip()
        where = "GPU" if "device:GPU" in text or "cuda" in text.lower() else "worker"
        found = re.search(r"OOM when allocating tensor with shape\[[^\]]*\]", text)
        first = found.group(0) if found else (text.splitlines()[0][:300] if text else name)
        return (
            f"out of memory on the {where} ({_worker_name()}): {first}. Lower the batch size, use a "
            "smaller model, or run it on a worker with more memory."
        )
    return f"{name}: {exc}"


def _record(store: Store, run_id: str, kind: str, message: str) -> None:
    with store.session() as s:
        s.add(RunEvent(run_id=run_id, kind=kind, message=message))


# --- client side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitOptions:
    """How a run is placed on the cluster.

    Args:
        resources: Dask worker resources the run needs, e.g. ``{"GPU": 1}``. Defaults to none.
    """

    resources: dict[str, float] | None = None


def submit_run(
    client: Client,
    store: Store,
    kind: str,
    spec: dict,
    *,
    viewer: Viewer,
    name: str = "",
    options: SubmitOptions | None = None,
    team: str = "",
    author: str | None = None,
    **links: str | None,
) -> str:
    """Validate ``spec``, record a queued run and start it on the cluster.

    Args:
        client: A connected Dask client.
        store: The store the workers write to.
        kind: A key of :data:`JOB_KINDS`.
        spec: The job's spec as a JSON-able dict; validated before anything is stored.
        viewer: Who launches it: its owner. The dataset, pipeline, study and parent it names
            must be visible to them.
        name: Shown in lists. Defaults to "".
        options: Placement options. Defaults to none.
        team: The team that may view and fork it; "" keeps it private. Defaults to "".
        author: Its owner when Loom itself launches on someone's behalf (a study's trials);
            only for a viewer that sees everything. Defaults to the viewer's name.
        **links: ``dataset_id``, ``pipeline_id``, ``study_id`` the run uses, and its lineage:
            ``parent_id`` (the run it came from) with ``parent_kind`` (resumed, forked, promoted).

    Returns:
        The new run's ID.

    Raises:
        SpecError: Unknown kind or invalid spec; nothing is stored.
        NotFoundError: A linked dataset, pipeline, study or parent is missing or not visible.
        PermissionDeniedError: A visitor who is not signed in, or a team the viewer is not in.
        ComputeError: The cluster refused the task; the run is recorded as failed with why.
    """
    from distributed import fire_and_forget

    _check_kind(kind)
    viewer.require_create(team)
    spec = _resolve(_SPEC_VALIDATORS[kind])(spec)
    pipeline = spec.get("pipeline")
    used = pipeline.get("dataset_id") if isinstance(pipeline, dict) else None
    # The data a spec reads must be visible to whoever launches it, linked or not.
    _check_links(store, viewer, {**links, "dataset_id": links.get("dataset_id") or used})
    owner = author if (author is not None and viewer.everything) else viewer.name
    run = create_run(store, kind, spec, name=name, author=owner, team=team, **links)
    opts = options or SubmitOptions()
    try:
        future = client.submit(
            execute_run,
            store.config,
            run.id,
            key=run_key(run.id),
            pure=False,
            retries=0,
            resources=opts.resources,
        )
        # The scheduler keeps the task alive with no client holding the future: a page
        # reload, a closed browser or garbage collection cannot cancel the run.
        fire_and_forget(future)
    except (OSError, TimeoutError, RuntimeError) as exc:
        transition(store, run.id, Failed(f"could not submit to the cluster: {exc}"))
        raise ComputeError(
            f"The Dask cluster refused run {run.id}: {exc}. Check the Cluster page, then launch again."
        ) from exc
    return run.id


def _check_links(store: Store, viewer: Viewer, links: dict[str, str | None]) -> None:
    models = {"dataset_id": Dataset, "pipeline_id": Pipeline, "study_id": Study, "parent_id": Run}
    with store.session() as s:
        for field_name, model in models.items():
            if links.get(field_name):
                fetch_visible(s, model, str(links[field_name]), viewer)


def stop_run(
    store: Store, run_id: str, client: Client | None = None, by: str = "user", *, viewer: Viewer
) -> Decision:
    """Ask a run to stop. A queued run stops at once; a running one within a second.

    Args:
        store: The store.
        run_id: The run to stop.
        client: Used to cancel the task of a run that has not started. Defaults to None.
        by: Who asked, recorded in the run's events. Defaults to "user".
        viewer: Who asks; only the run's owner may stop it.

    Raises:
        NotFoundError: No such run, or not visible to ``viewer``.
        PermissionDeniedError: A teammate's run.
    """
    with store.session() as s:
        fetch_owned(s, Run, run_id, viewer, "stop")
    decision = transition(store, run_id, StopRequested(by=by))
    if client is not None and any(isinstance(a, CancelTask) for a in decision.actions):
        try:
            client.cancel([run_key(run_id)], force=True)  # type: ignore[list-item]
        except (OSError, TimeoutError, RuntimeError) as exc:
            # Harmless: the worker sees the run is stopped and does not start it.
            _log.warning("could not cancel task of run %s: %s", run_id, exc)
    return decision


CONTROLS = ("pause", "resume", "set_lr")


def request_control(
    store: Store,
    run_id: str,
    action: str,
    value: float | None = None,
    by: str = "user",
    *,
    viewer: Viewer,
) -> None:
    """Ask a running run to pause, resume or change its learning rate; it acts within a batch.

    Raises:
        SpecError: Unknown action, or a learning rate that is not > 0.
        NotFoundError: No such run, or not visible to ``viewer``.
        PermissionDeniedError: Not the viewer's own run.
        InvalidTransition: The run is not running.
    """
    from core.errors import InvalidTransition

    if action not in CONTROLS:
        raise SpecError(f"Unknown control {action!r}. Valid controls are: {', '.join(CONTROLS)}.")
    if action == "set_lr" and not (value is not None and math.isfinite(value) and value > 0):
        raise SpecError(f"`learning_rate > 0` must hold, but got learning_rate={value!r}.")
    with store.session() as s:
        status = fetch_owned(s, Run, run_id, viewer, action.replace("set_lr", "steer")).status
        if status != RunStatus.RUNNING.value:
            raise InvalidTransition(f"Run {run_id} is {status}, not running: there is nothing to {action}.")
        s.add(
            RunEvent(
                run_id=run_id,
                kind="control",
                message=json.dumps({"action": action, "value": value, "by": by}),
            )
        )


def _keys_on_scheduler(client: Client, keys: list[str]) -> set[str]:
    def _known(dask_scheduler, keys):  # type: ignore[no-untyped-def]
        return [k for k in keys if k in dask_scheduler.tasks]

    return set(client.run_on_scheduler(_known, keys=keys))


def reap(
    store: Store,
    *,
    heartbeat_timeout: float,
    client: Client | None = None,
    grace_seconds: float = 10.0,
) -> list[str]:
    """Mark runs that can no longer finish as ``interrupted``, with the reason.

    * running, with no heartbeat for ``heartbeat_timeout`` seconds: the worker died or lost
      the store;
    * queued or running, and (with ``client``) unknown to the scheduler ``grace_seconds`` after
      submission: the cluster that held the task was restarted.

    Returns:
        The IDs of the runs it marked.
    """
    now = utcnow()
    stale_before = now - timedelta(seconds=heartbeat_timeout)
    grace_before = now - timedelta(seconds=grace_seconds)
    with store.session() as s:
        stale = list(
            s.execute(
                select(Run.id, Run.worker, Run.heartbeat_at).where(
                    Run.status == RunStatus.RUNNING.value,
                    or_(Run.heartbeat_at < stale_before, Run.heartbeat_at.is_(None)),
                    Run.started_at < stale_before,
                )
            )
        )
        active = list(
            s.scalars(
                select(Run.id).where(
                    Run.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
                    Run.created_at < grace_before,
                )
            )
        )
    marked: list[str] = []
    for run_id, worker, beat in stale:
        reason = (
            f"no heartbeat for over {heartbeat_timeout:.0f} s (last from {worker or 'unknown worker'} "
            f"at {beat:%Y-%m-%d %H:%M:%S} UTC): the worker died (killed, or out of memory) or lost "
            "the store. Launch it again."
            if beat
            else f"no heartbeat since it started on {worker or 'an unknown worker'}. Launch it again."
        )
        if transition(store, run_id, Lost(reason)).actions:
            marked.append(run_id)
            _summarize(store, run_id)
    if client is not None and active:
        try:
            known = _keys_on_scheduler(client, [run_key(r) for r in active])
        except (OSError, TimeoutError, RuntimeError) as exc:
            _log.warning("reaper could not ask the scheduler: %s", exc)
            return marked
        for run_id in active:
            if run_key(run_id) not in known and run_id not in marked:
                reason = (
                    "the Dask cluster no longer knows this job (it was restarted, or the app that "
                    "started it stopped). Launch it again."
                )
                if transition(store, run_id, Lost(reason)).actions:
                    marked.append(run_id)
    return marked


class Reaper:
    """Calls :func:`reap` every ``interval`` seconds in a daemon thread."""

    def __init__(self, store: Store, client: Client | None, heartbeat_timeout: float, interval: float = 5.0):
        self._args = (store, heartbeat_timeout, client)
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loom-reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()

    def _loop(self) -> None:
        store, timeout, client = self._args
        while not self._done.wait(self._interval):
            try:
                for run_id in reap(store, heartbeat_timeout=timeout, client=client):
                    _log.warning("run %s marked interrupted", run_id)
            except AppError as exc:
                _log.warning("reaper: %s", exc)
