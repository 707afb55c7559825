"""The threads beside a run survive a bug in one step: the heartbeat writer (its buffer kept, the
heartbeat going on) and the checkpoint writer (the queue still drained, so training never waits
forever on a writer that died). Each error is logged with its traceback and said."""

from __future__ import annotations

import logging
import threading

import pytest

from core.compute._context import inline_job
from core.store import SYSTEM
from core.store import get_metrics
from core.training._checkpoints import CheckpointRule
from core.training._checkpoints import EpochWriter
from tests.waiting import wait_until


def test_a_bug_in_a_heartbeat_tick_loses_no_point(store, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from core.compute import _context

    caplog.set_level(logging.WARNING, logger="core.compute._context")
    real_poll = _context.JobContext._poll
    failures = []

    def poll_once_broken(self):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise KeyError("a bug in one tick")
        return real_poll(self)

    monkeypatch.setattr(_context.JobContext, "_poll", poll_once_broken)
    with inline_job(store, "train", {}, system_metrics=False) as ctx:
        ctx.log_metric("batch/loss", 1, 1.0)
        wait_until(lambda: failures, timeout=10, what="the broken tick")
        ctx.log_metric("batch/loss", 2, 0.5)
        wait_until(lambda: _steps(store, ctx.run_id) == [1, 2], timeout=10, what="both points stored")
        assert any(t.name.startswith("loom-heartbeat-") for t in threading.enumerate())
    assert "store write deferred" in caplog.text and "KeyError" in caplog.text


def _steps(store, run_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    series = get_metrics(store, run_id, viewer=SYSTEM).get("batch/loss")
    return list(series.steps) if series is not None else []


def test_a_bug_in_a_checkpoint_write_neither_hangs_training_nor_goes_unsaid(
    store, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="core.training._checkpoints")
    writer = EpochWriter(store, "f" * 32, CheckpointRule())
    monkeypatch.setattr(writer, "_write", lambda meta, w, s: (_ for _ in ()).throw(ValueError("a bug")))
    done = threading.Event()

    def train() -> None:  # more epochs than the queue holds: a dead writer would block the 5th
        for epoch in range(1, 9):
            writer._queue.put(({"epoch": epoch}, [], []))
        writer.close()
        done.set()

    threading.Thread(target=train, daemon=True).start()
    assert done.wait(10), "training waited on a writer that died"
    assert writer.error == "could not write a checkpoint: ValueError: a bug"
    assert "checkpoint of epoch 1 not written" in caplog.text


@pytest.fixture
def store(config):  # type: ignore[no-untyped-def]
    from core.store import open_store

    return open_store(config)
