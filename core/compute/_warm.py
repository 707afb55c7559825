"""Warm workers: each worker process imports the framework and runs one tiny step as it
starts, so a run launched on it does not pay the import (seconds) before its first point.

A worker plugin, so workers that join later (a restarted or scaled cluster) warm up too. The
work happens on a daemon thread: a job that arrives meanwhile simply waits on Python's import
lock for the same import, never for a second one.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from core.errors import SpecError

__all__ = ["WarmUp", "check_warm_refs"]

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


class WarmUp(_Base):
    """Calls each warm-up reference once per worker process, off the worker's event loop."""

    name = "loom-warm-up"

    def __init__(self, refs: Sequence[str]) -> None:
        self.refs = check_warm_refs(refs)

    def setup(self, worker: Any) -> None:
        threads = int(getattr(getattr(worker, "state", None), "nthreads", 0) or 0)
        threading.Thread(target=self._run, args=(threads,), name=self.name, daemon=True).start()

    def _run(self, threads: int) -> None:
        for ref in self.refs:
            module, _, name = ref.partition(":")
            try:
                getattr(importlib.import_module(module), name)(threads)
            except Exception:  # a failed warm-up costs only the time it would have saved
                _log.warning("Warm-up %s failed; runs on this worker start cold.", ref, exc_info=True)
