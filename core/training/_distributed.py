"""Data-parallel training: one run, synchronously, across N Dask workers.

The coordinator is the run's own job (on any worker). It picks N workers (with a ``GPU`` each if
asked), asks each for a free port, assembles ``TF_CONFIG`` from their addresses and starts one
*participant* task on each. A participant launches a fresh Python process (collective ops can be
set up only once per process, so every run gets new ones and other runs in the worker are left
alone) that trains with ``tf.distribute.MultiWorkerMirroredStrategy`` and a custom loop
(``strategy.run`` + ``GradientTape``: Keras 3's ``fit`` fails under this strategy with two or
more workers, keras-team/keras#20585).

Every process draws the same permutation of the training rows each epoch (from the seed); a
global batch of B rows is split into N contiguous shards of B/N, and each replica's loss is its
shard's sum divided by B, so the summed gradient is the gradient of the global batch's mean
loss: the same numbers as one worker training on the whole batch, within float tolerance. The
chief (task 0) streams merged metrics (the all-reduced loss) into the store like any run.

A participant that dies fails the whole run: the coordinator sees its exit, raises the run's
abort flag (a file in the shared data directory), every other participant kills its process, and
collectives that were waiting time out (``LOOM_DP_TIMEOUT`` seconds) instead of hanging.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from core.errors import ComputeError
from core.errors import DataError
from core.errors import JobStopped

if TYPE_CHECKING:
    from core.compute import JobContext
    from core.config import AppConfig

__all__ = ["run_data_parallel"]

_COLLECTIVE_TIMEOUT_S = float(os.environ.get("LOOM_DP_TIMEOUT", "120"))


def _free_port() -> int:
    """A free TCP port on this worker's host (for its TensorFlow collective server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _host(address: str) -> str:
    return urlsplit(address).hostname or "127.0.0.1"


def _abort_path(config: AppConfig, run_id: str) -> Path:
    from core.store import open_store

    return open_store(config).path_for("tmp", run_id, ".abort")


def _participant(
    config: AppConfig, run_id: str, spec: dict[str, Any], index: int, cluster: list[str]
) -> dict:
    """One participant (a Dask task): runs the training process, kills it if the run aborts."""
    from distributed import get_worker

    try:
        threads = get_worker().state.nthreads
    except (ValueError, AttributeError):
        threads = 1
    args = {
        "config": {"data_dir": str(config.data_dir), "database_url": config.database_url},
        "run_id": run_id,
        "spec": spec,
        "index": index,
        "cluster": cluster,
        "threads": threads,
        "timeout_s": _COLLECTIVE_TIMEOUT_S,
    }
    env = {
        **os.environ,
        "TF_CONFIG": json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",  # whatever the worker's own: the strategy is TensorFlow's
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    abort = _abort_path(config, run_id)
    out_dir = Path(config.data_dir) / "tmp"
    log = out_dir / f"{run_id}-dp{index}.log"
    result_file = out_dir / f"{run_id}-dp{index}.json"
    with open(log, "w") as log_fh:
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module, JSON arguments
            [sys.executable, "-m", "core.training._dp_child", json.dumps(args), str(result_file)],
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
        )
        while True:
            try:
                rc = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if abort.exists():
                    proc.kill()
                    proc.wait()
                    rc = -9
                    break
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    result = json.loads(result_file.read_text()) if rc == 0 and result_file.exists() else None
    for path in (log, result_file):
        path.unlink(missing_ok=True)
    return {"index": index, "rc": rc, "result": result, "log": tail, "pid": proc.pid}


def run_data_parallel(ctx: JobContext, spec: Any) -> dict[str, Any]:
    """The coordinator: place N participants, watch them, and end the run as they end."""
    from distributed import get_client
    from distributed import secede
    from distributed import wait

    n = spec.workers
    client = get_client()
    info = client.scheduler_info(n_workers=-1)["workers"]
    eligible = sorted(
        a for a, w in info.items() if not spec.gpu or (w.get("resources") or {}).get("GPU", 0) >= 1
    )
    if len(eligible) < n:
        kind = "GPU workers (declaring GPU=1)" if spec.gpu else "workers"
        raise ComputeError(
            f"This run asks for {n} {kind}, but the cluster has {len(eligible)}. Lower `workers`, or "
            "start more workers (the Cluster page lists them)."
        )
    chosen = eligible[:n]
    ports = client.run(_free_port, workers=chosen)
    cluster = [f"{_host(a)}:{ports[a]}" for a in chosen]
    abort = _abort_path(ctx.store.config, ctx.run_id)
    abort.unlink(missing_ok=True)
    ctx.note("log", {"message": f"data-parallel over {n} workers: {', '.join(chosen)}"})
    try:
        secede()  # the coordinator waits; its worker thread is free for a participant
    except (ValueError, KeyError):
        pass
    futures = [
        client.submit(
            _participant,
            ctx.store.config,
            ctx.run_id,
            spec.to_dict(),
            i,
            cluster,
            workers=[address],
            allow_other_workers=False,
            pure=False,
            key=f"loom-dp-{ctx.run_id}-{i}",
            resources={"GPU": 1} if spec.gpu else None,
        )
        for i, address in enumerate(chosen)
    ]
    failure: str | None = None
    stop_seen: float | None = None
    try:
        pending = list(futures)
        while pending:
            try:
                done, not_done = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done, not_done = set(), pending
            pending = list(not_done)
            for f in done:
                i = futures.index(f)
                if f.status == "error":
                    failure = failure or f"participant {i} on {chosen[i]} was lost: {f.exception()}"
                    continue
                out = f.result()
                if out["rc"] != 0 and failure is None and not abort.exists():
                    last = out["log"].strip().splitlines()[-1:] or ["no output"]
                    failure = f"participant {i} on {chosen[i]} exited with {out['rc']}: {last[0][:300]}"
            if ctx.should_stop() and stop_seen is None:
                stop_seen = time.monotonic()  # participants agree to stop within 10 steps
            late = stop_seen is not None and time.monotonic() - stop_seen > 60
            if (failure or late) and not abort.exists():
                abort.touch()  # every participant kills its process
    finally:
        abort.unlink(missing_ok=True)
    if failure:
        raise DataError(f"data-parallel training failed: {failure}. The other participants were stopped.")
    chief = futures[0].result()["result"]
    if stop_seen is not None and (chief is None or chief.get("stopped")):
        raise JobStopped("stopped on request")
    if chief is None:
        raise DataError("the chief participant returned no result")
    if chief.get("failure"):
        raise DataError(chief["failure"])
    return {**chief, "workers": chosen}
