"""What every CLI command shares: printing a line, waiting for a run."""

from __future__ import annotations

import sys
import time
from typing import Any


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def wait(store, run_id: str) -> Any:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run

    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.5)
    return run
