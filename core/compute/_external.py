"""External runs: a run whose body is someone's own Python script, not a Dask task.

It has the lifecycle of any run (queued → running → succeeded / failed / stopped, interrupted
by the reaper when its heartbeats stop) and streams through a :class:`JobContext` like a job on
a worker, so the app shows it live and stop, pause and learning-rate requests reach it. Its kind
is :data:`EXTERNAL_KIND`; the reaper never looks for it on the cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from typing import Any

from core.compute._context import JobContext
from core.compute._lifecycle import Event
from core.compute._lifecycle import Failed
from core.compute._lifecycle import Started
from core.compute._lifecycle import Stopped
from core.compute._lifecycle import Succeeded
from core.compute._transition import _record
from core.compute._transition import _summarize
from core.compute._transition import transition
from core.errors import JobStopped
from core.errors import StoreError
from core.store import Store
from core.store import create_run

__all__ = ["EXTERNAL_KIND", "finish_external", "start_external"]

_log = logging.getLogger(__name__)

EXTERNAL_KIND = "external"


def start_external(
    store: Store,
    spec: dict[str, Any],
    *,
    name: str,
    author: str,
    team: str,
    heartbeat_seconds: float,
    max_buffered: int,
    system_metrics: bool = True,
    project_id: str | None = None,
    parent_id: str | None = None,
    parent_kind: str | None = None,
) -> JobContext:
    """Record a running external run and start its context (heartbeat, buffered metrics).

    Who may create it is checked by the caller (``core.track``).

    Returns:
        The started context; end it with :func:`finish_external`.
    """
    run = create_run(
        store,
        EXTERNAL_KIND,
        spec,
        name=name,
        author=author,
        team=team,
        project_id=project_id,
        parent_id=parent_id,
        parent_kind=parent_kind,
    )
    transition(store, run.id, Started(worker=f"{socket.gethostname()} (pid {os.getpid()})"))
    ctx = JobContext(store, run.id, heartbeat_seconds, max_buffered=max_buffered)
    ctx.start()
    if system_metrics:
        ctx.sample_system()
    return ctx


def finish_external(
    ctx: JobContext,
    error: BaseException | None,
    wait_seconds: float,
    notes: dict[str, dict[str, Any]] | None = None,
    failure: str | None = None,
) -> str:
    """Write every buffered point, then record how the run ended.

    Args:
        ctx: The run's context.
        error: What ended the script's block, or None when it ended normally.
        wait_seconds: How long to keep retrying while the store is unreachable.
        notes: Events to record on the run (kind -> JSON payload) once the store took the points.
        failure: Why the run failed although the block ended normally (a NaN loss stopped the
            fit). Defaults to None.

    Returns:
        The run's final status.

    Raises:
        StoreError: The store stayed unreachable for ``wait_seconds``; says how many points were
            not written.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            ctx.close()
            break
        except StoreError as exc:
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"Run {ctx.run_id}: {ctx.buffered:,} metric points could not be written, the store "
                    f"stayed unreachable for {wait_seconds:.0f} s ({exc}). Bring the store back and log "
                    "again, or raise wait_for_store."
                ) from exc
            _log.warning(
                "run %s: waiting for the store to write %s points: %s", ctx.run_id, ctx.buffered, exc
            )
            time.sleep(1.0)
    store, run_id = ctx.store, ctx.run_id
    for kind, data in (notes or {}).items():
        ctx.note(kind, data)
    if ctx.dropped:
        ctx.note(
            "metrics_dropped", {"points": ctx.dropped, "why": "the buffer was full while the store was away"}
        )
    outcome: Event
    if isinstance(error, JobStopped) or (error is None and ctx.should_stop()):
        outcome = Stopped("stopped on request")
    elif isinstance(error, KeyboardInterrupt):
        outcome = Stopped("the script was interrupted (Ctrl-C)")
    elif failure is not None and error is None:
        outcome = Failed(failure)
    elif error is not None:
        outcome = Failed(f"{error.__class__.__name__}: {error}")
        _record(store, run_id, "log", "".join(traceback.format_exception(error))[-4000:])
    else:
        outcome = Succeeded()
    _summarize(store, run_id)
    return transition(store, run_id, outcome).state.status.value
