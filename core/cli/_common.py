"""What every CLI command shares: printing a line, quiet frameworks, the cluster, waiting for a run."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Set before anything imports them (and inherited by the worker processes a command starts):
# TensorFlow's C++ log, gRPC's, and dask.distributed's own log lines. A variable the user has
# set wins.
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "DASK_LOGGING__DISTRIBUTED": "critical",
}
WORKERS_LOG = "logs/cli-cluster.log"

_verbose = False


def set_quiet(quiet: bool) -> list[str]:
    """Quiet (the default): framework log noise off; ``--verbose`` leaves everything as it is.
    Returns the variables it set (``main`` removes them again when called in-process)."""
    global _verbose
    _verbose = not quiet
    added = [name for name in QUIET_ENV if quiet and name not in os.environ]
    for name in added:
        os.environ[name] = QUIET_ENV[name]
    if quiet:
        # A cluster this command started says its goodbyes as Python warnings (a fire-and-forget
        # key it no longer knows, a worker still closing): nothing the user can act on.
        warnings.filterwarnings("ignore", module=r"distributed(\.|$)")
    return added


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    """An error line, on stderr: a script reading a command's output (``runs``, ``du``, an
    export) never takes it for a result; the command exits non-zero with it."""
    sys.stdout.flush()  # what was printed before it comes first in a terminal showing both
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def table(rows: list[list[str]]) -> list[str]:
    """Fixed-width lines: the first row is the header; columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    # Worker processes inherit file descriptor 2 as they are spawned: while the cluster starts,
    # it is the log file, so what their frameworks print at import (TensorFlow's C++ lines come
    # before any setting can silence them) lands there, not in the terminal.
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def cluster_client(config) -> Any:  # type: ignore[no-untyped-def]
    """The running app's cluster when one is up for this data directory (seconds faster: its
    workers have imported their frameworks), else a local cluster started for this command; its
    workers' output goes to ``<data dir>/logs/cli-cluster.log`` unless ``--verbose``."""
    from core.compute import create_client

    if _verbose or config.scheduler_address:
        return create_client(config, join_running=True)
    with _stderr_to(config.data_dir / WORKERS_LOG):
        return create_client(config, join_running=True)


def wait(store, run_id: str) -> Any:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run

    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.5)
    return run
