"""Dask settings Loom's clusters start with, in a module that imports nothing heavy: ``core.compute``
is imported by commands and pages that never start a cluster, and ``dask.distributed`` alone
takes a second or more to import."""

from __future__ import annotations

__all__ = ["PROFILER_OFF"]

# Dask config that starts workers without the statistical profiler (see core/compute/_warm.py).
PROFILER_OFF = {"distributed.worker.profile.enabled": False}
