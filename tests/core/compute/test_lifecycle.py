"""The run lifecycle, decided without a cluster or a database."""

from __future__ import annotations

import pickle

import pytest

from core.compute._lifecycle import TERMINAL
from core.compute._lifecycle import BeatHeart
from core.compute._lifecycle import CancelTask
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
from core.errors import InvalidTransition

Q, R = RunState(RunStatus.QUEUED), RunState(RunStatus.RUNNING, worker="w1")


def test_happy_path() -> None:
    d = handle(Q, Started("w1"))
    assert d.proceed
    assert d.state == RunState(RunStatus.RUNNING, worker="w1")
    assert d.actions == (SetStatus(RunStatus.RUNNING, "started on w1"), BeatHeart())
    d = handle(d.state, Succeeded())
    assert d.state.status is RunStatus.SUCCEEDED
    assert d.actions == (SetStatus(RunStatus.SUCCEEDED, "finished"),)


def test_failure_keeps_message() -> None:
    d = handle(R, Failed("ValueError: boom"))
    assert d.actions == (SetStatus(RunStatus.FAILED, "ValueError: boom"),)


def test_stop_while_running_signals_then_stops() -> None:
    d = handle(R, StopRequested(by="ana"))
    assert d.state == RunState(RunStatus.RUNNING, stop_requested=True, worker="w1")
    assert d.actions == (SignalStop(), RecordEvent("control", "stop requested by ana"))
    assert handle(d.state, StopRequested()).actions == ()  # asking twice changes nothing
    assert handle(d.state, Stopped()).state.status is RunStatus.STOPPED


def test_stop_while_queued_stops_at_once_and_cancels() -> None:
    d = handle(Q, StopRequested())
    assert d.state.status is RunStatus.STOPPED
    assert CancelTask() in d.actions


def test_start_after_stop_request_does_not_proceed() -> None:
    d = handle(RunState(RunStatus.QUEUED, stop_requested=True), Started("w1"))
    assert not d.proceed
    assert d.state.status is RunStatus.STOPPED


def test_second_start_means_worker_died() -> None:
    d = handle(R, Started("w2"))
    assert not d.proceed
    assert d.state.status is RunStatus.INTERRUPTED
    reason = d.actions[0].reason  # type: ignore[union-attr]
    assert "w1 died mid-run" in reason and "w2" in reason


@pytest.mark.parametrize("state", [Q, R])
def test_lost_interrupts(state: RunState) -> None:
    d = handle(state, Lost("no heartbeat"))
    assert d.actions == (SetStatus(RunStatus.INTERRUPTED, "no heartbeat"),)


def test_heartbeat_only_beats() -> None:
    assert handle(R, Heartbeat("w1")).actions == (BeatHeart(),)


@pytest.mark.parametrize("status", sorted(TERMINAL))
@pytest.mark.parametrize(
    "event",
    [Started("w"), Heartbeat("w"), Succeeded(), Failed("x"), StopRequested(), Stopped(), Lost("x")],
)
def test_terminal_states_absorb_every_event(status: RunStatus, event: object) -> None:
    state = RunState(status)
    d = handle(state, event)  # type: ignore[arg-type]
    assert d.state == state and d.actions == () and not d.proceed


@pytest.mark.parametrize("event", [Succeeded(), Stopped(), Heartbeat("w")])
def test_finishing_before_starting_is_invalid(event: object) -> None:
    with pytest.raises(InvalidTransition, match="queued"):
        handle(Q, event)  # type: ignore[arg-type]


def test_invalid_transition_pickles() -> None:
    err = InvalidTransition("a run that is queued cannot succeed")
    assert str(pickle.loads(pickle.dumps(err))) == str(err)
