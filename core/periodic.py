"""A daemon thread that does one piece of upkeep every few seconds: the reaper, the alert
evaluator and the trash purger are each one (:class:`Periodic`)."""

from __future__ import annotations

import logging
import threading
from typing import Self

from core.errors import AppError

__all__ = ["Periodic"]

_log = logging.getLogger(__name__)


class Periodic:
    """Calls :meth:`tick` every ``interval`` seconds in a daemon thread, from :meth:`start` until
    :meth:`stop`. A Loom error in a tick (the store unreachable for a moment, say) is logged and
    the next tick comes as planned. Anything else is a bug: it is logged with its traceback, and
    the next tick still comes, since a thread that ended would leave the upkeep undone for the
    life of the app with nothing on screen to say so (tornado's and Dask's periodic callbacks do
    the same).

    Args:
        interval: Seconds between ticks; the first comes one interval after :meth:`start`.
        name: The thread's name, also the log's prefix.
    """

    def __init__(self, interval: float, name: str) -> None:
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Self:
        """Start the thread; returns self, so ``Reaper(...).start()`` reads as one step."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """No tick after the one running now, if any."""
        self._done.set()

    def tick(self) -> None:
        """One piece of upkeep."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self.tick()
            except AppError as exc:
                _log.warning("%s: %s", self._thread.name, exc)
            except Exception:
                _log.exception("%s: a tick failed; the next comes in %s s", self._thread.name, self._interval)
