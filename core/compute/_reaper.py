"""The reaper: runs whose heartbeat stopped, or whose task the cluster forgot, are marked
``interrupted`` with the reason (also after a restart)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_
from sqlalchemy import select

from core.compute._external import EXTERNAL_KIND
from core.compute._lifecycle import Lost
from core.compute._lifecycle import RunStatus
from core.periodic import Periodic
from core.store import Run
from core.store import Store
from core.store import utcnow

if TYPE_CHECKING:
    from distributed import Client
from core.compute._transition import _summarize
from core.compute._transition import run_key
from core.compute._transition import transition
from core.store import SYSTEM

__all__ = ["Reaper", "reap"]

_log = logging.getLogger(__name__)


def _keys_on_scheduler(client: Client, keys: list[str]) -> set[str]:
    # An erred task is kept while a client holds its future (a study's driver), but it will never
    # run: Dask gave up on it (KilledWorker after worker deaths, or a failure before the job began).
    def _known(dask_scheduler, keys):  # type: ignore[no-untyped-def]
        tasks = dask_scheduler.tasks
        return [k for k in keys if k in tasks and tasks[k].state != "erred"]

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
    with store.session(SYSTEM) as s:
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
                    # A script's run has no Dask task: only its heartbeat tells it is alive.
                    Run.kind != EXTERNAL_KIND,
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
        except Exception as exc:  # noqa: BLE001 - a client closing or reconnecting raises many kinds
            # (OSError, RuntimeError "IOLoop is closed", AttributeError from its comm being gone):
            # none says a job was lost, so nothing is marked on it.
            _log.warning("reaper could not ask the scheduler: %r", exc)
            return marked
        for run_id in active:
            if run_key(run_id) not in known and run_id not in marked:
                reason = (
                    "the Dask cluster no longer knows this job (it was restarted, the app that "
                    "started it stopped, or Dask gave up on the task after its workers died). "
                    "Launch it again."
                )
                if transition(store, run_id, Lost(reason)).actions:
                    marked.append(run_id)
    return marked


class Reaper(Periodic):
    """Calls :func:`reap` every ``interval`` seconds in a daemon thread."""

    def __init__(self, store: Store, client: Client | None, heartbeat_timeout: float, interval: float = 5.0):
        super().__init__(interval, "loom-reaper")
        self._args = (store, heartbeat_timeout, client)

    def tick(self) -> None:
        store, timeout, client = self._args
        for run_id in reap(store, heartbeat_timeout=timeout, client=client):
            _log.warning("run %s marked interrupted", run_id)
