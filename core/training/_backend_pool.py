"""Warm training processes per Keras backend, kept by the worker process that started them.

A child (``python -m core.training._backend_child``) reads jobs as JSON lines on its stdin and
answers on a pipe of its own, also in JSON lines: ``{"started": pid}`` when it takes a job, then
``{"result": ...}``, ``{"stopped": why}`` or ``{"error": name, "message": ...}``. Its stdout and
stderr go to a log file that is emptied before each job, so a failure's last words are the job's.

The pool holds at most one idle child per backend. A run takes the idle one (or starts a new one
when there is none, or when it died while idle); when the run ends cleanly its child goes back,
unless another child of that backend is already idle, in which case it is told to exit (its
stdin closed). A child that was killed, crashed or did not answer never goes back. The children
die with the worker: the pool terminates them at exit, each child watches its parent and exits
when it is gone, and an idle child exits by itself after ``LOOM_BACKEND_IDLE_SECONDS``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

__all__ = ["BackendChild", "acquire", "close_idle", "close_with_worker", "prestart", "release"]

# The variables that shape a child's frameworks or its behaviour: a child started under other
# values is not reused (a test that sets LOOM_BACKEND_IDLE_SECONDS gets a child that honours it).
_ENV_PREFIXES = ("LOOM_", "KERAS_", "XLA_", "JAX_", "TF_", "CUDA_", "TORCH", "PYTORCH", "OMP_", "MKL_")


@dataclass(eq=False)
class BackendChild:
    """One training process: its backend, its pipes and log, and how many jobs it took."""

    backend: str
    key: str
    proc: subprocess.Popen[bytes]
    results: int  # the read end of its answer pipe
    log: Path
    jobs: int = 0
    _buffer: bytes = field(default=b"", repr=False)
    _ended: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        """Write one JSON line to the child; False when it is gone."""
        if self.proc.stdin is None:  # never: started with stdin=PIPE
            return False
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The child's next JSON line, or None when none came within ``timeout``.

        Raises:
            EOFError: The child closed its answer pipe (it exited), or wrote a broken line.
        """
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self.results], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.results, 1 << 16)
            if not chunk:
                raise EOFError("the training process exited")
            self._buffer += chunk
            timeout = 5.0  # the rest of a line being written
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return dict(json.loads(line))
        except ValueError as exc:
            raise EOFError(f"the training process wrote a broken answer: {line[:200]!r}") from exc

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def clear_log(self) -> None:
        with contextlib.suppress(OSError):
            os.truncate(self.log, 0)

    def end(self, kill: bool = False) -> int:
        """Close its stdin (an idle child exits on that), or kill it; wait; remove its log.
        Returns its exit status (ending it again only returns it)."""
        if self._ended:
            return int(self.proc.returncode)
        self._ended = True
        if kill:
            with contextlib.suppress(OSError):
                self.proc.kill()
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.results)
        self.log.unlink(missing_ok=True)
        return int(rc)


_lock = threading.Lock()
_idle: dict[str, BackendChild] = {}  # backend -> its idle child
_busy: set[BackendChild] = set()


def _key(env: dict[str, str]) -> str:
    relevant = sorted((k, v) for k, v in env.items() if k.startswith(_ENV_PREFIXES) or k == "PYTHONPATH")
    return hashlib.sha256(json.dumps([sys.executable, relevant]).encode()).hexdigest()


def acquire(backend: str, env: dict[str, str]) -> tuple[BackendChild, bool]:
    """A child for ``backend`` started with ``env``: the idle one if it is alive and was started
    with the same settings, else a new one. Returns ``(child, reused)``."""
    key = _key(env)
    with _lock:
        idle = _idle.pop(backend, None)
    if idle is not None:
        if idle.key == key and idle.alive():
            with _lock:
                _busy.add(idle)
            return idle, True
        idle.end(kill=idle.key != key)  # died while idle (reaped here), or other settings
    child = _start(backend, key, env)
    with _lock:
        _busy.add(child)
    return child, False


def prestart(backend: str, env: dict[str, str]) -> BackendChild | None:
    """Start a child for ``backend`` that imports its framework and takes one tiny step at once,
    and keep it idle, so the first run of that backend on this worker finds it warm. None when
    one of that backend is already idle or busy (nothing to warm)."""
    with _lock:
        if backend in _idle or any(c.backend == backend for c in _busy):
            return None
    child = _start(backend, _key(env), env, warm=True)
    with _lock:
        if backend in _idle:  # a run's child went idle meanwhile: keep that one
            extra: BackendChild | None = child
        else:
            _idle[backend], extra = child, None
    if extra is not None:
        extra.end()
        return None
    return child


def release(child: BackendChild, reusable: bool) -> None:
    """Give ``child`` back after a job: kept idle when ``reusable``, alive and none of its
    backend is idle yet; otherwise ended (killed when not ``reusable``)."""
    with _lock:
        _busy.discard(child)
        keep = reusable and child.alive() and child.backend not in _idle
        if keep:
            _idle[child.backend] = child
    if not keep:
        child.end(kill=not reusable)


def close_idle() -> None:
    """End every idle child now (busy ones end with their jobs)."""
    with _lock:
        idle = list(_idle.values())
        _idle.clear()
    for child in idle:
        child.end()


class _CloseIdle:
    # A Dask worker extension: the worker calls close() as it closes.
    def close(self) -> None:
        close_idle()


def close_with_worker() -> None:
    """End the idle children when the Dask worker running this task closes: a threads-only
    cluster's worker closes with its cluster while the process (the app, a test session) lives
    on. Outside a worker, nothing to do."""
    try:
        from distributed import get_worker

        extensions = get_worker().extensions
    except (ImportError, ValueError, AttributeError):
        return
    extensions.setdefault("loom-backend-pool", _CloseIdle())


def _close_all() -> None:
    close_idle()
    with _lock:
        busy = list(_busy)
    for child in busy:
        with contextlib.suppress(OSError):
            child.proc.kill()


atexit.register(_close_all)


def _start(backend: str, key: str, env: dict[str, str], warm: bool = False) -> BackendChild:
    read_end, write_end = os.pipe()
    fd, log_name = tempfile.mkstemp(prefix=f"loom-{backend}-", suffix=".log")
    try:
        with os.fdopen(fd, "ab") as log_fh:  # O_APPEND: the child writes at the end after a truncate
            proc = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module, JSON on stdin
                [
                    sys.executable,
                    "-m",
                    "core.training._backend_child",
                    str(write_end),
                    str(os.getpid()),
                    *(["--warm"] if warm else []),
                ],
                env=env,
                stdin=subprocess.PIPE,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
            )
    except OSError:
        os.close(read_end)
        Path(log_name).unlink(missing_ok=True)
        raise
    finally:
        os.close(write_end)  # only the child writes: its exit closes the pipe (EOF here)
    # Reap the child the moment it exits (an idle child ends itself after its idle timeout, and
    # nothing else waited for it: it stayed a zombie until the worker exited). Popen's own lock
    # makes this wait and end()/poll() from other threads safe together.
    threading.Thread(target=proc.wait, name=f"loom-{backend}-reaper", daemon=True).start()
    return BackendChild(backend, key, proc, read_end, Path(log_name))
