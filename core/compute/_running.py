"""Where a running app's local cluster can be found: the app writes its scheduler's address to
``<data dir>/scheduler.json`` and the CLI, started later with the same data directory, joins it
instead of starting a cluster of its own (seconds of process start-up and framework imports).

The file is only a hint: a reader uses it only when the process that wrote it is alive and the
scheduler at that address answers with the ID that was written, so a file left behind by an app
that died, or a port reused by another scheduler, is ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from distributed import Client

    from core.config import AppConfig

__all__ = ["SCHEDULER_FILE", "advertise_scheduler", "connect_running"]

SCHEDULER_FILE = "scheduler.json"
_CONNECT_TIMEOUT = "3s"

_log = logging.getLogger(__name__)


def _path(config: AppConfig) -> Path:
    return config.data_dir / SCHEDULER_FILE


def advertise_scheduler(config: AppConfig, client: Client) -> None:
    """Record ``client``'s scheduler in the data directory, for the CLI to join. Only a TCP
    scheduler is recorded (a threads-only cluster talks inproc://, which no other process can
    reach); the file goes when this process exits."""
    info = client.scheduler_info(n_workers=0)
    address = str(info.get("address", ""))
    if not address.startswith("tcp://"):
        return
    record = {"address": address, "id": str(info.get("id", "")), "pid": os.getpid()}
    path = _path(config)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(record))
        tmp.chmod(0o600)
        tmp.replace(path)
    except OSError as exc:  # the app works without it; the CLI then starts its own cluster
        _log.warning("Could not record the scheduler's address in %s: %s", path, exc)
        return
    atexit.register(_forget, path, address)


def _forget(path: Path, address: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("address") == address:
            path.unlink()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def connect_running(config: AppConfig) -> Client | None:
    """A client of the app's cluster recorded in the data directory, or None when there is none
    or it does not answer as the one recorded."""
    try:
        record = json.loads(_path(config).read_text())
    except (OSError, ValueError):
        return None
    address = record.get("address") if isinstance(record, dict) else None
    # A live process is checked first (cheap); a bare socket probe of the port would make the
    # app's scheduler log a connection closed before its handshake.
    if not isinstance(address, str) or not _alive(record.get("pid")):
        return None
    import distributed

    try:
        client = distributed.Client(address, timeout=_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        _log.info("The recorded scheduler %s did not answer: %s", address, exc)
        return None
    if str(client.scheduler_info(n_workers=0).get("id", "")) != record.get("id"):
        client.close()
        return None
    return client
