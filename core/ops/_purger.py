"""The app's trash purger: :func:`core.ops.purge_trash` every hour, by one process of several."""

from __future__ import annotations

import logging
from typing import Any

from core.errors import AppError
from core.ops._trash import PurgeResult
from core.ops._trash import purge_trash
from core.periodic import Periodic
from core.store import hold_lease
from core.store import lease_holder_id
from core.store import release_lease

__all__ = ["TrashPurger"]

_log = logging.getLogger(__name__)


class TrashPurger(Periodic):
    """Calls :func:`purge_trash` every ``interval`` seconds (an hour) in a daemon thread: the app
    starts one, so what has been in the trash longer than LOOM_TRASH_DAYS goes without an
    operator.

    Two app processes (replicas) on one store each start one, but only the holder of the store's
    ``trash-purger`` lease (core.store's ``hold_lease``) purges: two purges at once would each
    audit the same items and race on their files. The holder renews the lease every run; it
    lasts two intervals, so the other process takes over within two hours of the holder dying.

    Args:
        store: The store.
        interval: Seconds between purges. Defaults to 3600.
    """

    LEASE = "trash-purger"

    def __init__(self, store: Any, interval: float = 3600.0) -> None:
        super().__init__(interval, "loom-trash-purger")
        self._store = store
        self._holder = lease_holder_id(self.LEASE)

    def stop(self) -> None:
        super().stop()
        try:
            release_lease(self._store, self.LEASE, self._holder)
        except AppError as exc:  # the store is gone: the lease expires by itself
            _log.warning("trash purger: could not release its lease: %s", exc)

    def run_once(self) -> PurgeResult | None:
        """Purge now if this purger holds (or takes) the lease; None if another process does."""
        if not hold_lease(self._store, self.LEASE, self._holder, seconds=2 * self._interval):
            return None
        return purge_trash(self._store)

    def tick(self) -> None:
        result = self.run_once()
        if result is not None and result.purged:
            _log.info("trash: purged %d item(s), freed %d bytes", len(result.purged), result.freed_bytes)
