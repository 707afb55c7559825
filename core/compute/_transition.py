"""Run status changes in the store: the lifecycle state machine's decisions applied as
compare-and-swap updates, so a stop that races a finish is decided once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import update

from core.compute._lifecycle import TERMINAL
from core.compute._lifecycle import BeatHeart
from core.compute._lifecycle import CancelTask
from core.compute._lifecycle import Decision
from core.compute._lifecycle import Event
from core.compute._lifecycle import RecordEvent
from core.compute._lifecycle import RunState
from core.compute._lifecycle import RunStatus
from core.compute._lifecycle import SetStatus
from core.compute._lifecycle import SignalStop
from core.compute._lifecycle import handle
from core.errors import AppError
from core.errors import NotFoundError
from core.errors import StoreError
from core.store import SYSTEM
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import utcnow

if TYPE_CHECKING:
    pass

__all__ = ["run_key", "transition"]

_log = logging.getLogger(__name__)


_CAS_RETRIES = 50


def run_key(run_id: str) -> str:
    """The Dask task key of a run, so any process can find or cancel its task."""
    return f"loom-run-{run_id}"


def transition(store: Store, run_id: str, event: Event) -> Decision:
    """Apply ``event`` to the run atomically and return the decision taken.

    Uses compare-and-swap on (status, stop flag) so that concurrent events (a stop arriving while
    the job finishes) are decided one after the other, on every database backend.

    Raises:
        NotFoundError: No such run.
        InvalidTransition: The event does not apply to the run's status.
    """
    for _ in range(_CAS_RETRIES):
        with store.session(SYSTEM) as s:
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


def _record(store: Store, run_id: str, kind: str, message: str) -> None:
    with store.session(SYSTEM) as s:
        s.add(RunEvent(run_id=run_id, kind=kind, message=message))


def _summarize(store: Store, run_id: str) -> None:
    """Each metric's last/min/max in one row, for lists that filter and sort by a metric."""
    from core.store import summarize_run

    try:
        summarize_run(store, run_id)
    except AppError as exc:  # the run's own outcome matters more than its summary
        _log.warning("could not summarize run %s: %s", run_id, exc)
