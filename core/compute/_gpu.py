"""GPUs: finding them, pinning one per local worker, and reading their memory and load.

NVML (``nvidia-ml-py``, imported as ``pynvml``) is optional: without it Loom asks
``nvidia-smi``; without either it sees no GPU and everything runs on CPUs.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Any

__all__ = ["detect_gpus", "gpu_cluster_class", "gpu_stats", "visible_gpu_stats", "worker_gpu_stats"]

_log = logging.getLogger(__name__)


def detect_gpus(setting: str) -> list[str]:
    """The GPU indexes to give local workers.

    Args:
        setting: ``"auto"`` (ask NVML, then nvidia-smi), ``"none"``, or indexes like ``"0,1"``.
    """
    if setting == "none":
        return []
    if setting != "auto":
        return [p.strip() for p in setting.split(",") if p.strip()]
    return [str(i) for i in range(len(gpu_stats()))]


def gpu_stats() -> list[dict[str, Any]]:
    """Each visible GPU's name, memory and utilisation (empty without a GPU or a driver)."""
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return _smi_stats()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            out.append(
                {
                    "index": i,
                    "name": name.decode() if isinstance(name, bytes) else str(name),
                    "memory_used": int(memory.used),
                    "memory_total": int(memory.total),
                    "utilization": int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                }
            )
        return out
    except pynvml.NVMLError as exc:
        _log.warning("NVML: %s", exc)
        return []
    finally:
        pynvml.nvmlShutdown()


def visible_gpu_stats() -> list[dict[str, Any]]:
    """:func:`gpu_stats` of the GPUs this process may use (NVML ignores CUDA_VISIBLE_DEVICES)."""
    import os

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    stats = gpu_stats()
    if visible is None:
        return stats
    wanted = {v.strip() for v in visible.split(",") if v.strip()}
    return [g for g in stats if str(g["index"]) in wanted]


def worker_gpu_stats(client: Any) -> dict[str, list[dict[str, Any]]]:
    """Worker address -> its GPUs' memory and utilisation, asked on each worker."""
    try:
        return client.run(visible_gpu_stats, wait=True, on_error="return")
    except (OSError, TimeoutError) as exc:
        _log.warning("GPU stats: %s", exc)
        return {}


def _smi_stats() -> list[dict[str, Any]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    query = "--query-gpu=index,name,memory.used,memory.total,utilization.gpu"
    try:
        text = subprocess.run(  # noqa: S603 - a fixed executable and arguments
            [smi, query, "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 5:
            continue
        try:
            out.append(
                {
                    "index": int(parts[0]),
                    "name": parts[1],
                    "memory_used": int(float(parts[2])) << 20,
                    "memory_total": int(float(parts[3])) << 20,
                    "utilization": int(float(parts[4])),
                }
            )
        except ValueError:
            continue
    return out


def gpu_cluster_class(gpus: list[str]):  # type: ignore[no-untyped-def]
    """A ``LocalCluster`` whose first workers each own one GPU.

    Each such worker process starts with ``CUDA_VISIBLE_DEVICES`` set to its GPU and declares the
    Dask resource ``GPU=1``, so a run that asks for ``{"GPU": 1}`` gets a whole device to itself
    (the pattern dask-cuda's ``LocalCUDACluster`` uses). Workers beyond the GPU count are CPU-only.
    """
    from distributed import LocalCluster

    class GpuLocalCluster(LocalCluster):
        def new_worker_spec(self) -> dict[Any, dict[str, Any]]:
            spec = super().new_worker_spec()
            ((name, base),) = spec.items()
            taken = {
                w["options"].get("env", {}).get("CUDA_VISIBLE_DEVICES") for w in self.worker_spec.values()
            }
            free = [g for g in gpus if g not in taken]
            if not free:
                return spec
            options = dict(base["options"])
            options["env"] = {**options.get("env", {}), "CUDA_VISIBLE_DEVICES": free[0]}
            options["resources"] = {**(options.get("resources") or {}), "GPU": 1}
            return {name: {"cls": base["cls"], "options": options}}

    return GpuLocalCluster
