"""A warm training process on a Keras backend other than its worker's (started by
``_backend_pool`` with ``KERAS_BACKEND`` set).

    python -m core.training._backend_child <answer fd> <parent pid>

It reads jobs as JSON lines on stdin (``{"job", "run_id", "data", "config"}``), answers each on
the answer pipe with ``{"started": pid}`` and then how it ended: ``{"result": ...}``,
``{"stopped": why}`` or ``{"error": class name, "message": ...}``. Each job runs the job body it
names (``train`` or ``trial``) against the run in the store, with a
:class:`~core.compute.JobContext` of its own; between jobs Keras's session is cleared and memory
collected (each job seeds Keras itself, so a reused process trains as a fresh one would). It
exits when stdin closes, after ``LOOM_BACKEND_IDLE_SECONDS`` (default 300) without a job, and at
once when the worker that started it dies.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import sys
import threading
import time
import traceback
from typing import Any

_IDLE_SECONDS = 300.0


def _watch_parent(parent: int) -> None:
    # The worker that started this process died (its pid is no longer our parent): stop now, so
    # nothing writes to a run the reaper marks interrupted. os._exit: no clean-up to wait for.
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, name="loom-parent-watch", daemon=True).start()


class _Lines:
    """JSON lines from a file descriptor, with a timeout per line (stdin is a pipe)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next line, or None on end of input or after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
            deadline = max(deadline, time.monotonic() + 30)  # the rest of a line being written
        line, _, self._buffer = self._buffer.partition(b"\n")
        return dict(json.loads(line))


def _idle_seconds() -> float:
    try:
        return float(os.environ.get("LOOM_BACKEND_IDLE_SECONDS") or _IDLE_SECONDS)
    except ValueError:
        return _IDLE_SECONDS


def _run(job: dict[str, Any]) -> dict[str, Any]:
    from core.compute import JobContext
    from core.config import AppConfig
    from core.errors import JobStopped
    from core.store import open_store

    module, _, name = str(job["job"]).partition(":")
    if not module.startswith("core.") or not name.isidentifier():
        return {"error": "ComputeError", "message": f"not a job body: {job['job']!r}"}
    config = AppConfig.for_data_dir(job["config"]["data_dir"], database_url=job["config"]["database_url"])
    store = open_store(config)
    ctx = JobContext(store, job["run_id"], config.heartbeat_seconds)
    ctx.start()
    out: dict[str, Any]
    try:
        body = getattr(importlib.import_module(module), name)
        out = {"result": body(ctx, job["data"])}
    except JobStopped as exc:
        out = {"stopped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the job boundary: the worker records the failure
        traceback.print_exc()
        out = {"error": exc.__class__.__name__, "message": str(exc)}
    try:
        ctx.close()  # every metric is stored before the worker records the final status
    except Exception as exc:  # noqa: BLE001 - reported like a failed job
        out = {"error": exc.__class__.__name__, "message": f"could not store the last metrics: {exc}"}
    return out


def _warm_up() -> None:
    """Import Keras on this process's backend and take one tiny step, as a worker's warm-up does
    for TensorFlow (``--warm``: a worker started this process ahead of any run)."""
    from core.training._warm import tiny_fit

    tiny_fit()
    _clean()


def _clean() -> None:
    # What one job built (models, compiled functions, layer-name counters) must not outlive it.
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()


def main() -> int:
    answers = os.fdopen(int(sys.argv[1]), "w")
    _watch_parent(int(sys.argv[2]))
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        # Keras on JAX or PyTorch still imports TensorFlow when it is installed, only to seed it
        # (set_random_seed) and to recognise its types when saving (each checkpoint): seconds of
        # start-up and ~0.5 GB that this process never uses. None in sys.modules is Python's own
        # "not importable", which Keras reads as "TensorFlow is not installed".
        sys.modules["tensorflow"] = None  # type: ignore[assignment]

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    if "--warm" in sys.argv[3:]:
        try:
            _warm_up()
        except Exception:  # noqa: BLE001 - a failed warm-up only costs the first run its time
            traceback.print_exc()
    jobs = _Lines(sys.stdin.fileno())
    idle = _idle_seconds()
    while True:
        job = jobs.next(idle)
        if job is None:  # stdin closed (the pool let it go) or idle too long
            return 0
        answer({"started": os.getpid()})
        out = _run(job)
        sys.stdout.flush()
        sys.stderr.flush()
        answer(out)
        _clean()


if __name__ == "__main__":
    raise SystemExit(main())
