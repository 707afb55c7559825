"""Control requests paired with what answered them (core.compute.pair_controls), without a cluster."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

from core.compute import pair_controls

T0 = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def _event(i: int, kind: str, message: str, seconds: float):  # type: ignore[no-untyped-def]
    return SimpleNamespace(id=i, kind=kind, message=message, ts=T0 + timedelta(seconds=seconds))


def _control(i: int, action: str, value: float | None = None, seconds: float = 0.0):  # type: ignore[no-untyped-def]
    return _event(i, "control", json.dumps({"action": action, "value": value, "by": "alice"}), seconds)


def _marker(i: int, action: str, step: int, request: int | None, seconds: float):  # type: ignore[no-untyped-def]
    data = {"action": action, "step": step, "value": None}
    if request is not None:
        data["request"] = request
    return _event(i, "marker", json.dumps(data), seconds)


def test_a_request_is_shown_as_requested_until_its_marker_arrives() -> None:
    events = [_control(1, "pause", seconds=0)]
    (req,) = pair_controls(events, "running", None)
    assert (req.action, req.state, req.step, req.by) == ("pause", "requested", None, "alice")
    assert req.seconds_to_take is None

    events.append(_marker(2, "pause", 120, request=1, seconds=0.4))
    (req,) = pair_controls(events, "running", None)
    assert (req.state, req.step, req.outcome) == ("taken", 120, "took effect at step 120")
    assert req.seconds_to_take == 0.4


def test_each_marker_answers_its_own_request_not_the_first_of_its_kind() -> None:
    events = [
        _control(1, "set_lr", 0.1),
        _control(2, "set_lr", 0.01, seconds=1),
        _marker(3, "set_lr", 50, request=2, seconds=1.2),
    ]
    first, second = pair_controls(events, "running", None)
    assert (first.value, first.state) == (0.1, "requested")
    assert (second.value, second.state, second.step) == (0.01, "taken", 50)


def test_a_request_that_changed_nothing_is_answered_not_left_pending() -> None:
    ack = json.dumps({"request": 1, "outcome": "already paused", "step": 7})
    events = [_control(1, "pause"), _event(2, "control_ack", ack, 0.2)]
    (req,) = pair_controls(events, "running", None)
    assert (req.state, req.outcome) == ("answered", "nothing to do: already paused")


def test_a_refused_learning_rate_says_so() -> None:
    events = [
        _control(1, "set_lr", 0.5),
        _marker(2, "set_lr refused (the run uses a learning-rate schedule)", 9, request=1, seconds=0.3),
    ]
    (req,) = pair_controls(events, "running", None)
    assert req.state == "taken" and req.outcome.startswith("set_lr refused")


def test_a_stop_is_taken_by_its_marker_or_by_the_run_ending() -> None:
    stop = _event(1, "control", "stop requested by bob", 0)
    (req,) = pair_controls([stop], "running", None)
    assert (req.action, req.by, req.state) == ("stop", "bob", "requested")
    (req,) = pair_controls([stop, _marker(2, "stop", 300, None, 0.3)], "running", None)
    assert (req.state, req.step, req.outcome) == ("taken", 300, "stopped at step 300")
    # A job that has no stop marker of its own (a smoke job): the run ending answers it.
    (req,) = pair_controls([stop], "stopped", T0 + timedelta(seconds=2))
    assert (req.state, req.outcome, req.seconds_to_take) == ("taken", "the run ended: stopped", 2.0)


def test_a_request_the_run_never_took_is_missed_once_it_ended() -> None:
    (req,) = pair_controls([_control(1, "resume")], "succeeded", T0)
    assert req.state == "missed" and "ended (succeeded)" in req.outcome


def test_naive_sqlite_timestamps_compare_with_aware_ones() -> None:
    naive = SimpleNamespace(id=1, kind="control", message='{"action": "pause"}', ts=datetime(2026, 12, 5, 12))
    marker = _marker(2, "pause", 3, request=1, seconds=0.5)
    (req,) = pair_controls([naive, marker], "running", None)
    assert req.seconds_to_take == 0.5
