"""Worker set-up, by a worker plugin (so workers that join later, a restarted or scaled
cluster, get it too):

- **No statistical profiler.** Dask's worker profiler calls ``sys._current_frames()`` from the
  event loop 100 times a second. On CPython 3.11 that call holds the interpreter's thread-list
  lock while it allocates; a garbage collection there that frees a TensorFlow graph (which holds
  a ``threading.local``) takes the same lock again and the whole worker process deadlocks, every
  thread waiting for the GIL (seen in this suite; CPython gh-106883). Loom's clusters start with
  the profiler off; this stops it on workers that joined with it on.
- **Warm-up.** Each worker process imports the framework and runs one tiny step as it starts,
  so a run launched on it does not pay the import (seconds) before its first point. The work
  happens on a daemon thread: a job that arrives meanwhile simply waits on Python's import lock
  for the same import, never for a second one.
- **Niceness.** On the app's own machine, worker processes run niced (``LOOM_WORKER_NICE``, 10):
  a training run then takes whatever CPU the pages leave, so a tweak on a page answers as fast
  while two runs train beside it, and a quiet machine still gives training every core. Linux
  keeps a niceness per thread, so every thread the process already has is niced; the threads
  it starts later inherit it from the thread that starts them.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from core.compute._settings import PROFILER_OFF
from core.errors import SpecError

__all__ = ["PROFILER_OFF", "WarmUp", "check_warm_refs", "lower_priority", "stop_profiler"]

_log = logging.getLogger(__name__)


def check_warm_refs(refs: Sequence[str]) -> tuple[str, ...]:
    """References ``"core.module:function"``, each called as ``function(threads)`` on a worker.

    Raises:
        SpecError: A reference outside ``core`` or not of that form.
    """
    for ref in refs:
        module, _, name = ref.partition(":")
        if not (module == "core" or module.startswith("core.")) or not name.isidentifier():
            raise SpecError(f"A warm-up reference is 'core.module:function', but got {ref!r}.")
    return tuple(refs)


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _Base
except ImportError:  # pragma: no cover - dask.distributed is in requirements.txt
    _Base = object  # type: ignore[assignment,misc]


def stop_profiler(worker: Any) -> None:
    """Stop a worker's statistical profiler, if it runs (see the module docstring)."""
    for name in ("profile", "profile-cycle"):
        callback = getattr(worker, "periodic_callbacks", {}).pop(name, None)
        if callback is not None:
            callback.stop()


def lower_priority(nice: int) -> int:
    """Raise this process's niceness to ``nice`` (never lower it: that needs privileges), for
    each of its threads. Returns the niceness it has now (0 where the system has none)."""
    if not hasattr(os, "setpriority"):
        return 0
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # not Linux: the calling process
    for thread in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, thread) < nice:
                os.setpriority(os.PRIO_PROCESS, thread, nice)
        except OSError:  # a thread that has just ended
            continue
    return os.getpriority(os.PRIO_PROCESS, 0)


class WarmUp(_Base):
    """Stops the worker's profiler, nices the worker process, then calls each warm-up reference
    once per worker process, off the worker's event loop.

    Args:
        refs: Warm-up references (:func:`check_warm_refs`).
        nice: The niceness of worker processes; 0 leaves them as started. Only for processes
            that are not the one that registered the plugin (a threads-only cluster's workers
            live in the app process, which must stay as fast as it is).
    """

    name = "loom-warm-up"

    def __init__(self, refs: Sequence[str], nice: int = 0) -> None:
        self.refs = check_warm_refs(refs)
        self.nice = nice
        self.owner = os.getpid()

    def setup(self, worker: Any) -> None:
        stop_profiler(worker)
        if self.nice and os.getpid() != self.owner:
            lower_priority(self.nice)
        if not self.refs:
            return
        threads = int(getattr(getattr(worker, "state", None), "nthreads", 0) or 0)
        threading.Thread(target=self._run, args=(threads,), name=self.name, daemon=True).start()

    def _run(self, threads: int) -> None:
        for ref in self.refs:
            module, _, name = ref.partition(":")
            try:
                getattr(importlib.import_module(module), name)(threads)
            except Exception:  # a failed warm-up costs only the time it would have saved
                _log.warning("Warm-up %s failed; runs on this worker start cold.", ref, exc_info=True)
