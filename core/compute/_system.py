"""System metrics: CPU %, resident memory and, where NVIDIA's library is present, GPU utilisation
and memory, sampled about once a second on a thread into a run's metrics under ``system/``.

Keys (the step is the sample's second since sampling began, 1, 2, 3...):

* ``system/cpu_percent``: CPU use of this process and its children, 100 per busy core (a Dask
  worker runs its tasks in threads, so on a worker it is the worker's, every task's; a run on
  another Keras backend trains in a child process, counted here);
* ``system/rss_mb``: resident memory of this process and its children, MiB;
* ``system/gpu<i>_util_percent`` and ``system/gpu<i>_memory_mb``: each GPU the process may use
  (``CUDA_VISIBLE_DEVICES``), through ``pynvml`` (the ``nvidia-ml-py`` package), only if it is
  installed and finds a driver; otherwise no GPU keys, and one info line in the log.

psutil is used when installed, else ``/proc`` (Linux) or the ``resource`` module.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["SAMPLE_PERIOD_S", "SystemSampler", "read_system"]

_log = logging.getLogger(__name__)

SAMPLE_PERIOD_S = 1.0


class _Cpu:
    """CPU % of this process and its children between two calls."""

    def __init__(self) -> None:
        self._at = time.monotonic()
        self._seen: dict[int, float] = dict(_cpu_seconds())

    def percent(self) -> float:
        now, times = time.monotonic(), dict(_cpu_seconds())
        # A child first seen now started since the last call (samples are a second apart): all
        # its CPU time is new. One that exited takes its time with it.
        used = sum(t - self._seen.get(pid, 0.0) for pid, t in times.items())
        then, self._at, self._seen = self._at, now, times
        return max(0.0, 100.0 * used / max(now - then, 1e-6))


_TREE_SECONDS = 10.0  # how often the list of child processes is refreshed
_tree_cache: tuple[float, list[Any]] = (-math.inf, [])


def _tree() -> list[Any]:
    """This process and its children. Finding children scans every process of the machine
    (milliseconds), so the list is refreshed every ``_TREE_SECONDS``; reading each is cheap."""
    global _tree_cache
    import psutil

    at, procs = _tree_cache
    if time.monotonic() - at < _TREE_SECONDS:
        return procs
    me = psutil.Process()
    try:
        procs = [me, *me.children(recursive=True)]
    except psutil.Error:
        procs = [me]
    _tree_cache = (time.monotonic(), procs)
    return procs


def _cpu_seconds() -> list[tuple[int, float]]:
    """(pid, CPU seconds) of this process and its children (a run on another Keras backend
    trains in a child process of the worker); this process only without psutil."""
    try:
        import psutil
    except ImportError:
        times = os.times()
        return [(os.getpid(), times.user + times.system)]
    out = []
    for proc in _tree():
        try:
            cpu = proc.cpu_times()
        except psutil.Error:  # exited meanwhile
            continue
        out.append((proc.pid, cpu.user + cpu.system))
    return out


def _rss_mb() -> float:
    """Resident memory of this process and its children, MiB."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        total = 0
        for proc in _tree():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, KiB on Linux


def _gpu_reader() -> Callable[[], dict[str, float]] | None:
    """A function reading the visible GPUs' utilisation and memory, or None without pynvml/GPU."""
    try:
        import pynvml  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        _log.info("system metrics: no GPU metrics (install nvidia-ml-py to record them)")
        return None
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        _log.info("system metrics: no GPU metrics (NVML: %s)", exc)
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    indexes = list(range(count))
    if visible is not None:
        indexes = [int(i) for i in visible.split(",") if i.strip().isdigit() and int(i) < count]
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in indexes]
    if not handles:
        return None

    def read() -> dict[str, float]:
        out: dict[str, float] = {}
        for n, handle in enumerate(handles):
            try:
                util = pynvml.nvmlDeviceGetUtilizationRates(handle)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            except pynvml.NVMLError:
                continue
            out[f"system/gpu{n}_util_percent"] = float(util.gpu)
            out[f"system/gpu{n}_memory_mb"] = float(memory.used) / 2**20
        return out

    return read


def read_system(cpu: _Cpu | Any, gpu: Callable[[], dict[str, float]] | None) -> dict[str, float]:
    """One sample of every system metric, by key."""
    values = {"system/cpu_percent": cpu.percent(), "system/rss_mb": _rss_mb()}
    if gpu is not None:
        values.update(gpu())
    return values


class SystemSampler:
    """Samples :func:`read_system` every ``period`` seconds on a daemon thread into ``log``.

    Args:
        log: Called as ``log(key, step, value)`` (a job context's ``log_metric``: a list append).
        period: Seconds between samples. Defaults to :data:`SAMPLE_PERIOD_S`.
    """

    def __init__(self, log: Callable[[str, int, float], None], period: float = SAMPLE_PERIOD_S) -> None:
        self._log = log
        self._period = period
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loom-system-metrics", daemon=True)

    def start(self) -> SystemSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        cpu, gpu = _Cpu(), _gpu_reader()
        began, step = time.monotonic(), 0
        while True:
            # On a fixed grid (a late sample does not push the next ones back); a sample that
            # came too late for its second is skipped, so steps stay whole seconds.
            step = max(step + 1, int((time.monotonic() - began) / self._period) + 1)
            if self._done.wait(max(0.0, began + step * self._period - time.monotonic())):
                return
            try:
                values = read_system(cpu, gpu)
            except Exception as exc:  # noqa: BLE001 - a sampler must never end a run
                _log.warning("system metrics stopped: %s", exc)
                return
            for key, value in values.items():
                self._log(key, step, value)
