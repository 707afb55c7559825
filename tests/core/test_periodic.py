"""core.periodic: upkeep every interval in a daemon thread; a Loom error in one tick is logged and
the next tick comes; stop ends it."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from core.errors import AppError
from core.periodic import Periodic
from tests.waiting import wait_until


class _Counting(Periodic):
    def __init__(self) -> None:
        super().__init__(0.01, "loom-test-upkeep")
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks == 2:
            raise AppError("the store is away for a moment")


def test_ticks_go_on_after_a_loom_error_and_end_on_stop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.periodic")
    upkeep = _Counting().start()
    wait_until(lambda: upkeep.ticks >= 4, timeout=10, what="four ticks")
    assert "loom-test-upkeep: the store is away for a moment" in caplog.text
    upkeep.stop()
    wait_until(lambda: not any(t.name == "loom-test-upkeep" for t in threading.enumerate()), timeout=5)
    after = upkeep.ticks
    time.sleep(0.1)  # ten intervals
    assert upkeep.ticks == after


class _Buggy(Periodic):
    def __init__(self) -> None:
        super().__init__(0.01, "loom-test-buggy")
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks == 2:
            raise AttributeError("'NoneType' object has no attribute 'run_function'")


def test_a_bug_in_a_tick_is_logged_with_its_traceback_and_the_upkeep_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="core.periodic")
    upkeep = _Buggy().start()
    try:
        wait_until(lambda: upkeep.ticks >= 4, timeout=10, what="ticks after the bug")
    finally:
        upkeep.stop()
    (record,) = [r for r in caplog.records if r.exc_info]
    assert "loom-test-buggy: a tick failed" in record.getMessage()
    assert record.exc_info[0] is AttributeError
