"""A run's training process on a Keras backend other than its worker's (started by
``_backends.run_in_backend_process`` with ``KERAS_BACKEND`` set).

    python -m core.training._backend_child '<json args>' <result file>

It runs the job body named in the arguments (``train`` or ``trial``) against the run in the
store, with a :class:`~core.compute.JobContext` of its own, and writes how it ended to the
result file: ``{"result": ...}``, ``{"stopped": why}`` or ``{"error": class name, "message":
...}``. It exits at once when the worker that started it dies.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any


def _watch_parent(parent: int) -> None:
    # The worker that started this process died (its pid is no longer our parent): stop now, so
    # nothing writes to a run the reaper marks interrupted. os._exit: no clean-up to wait for.
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, name="loom-parent-watch", daemon=True).start()


def main() -> int:
    args = json.loads(sys.argv[1])
    result_file = sys.argv[2]
    _watch_parent(int(args["parent"]))
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        # Keras on JAX or PyTorch still imports TensorFlow when it is installed, only to seed it
        # (set_random_seed) and to recognise its types when saving (each checkpoint): seconds of
        # start-up and ~0.5 GB that this process never uses. None in sys.modules is Python's own
        # "not importable", which Keras reads as "TensorFlow is not installed".
        sys.modules["tensorflow"] = None  # type: ignore[assignment]

    from core.compute import JobContext
    from core.config import AppConfig
    from core.errors import JobStopped
    from core.store import open_store

    module, _, name = str(args["job"]).partition(":")
    if not module.startswith("core.") or not name.isidentifier():
        raise SystemExit(f"not a job body: {args['job']!r}")
    config = AppConfig.for_data_dir(args["config"]["data_dir"], database_url=args["config"]["database_url"])
    store = open_store(config)
    ctx = JobContext(store, args["run_id"], config.heartbeat_seconds)
    ctx.start()
    out: dict[str, Any]
    try:
        job = getattr(importlib.import_module(module), name)
        out = {"result": job(ctx, args["data"])}
    except JobStopped as exc:
        out = {"stopped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the job boundary: the worker records the failure
        traceback.print_exc()
        out = {"error": exc.__class__.__name__, "message": str(exc)}
    try:
        ctx.close()  # every metric is stored before the worker records the final status
    except Exception as exc:  # noqa: BLE001 - reported like a failed job
        out = {"error": exc.__class__.__name__, "message": f"could not store the last metrics: {exc}"}
    with open(result_file, "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
