"""Keras backends per run: TensorFlow (the default install), JAX and PyTorch.

Keras fixes its backend once per process, when it is first imported (``KERAS_BACKEND``), and a
Dask worker never switches. Loom's workers run Keras on TensorFlow (they import it to warm up),
so a run whose backend is not its worker's own trains in **a warm process of that backend**,
kept by the worker process (:mod:`core.training._backend_pool`): ``python -m
core.training._backend_child`` started with ``KERAS_BACKEND`` set, which takes jobs one after
another as JSON lines on its stdin and answers on a pipe of its own, in JSON lines too (never
pickle). For each job the child runs the same job body (the ``train`` or ``trial`` job, the same
training loop) against the same store with a :class:`~core.compute.JobContext` of its own —
metrics, progress, checkpoints, stop/pause/learning-rate requests all travel through the store
exactly as in a worker — and answers with the job's result. The task waits for it, keeps the
run's heartbeat going, and ends the run as the child ended. Between jobs the child clears Keras's
session and collects memory; each job seeds Keras itself, so a reused process trains exactly as
a fresh one would. The run's events say which process trained it ("training on JAX in process
N (new)" or "(warm, its job 2)") and so does its result's ``environment["process"]``.

The pool keeps at most one idle child per backend per worker process. A second run of the same
backend while the first trains starts a second child; whichever ends second exits instead of
idling. A child that was killed (a stop it did not honour in time), crashed or died while idle
is never reused: the next run gets a fresh one. An idle child exits after
``LOOM_BACKEND_IDLE_SECONDS`` (default 300) without work, when its worker closes (a threads-only
cluster's worker closes with its cluster while the app process lives on), at the worker process's
exit (atexit), and at once when that process dies: each child watches its parent, so an orphan
never keeps writing to a run the reaper has marked interrupted.

Why processes rather than Dask worker resources per backend (workers started with
``KERAS_BACKEND=jax`` and ``--resources JAX=1``): a child works unchanged on all three clusters
Loom runs on — a threads-only ``LocalCluster`` inside the app (tests), a process ``LocalCluster``
and a remote scheduler whose workers someone else started — needs no worker of each backend
configured ahead, and a crash in one run's framework dies with its process. A fresh child pays
start-up: it imports Loom's training code, Keras and its backend (6.5 s for JAX, 11.6 s for
PyTorch on 2 shared CPU cores at a load average of 10) and compiles its first step; a warm one
pays only the compile, so a second run starts nearly as soon as a TensorFlow run on its warm
worker (``bench/backend_warm.py``). The price is the idle child's memory (its framework, a few
hundred MB) for up to the idle timeout. A worker that was started on a backend
(``KERAS_BACKEND=jax dask worker ...``) trains that backend's runs in its own thread, without a
child.

On a GPU worker, TensorFlow in the worker process takes most of the device's memory once it has
run (its default); for JAX or PyTorch runs on the same GPU, start such workers with
``TF_FORCE_GPU_ALLOW_GROWTH=true``.

Whether a backend can run at all is asked of the workers (:func:`available_backends`: each
reports which frameworks it could import, without importing them), so the Train page, the CLI
and study launches refuse a backend no worker has, naming the install command.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from core.errors import AppError
from core.errors import ComputeError
from core.errors import DataError
from core.errors import JobStopped
from core.errors import SpecError
from core.training._backend_pool import BackendChild
from core.training._backend_pool import acquire
from core.training._backend_pool import close_with_worker
from core.training._backend_pool import release

if TYPE_CHECKING:
    from distributed import Client

    from core.compute import JobContext

__all__ = [
    "BACKENDS",
    "BACKEND_INSTALL",
    "available_backends",
    "check_backend",
    "process_backend",
    "run_in_backend_process",
]

# Backend name (as KERAS_BACKEND spells it) -> what people call it.
BACKENDS: dict[str, str] = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}

# Backend -> how to install it on a worker (the documented extras; TensorFlow is the default).
BACKEND_INSTALL: dict[str, str] = {
    "tensorflow": "pip install -r requirements.txt",
    "jax": "pip install -r requirements-jax.txt",
    "torch": "pip install -r requirements-torch.txt",
}

# The module each backend needs importable.
_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

# How long a worker's report of its frameworks is trusted (a worker's packages rarely change).
_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, frozenset[str], dict[str, list[str]]]] = {}
_cache_lock = threading.Lock()

# After a stop request, how long the child may take to stop by itself before it is killed.
_STOP_GRACE_SECONDS = 60.0


def process_backend() -> str:
    """The Keras backend of this process, read as Keras reads it when imported
    (``KERAS_BACKEND``, then ``$KERAS_HOME/keras.json``, then TensorFlow), without importing it.

    Never asks an imported Keras: a worker's warm-up may be importing it on another thread right
    then, and a half-imported module has no ``backend`` yet.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        return str(json.loads(Path(home, "keras.json").read_text()).get("backend") or "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def importable_backends() -> list[str]:
    # On a worker: which frameworks could be imported here (found on the path, not imported).
    from importlib.util import find_spec

    found = []
    for backend, module in _MODULES.items():
        try:
            if find_spec(module) is not None:
                found.append(backend)
        except (ImportError, ValueError):  # ValueError: an import blocked via sys.modules
            pass
    return found


def available_backends(client: Client, *, refresh: bool = False) -> dict[str, list[str]]:
    """Which Keras backends the cluster's workers can run, and on which workers.

    Each worker reports which frameworks it could import (found on its path, never imported).
    The answer is kept for a minute per set of workers, so a page may ask on every rerun.

    Args:
        client: A connected Dask client.
        refresh: Ask the workers again even if a recent answer is kept. Defaults to False.

    Returns:
        Backend name -> addresses of the workers that have it (every backend of
        :data:`BACKENDS` is a key; an empty list: no worker has it).

    Raises:
        ComputeError: The cluster did not answer.
    """
    try:
        info = client.scheduler_info(n_workers=-1)
        scheduler, workers = str(info.get("address")), frozenset(info["workers"])
        with _cache_lock:
            kept = _cache.get(scheduler)
        if not refresh and kept and kept[1] == workers and time.monotonic() - kept[0] < _CACHE_SECONDS:
            return kept[2]
        reports = client.run(importable_backends, workers=list(workers)) if workers else {}
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise ComputeError(
            f"Could not ask the cluster's workers which Keras backends they have: {exc}. Check the "
            "Cluster page, then try again."
        ) from exc
    answer = {b: sorted(a for a, found in reports.items() if b in found) for b in BACKENDS}
    with _cache_lock:
        _cache[scheduler] = (time.monotonic(), workers, answer)
    return answer


def check_backend(client: Client, backend: str) -> None:
    """Refuse a run on ``backend`` when no worker of the cluster can run it.

    Args:
        client: A connected Dask client.
        backend: A key of :data:`BACKENDS`.

    Raises:
        SpecError: Unknown backend, or no worker has it installed (the message names the
            backend and the install command).
        ComputeError: The cluster did not answer.
    """
    if backend not in BACKENDS:
        raise SpecError(f"Unknown Keras backend {backend!r}. Valid backends are: {', '.join(BACKENDS)}.")
    if not available_backends(client)[backend]:
        raise SpecError(
            f"The {BACKENDS[backend]} backend is not installed on any worker of the cluster. Install "
            f"it on the workers (`{BACKEND_INSTALL[backend]}`) and restart them, or pick another "
            "backend."
        )


def run_in_backend_process(ctx: JobContext, data: dict[str, Any], job: str, backend: str) -> dict[str, Any]:
    """Run the job body ``job`` on ``data`` in a child process whose Keras runs on ``backend``.

    Called by a job body whose backend is not its worker's; the child runs ``job`` again, there,
    against the same run in the same store.

    Args:
        ctx: The running job (its heartbeat goes on while the child runs).
        data: The job's spec, as the job body got it.
        job: The job body, ``"core.module:function"`` (``function(ctx, data) -> result``).
        backend: A key of :data:`BACKENDS`.

    Returns:
        The job's result, as the child returned it.

    Raises:
        JobStopped: The run was stopped (or pruned) in the child.
        AppError: The child's job failed with one of Loom's errors (the same class and message).
        ComputeError: The child died, or failed otherwise (the message has its last words).
    """
    config = ctx.store.config
    env = child_env(backend, _worker_threads())
    message = {
        "config": {"data_dir": str(config.data_dir), "database_url": config.database_url},
        "run_id": ctx.run_id,
        "job": job,
        "data": data,
    }
    close_with_worker()
    child, reused = _hand_over(message, backend, env)
    how = f"warm, its job {child.jobs}" if reused else "new"
    ctx.note("log", {"message": f"training on {BACKENDS[backend]} in process {child.pid} ({how})"})
    out: dict[str, Any] | None = None
    stop_seen: float | None = None
    too_late = False
    try:
        while out is None:
            try:
                out = child.receive(timeout=0.25)
            except EOFError:
                break
            if out is None:
                if ctx.should_stop() and stop_seen is None:
                    stop_seen = time.monotonic()  # the child reads the same request itself
                too_late = stop_seen is not None and time.monotonic() - stop_seen > _STOP_GRACE_SECONDS
                if too_late:
                    break
    except BaseException:
        release(child, reusable=False)  # never reused mid-job (a worker shutting down)
        raise
    tail = child.log_tail()
    if too_late:
        release(child, reusable=False)  # killed: it may be anywhere in its job
        why = "stopped on request (the training process did not stop in time; it was killed)"
        raise JobStopped(why)
    if out is None:
        rc = child.end()  # it closed its answer pipe: it is exiting (or gone)
        release(child, reusable=False)
        last = tail.strip().splitlines()[-1:] or ["no output"]
        if "No module named" in tail:
            raise ComputeError(
                f"The {BACKENDS[backend]} backend is not installed on this worker ({last[0][:300]}). "
                f"Install it (`{BACKEND_INSTALL[backend]}`) on every worker, or pick another backend."
            )
        raise ComputeError(
            f"The {BACKENDS[backend]} training process exited with {rc} before it reported: {last[0][:300]}"
        )
    release(child, reusable=True)
    if "stopped" in out:
        raise JobStopped(out["stopped"])
    if "error" in out:
        ctx.note("log", {"message": f"{BACKENDS[backend]} training process:\n{tail}"})
        raise _rebuilt(out["error"], out["message"])
    result = dict(out["result"])
    if isinstance(result.get("environment"), dict):  # which process trained it, for the run page
        result["environment"] = {**result["environment"], "process": "warm" if reused else "new"}
    return result


def child_env(backend: str, threads: int | None) -> dict[str, str]:
    """The environment of a training process for ``backend`` on this worker (the pool reuses an
    idle child only if it was started with the same: see ``_backend_pool``)."""
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
    }
    if threads:  # the child caps its framework's threads at the worker's (configure_backend)
        env["LOOM_TRAIN_THREADS"] = str(threads)
    if backend == "jax":
        # JAX would take 75 % of a GPU's memory up front; the worker's own TensorFlow may hold
        # some of the same device.
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return env


def _hand_over(message: dict[str, Any], backend: str, env: dict[str, str]) -> tuple[BackendChild, bool]:
    """A child that took the job (answered ``started``). A warm child that turns out to be gone
    (it died while idle, or timed out just then) is replaced by a fresh one, once."""
    for attempt in range(2):
        child, reused = acquire(backend, env)
        child.clear_log()
        started: dict[str, Any] | None = None
        try:
            if child.send(message):
                started = child.receive(timeout=60.0)
        except EOFError:
            pass
        if started and "started" in started:
            child.jobs += 1
            return child, reused
        if attempt == 0 and reused:
            release(child, reusable=False)
            continue
        # A fresh child that cannot take a job: hand it to the caller, whose wait sees it end
        # (with the log that says why: a missing backend, a broken install).
        if not started:
            child.jobs += 1
            return child, reused
        release(child, reusable=False)
        raise ComputeError(f"The {BACKENDS[backend]} training process answered {started!r} to a job.")
    raise AssertionError("unreachable")


def _rebuilt(name: str, message: str) -> Exception:
    """The child's exception as the worker raises it: the same class when it is one of Loom's or
    a built-in one (so the run's reason reads as it would in a worker), else ComputeError."""
    import core.errors

    cls = getattr(core.errors, name, None) or getattr(builtins, name, None)
    if (
        isinstance(cls, type)
        and issubclass(cls, Exception)
        and (issubclass(cls, AppError) or cls.__module__ == "builtins")
    ):
        try:
            return cls(message)
        except TypeError:
            pass
    return ComputeError(f"{name}: {message}") if name != "DataError" else DataError(message)


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None
