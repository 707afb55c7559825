"""What became of each control request: stored, then taken at a step, or answered otherwise.

A request (Stop, Pause, Resume, Set learning rate) is a ``control`` event written by the page
before it redraws. The job answers it with a ``marker`` (drawn on the curves) or a
``control_ack`` (it changed nothing, e.g. a pause while paused) that names the request's ID; a
stop is answered by the ``stop`` marker or by the run ending. :func:`control_log` pairs them, so
the run page shows each request as *requested* at once and as *taken* when the job took it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from core.compute._lifecycle import TERMINAL
from core.compute._lifecycle import RunStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from core.store import RunEvent
    from core.store import Store
    from core.store import Viewer

__all__ = ["ControlRequest", "control_log", "pair_controls"]

_STOP_PREFIX = "stop requested by "


@dataclass(frozen=True)
class ControlRequest:
    """One control request and what became of it.

    Attributes:
        id: The request's event ID.
        action: ``stop``, ``pause``, ``resume`` or ``set_lr``.
        value: The requested learning rate for ``set_lr``, else None.
        by: Who asked.
        requested_at: When the request was stored.
        state: ``requested`` (stored, not taken yet), ``taken`` (acted on at ``step``),
            ``answered`` (arrived but changed nothing; ``outcome`` says why) or ``missed``
            (the run ended before it arrived).
        step: The training step where it took effect, when known.
        taken_at: When the job recorded it as taken (or the run ended, for a stop).
        outcome: A short sentence for the page.
    """

    id: int
    action: str
    value: float | None
    by: str
    requested_at: datetime
    state: str
    step: int | None
    taken_at: datetime | None
    outcome: str

    @property
    def seconds_to_take(self) -> float | None:
        """Seconds from the request to its effect, when taken."""
        if self.taken_at is None:
            return None
        return max(0.0, (_aware(self.taken_at) - _aware(self.requested_at)).total_seconds())


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive UTC timestamps, PostgreSQL aware ones: compare them as UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _json(message: str) -> dict[str, Any] | None:
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def pair_controls(events: Iterable[RunEvent], status: str, ended_at: datetime | None) -> list[ControlRequest]:
    """Pair a run's control requests with the markers and acknowledgements that answer them.

    Args:
        events: The run's events, oldest first.
        status: The run's status now.
        ended_at: When the run ended, if it did.

    Returns:
        Every request, oldest first, with its state (see :class:`ControlRequest`).
    """
    requests: list[dict[str, Any]] = []
    answers: dict[int, tuple[str, int | None, datetime, str]] = {}
    stop_marker: tuple[int | None, datetime] | None = None
    for event in events:
        if event.kind == "control":
            data = _json(event.message)
            if data is None and event.message.startswith(_STOP_PREFIX):
                data = {"action": "stop", "by": event.message.removeprefix(_STOP_PREFIX)}
            if data is not None and data.get("action"):
                requests.append({**data, "id": event.id, "ts": event.ts})
        elif event.kind in ("marker", "control_ack"):
            data = _json(event.message) or {}
            step = data.get("step")
            step = int(step) if isinstance(step, int | float) else None
            if event.kind == "marker" and data.get("action") == "stop":
                stop_marker = stop_marker or (step, event.ts)
            rid = data.get("request")
            if isinstance(rid, int):
                if event.kind == "marker":
                    answers[rid] = ("taken", step, event.ts, str(data.get("action", "")))
                else:
                    answers[rid] = ("answered", step, event.ts, str(data.get("outcome", "")))
    ended = RunStatus(status) in TERMINAL
    out = []
    for req in requests:
        action = str(req["action"])
        value = req.get("value")
        value = float(value) if isinstance(value, int | float) else None
        state, step, taken_at, outcome = "requested", None, None, "waiting for the run to take it"
        if action == "stop":
            if stop_marker is not None:
                state, (step, taken_at) = "taken", stop_marker
                outcome = "stopped" + (f" at step {step:,}" if step is not None else "")
            elif ended:
                state, taken_at = "taken", ended_at
                outcome = f"the run ended: {status}"
        elif req["id"] in answers:
            state, step, taken_at, said = answers[req["id"]]
            if state == "taken":
                outcome = (said if said != action else "took effect") + (
                    f" at step {step:,}" if step is not None else ""
                )
            else:
                outcome = f"nothing to do: {said}"
        elif ended:
            state, outcome = "missed", f"the run ended ({status}) before it took this request"
        out.append(
            ControlRequest(
                id=int(req["id"]),
                action=action,
                value=value,
                by=str(req.get("by", "")),
                requested_at=req["ts"],
                state=state,
                step=step,
                taken_at=taken_at,
                outcome=outcome,
            )
        )
    return out


def control_log(store: Store, run_id: str, *, viewer: Viewer) -> list[ControlRequest]:
    """Every control request of a run and what became of it, oldest first.

    Args:
        store: The store.
        run_id: The run.
        viewer: Who asks; a run they may not see has no requests.

    Returns:
        The requests (see :func:`pair_controls`).

    Raises:
        NotFoundError: No such run, or not visible to ``viewer``.
    """
    from core.store import get_events
    from core.store import get_run

    run = get_run(store, run_id, viewer=viewer)
    return pair_controls(get_events(store, run_id, viewer=viewer), run.status, run.ended_at)
