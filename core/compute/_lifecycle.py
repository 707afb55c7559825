"""The run lifecycle as a pure state machine: ``handle(state, event) -> Decision``.

No I/O here: the store adapter (``core.compute._transition``) loads the state, calls :func:`handle`
and carries out the actions. Tested without a cluster (``tests/core/compute/test_lifecycle.py``).

::

    queued ──Started──▶ running ──Succeeded──▶ succeeded
      │                   │ ──Failed─────▶ failed
      │                   │ ──Stopped────▶ stopped      (the job saw the stop flag)
      │                   │ ──Lost───────▶ interrupted  (heartbeat stopped, worker died)
      ├──StopRequested──▶ stopped                        (never started: cancel the task)
      └──Lost──────────▶ interrupted                     (the task vanished from the cluster)

A second ``Started`` on a running run means Dask re-ran the task after its worker died: the run
becomes ``interrupted`` rather than silently training again from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import InvalidTransition

__all__ = [
    "TERMINAL",
    "CancelTask",
    "Decision",
    "Failed",
    "Heartbeat",
    "Lost",
    "RecordEvent",
    "RunState",
    "RunStatus",
    "SetStatus",
    "SignalStop",
    "Started",
    "StopRequested",
    "Stopped",
    "Succeeded",
    "handle",
]


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.INTERRUPTED})


@dataclass(frozen=True)
class RunState:
    status: RunStatus
    stop_requested: bool = False
    worker: str = ""


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    worker: str


@dataclass(frozen=True)
class Heartbeat:
    worker: str


@dataclass(frozen=True)
class Succeeded:
    message: str = ""


@dataclass(frozen=True)
class Failed:
    message: str


@dataclass(frozen=True)
class StopRequested:
    by: str = "user"


@dataclass(frozen=True)
class Stopped:
    message: str = "stopped on request"


@dataclass(frozen=True)
class Lost:
    reason: str


Event = Started | Heartbeat | Succeeded | Failed | StopRequested | Stopped | Lost

# Actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetStatus:
    status: RunStatus
    reason: str = ""


@dataclass(frozen=True)
class RecordEvent:
    kind: str
    message: str = ""


@dataclass(frozen=True)
class SignalStop:
    """Raise the run's stop flag: the job sees it at its next check and ends as stopped."""


@dataclass(frozen=True)
class CancelTask:
    """Cancel the Dask task of a run that never started."""


@dataclass(frozen=True)
class BeatHeart:
    """Refresh the run's heartbeat time."""


Action = SetStatus | RecordEvent | SignalStop | CancelTask | BeatHeart


@dataclass(frozen=True)
class Decision:
    """What to do: the new state, and the actions that get the store there.

    ``proceed`` tells a worker that got ``Started`` whether to run the job body.
    """

    state: RunState
    actions: tuple[Action, ...] = ()
    proceed: bool = False


def _to(state: RunState, status: RunStatus, reason: str, *extra: Action) -> Decision:
    new = RunState(status=status, stop_requested=state.stop_requested, worker=state.worker)
    return Decision(new, (SetStatus(status, reason), *extra))


def handle(state: RunState, event: Event) -> Decision:
    """Decide what ``event`` does to a run in ``state``.

    Args:
        state: The run's current status, stop flag and worker.
        event: What happened.

    Returns:
        The new state and the actions to carry it out. Events that arrive after the run ended
        (a late heartbeat, a stop after success) change nothing and return no actions.

    Raises:
        InvalidTransition: The event cannot happen in this state (a finish before a start).
    """
    status = state.status
    if status in TERMINAL:
        # Late news about a finished run: the first terminal status wins, the store keeps it.
        return Decision(state)

    match event:
        case Started(worker=worker):
            if status is RunStatus.QUEUED:
                if state.stop_requested:
                    return _to(state, RunStatus.STOPPED, "stopped before it started")
                new = RunState(RunStatus.RUNNING, state.stop_requested, worker)
                return Decision(
                    new,
                    (SetStatus(RunStatus.RUNNING, f"started on {worker}"), BeatHeart()),
                    proceed=True,
                )
            return _to(
                state,
                RunStatus.INTERRUPTED,
                f"worker {state.worker or '?'} died mid-run (killed, or restarted by Dask for passing its "
                f"memory limit); Dask retried the task on {worker}, which Loom does not do silently. "
                "Launch the run again, with a smaller batch or model if memory was the cause.",
            )
        case Heartbeat():
            if status is RunStatus.RUNNING:
                return Decision(state, (BeatHeart(),))
            raise InvalidTransition(f"heartbeat for a run that is {status}, not running")
        case Succeeded(message=message):
            if status is RunStatus.RUNNING:
                return _to(state, RunStatus.SUCCEEDED, message or "finished")
            raise InvalidTransition(f"a run that is {status} cannot succeed before it starts")
        case Failed(message=message):
            return _to(state, RunStatus.FAILED, message)
        case StopRequested(by=by):
            new = RunState(status, True, state.worker)
            if status is RunStatus.QUEUED:
                return Decision(
                    RunState(RunStatus.STOPPED, True, state.worker),
                    (
                        SignalStop(),
                        SetStatus(RunStatus.STOPPED, f"stopped by {by} before it started"),
                        CancelTask(),
                    ),
                )
            if state.stop_requested:
                return Decision(new)
            return Decision(new, (SignalStop(), RecordEvent("control", f"stop requested by {by}")))
        case Stopped(message=message):
            if status is RunStatus.RUNNING:
                return _to(state, RunStatus.STOPPED, message)
            raise InvalidTransition(f"a run that is {status} cannot stop before it starts")
        case Lost(reason=reason):
            return _to(state, RunStatus.INTERRUPTED, reason)
    raise InvalidTransition(f"unknown event {event!r}")  # pragma: no cover
