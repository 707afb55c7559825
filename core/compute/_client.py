"""The one place that gives a ``dask.distributed.Client``.

``DASK_SCHEDULER_ADDRESS`` set: connect to that scheduler. Unset: start a ``LocalCluster`` bound
to 127.0.0.1 with its dashboard on a free loopback port.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.compute._gpu import detect_gpus
from core.compute._gpu import gpu_cluster_class
from core.compute._running import advertise_scheduler
from core.compute._running import connect_running
from core.compute._settings import PROFILER_OFF
from core.config import AppConfig
from core.errors import ComputeError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterInfo", "WorkerInfo", "address_warning", "create_client", "get_cluster_info"]

_log = logging.getLogger(__name__)
_CONNECT_TIMEOUT = "10s"

# A local cluster's scheduler, nanny and worker each wake their event loop every 20 ms to time
# it (the tick monitor) and every 0.5 s to sample the system: an idle 1-worker cluster then burns
# ~4 % of a core (1.6 % in the worker, 2.6 % in the app's scheduler), taken from every training
# run beside it. At 1 s and 2 s it is ~1.6 %; a loop blocked for over tick.limit (3 s) is still
# reported, and the Cluster page's memory figures are at most 2 s old.
_QUIET_LOOPS = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def _import_distributed():  # type: ignore[no-untyped-def]
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise ComputeError(
            "dask.distributed is not installed. Run `pip install -r requirements.txt`."
        ) from exc
    return distributed


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def address_warning(address: str) -> str | None:
    """A warning for a scheduler address that sends traffic unencrypted off this machine."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme in ("tls", "inproc") or _is_loopback(parts.hostname or ""):
        return None
    return (
        f"The Dask scheduler address {address!r} is not TLS: tasks, data and results cross the "
        "network unencrypted. Use a tls:// address with Dask's security settings (see README, "
        "'Several machines')."
    )


def create_client(
    config: AppConfig, warm_up: Sequence[str] = (), *, advertise: bool = False, join_running: bool = False
) -> Client:
    """Connect to the configured scheduler, or start a local cluster on loopback.

    Args:
        config: Where to connect and how big a local cluster to start.
        warm_up: ``"core.module:function"`` references each worker process calls once as it
            starts (``function(threads)``, on a thread of its own), when ``config.warm_workers``
            is on and the workers are processes (a threads-only cluster lives in the app
            process, which never imports a framework).
        advertise: Record a local cluster's scheduler in the data directory (the app does), for
            other processes on this machine to join. Defaults to False.
        join_running: With no ``DASK_SCHEDULER_ADDRESS``, join the cluster a running app
            recorded in the data directory, if it answers, instead of starting one (the CLI
            does). Defaults to False.

    Returns:
        A connected client.

    Raises:
        ComputeError: The scheduler cannot be reached or the local cluster cannot start.
    """
    distributed = _import_distributed()
    import dask

    dask.config.set(PROFILER_OFF)  # for this process's workers; remote ones by the plugin below
    if config.scheduler_address:
        warning = address_warning(config.scheduler_address)
        if warning:
            _log.warning(warning)
        if config.scheduler_address.startswith("tls://"):
            if not dask.config.get("distributed.comm.tls.ca-file", None):
                raise ComputeError(
                    f"Cannot reach the Dask scheduler at DASK_SCHEDULER_ADDRESS="
                    f"{config.scheduler_address!r}: it speaks TLS and no certificates are configured. Set "
                    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE and DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT/KEY "
                    "(deploy/tls/make-certs.sh makes them; see README, 'Several machines')."
                )
        try:
            remote = distributed.Client(config.scheduler_address, timeout=_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ComputeError(
                f"Cannot reach the Dask scheduler at DASK_SCHEDULER_ADDRESS="
                f"{config.scheduler_address!r}: {exc}. Start it (`dask scheduler`), fix the "
                "address, or unset DASK_SCHEDULER_ADDRESS to let Loom start a local cluster."
            ) from exc
        _warm(remote, config, warm_up, processes=True)
        return remote
    if join_running and (running := connect_running(config)) is not None:
        return running  # the app's cluster, with the app's warm-up plugin left as it is
    dask.config.set(_QUIET_LOOPS)  # for this process's scheduler and the workers it starts
    # Threads-only clusters talk over inproc:// (no socket at all); process clusters over TCP
    # on loopback only.
    network = {"host": "127.0.0.1"} if config.processes else {}
    gpus = detect_gpus(config.gpus) if config.processes else []
    cluster_class = gpu_cluster_class(gpus) if gpus else distributed.LocalCluster
    try:
        cluster = cluster_class(
            **network,
            # A GPU cluster starts empty and scales up, so each worker's spec comes from
            # new_worker_spec (LocalCluster builds its first workers' specs directly).
            n_workers=0 if gpus else config.n_workers,
            threads_per_worker=config.threads_per_worker,
            processes=config.processes,
            dashboard_address="127.0.0.1:0",
        )
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise ComputeError(
            f"Could not start a local Dask cluster ({config.n_workers} workers): "
            f"{str(exc).rstrip('.')}. "
            "Lower LOOM_DASK_WORKERS or point DASK_SCHEDULER_ADDRESS at a running scheduler."
        ) from exc
    client = distributed.Client(cluster)
    if gpus:
        cluster.scale(max(config.n_workers, len(gpus)))
    _warm(client, config, warm_up, processes=config.processes)
    if advertise:
        advertise_scheduler(config, client)
    return client


def _warm(client: Client, config: AppConfig, refs: Sequence[str], processes: bool) -> None:
    # Always registered: it stops the profiler on workers that started with it (see _warm);
    # the warm-up itself only where asked and where workers are processes.
    from core.compute._warm import WarmUp  # imports dask.distributed's plugin base

    warm = tuple(refs) if config.warm_workers and processes else ()
    # Niced only on the app's own machine: a remote scheduler's workers have theirs to themselves.
    nice = config.worker_nice if processes and not config.scheduler_address else 0
    try:
        client.register_plugin(WarmUp(warm, nice))
    except (OSError, TimeoutError) as exc:  # the cluster works without it, only colder
        _log.warning("Could not register the workers' warm-up: %s", exc)


@dataclass(frozen=True)
class WorkerInfo:
    address: str
    name: str
    nthreads: int
    memory_limit: int
    memory_used: int
    resources: dict[str, float] = field(default_factory=dict)
    executing: int = 0

    @property
    def gpus(self) -> float:
        return self.resources.get("GPU", 0)


@dataclass(frozen=True)
class ClusterInfo:
    scheduler_address: str
    dashboard_link: str | None
    workers: list[WorkerInfo]
    warning: str | None

    @property
    def total_threads(self) -> int:
        return sum(w.nthreads for w in self.workers)

    @property
    def total_memory(self) -> int:
        return sum(w.memory_limit for w in self.workers)

    @property
    def total_gpus(self) -> float:
        return sum(w.gpus for w in self.workers)


def get_cluster_info(client: Client) -> ClusterInfo:
    """What the scheduler knows about its workers right now.

    Raises:
        ComputeError: The scheduler did not answer.
    """
    try:
        info = client.scheduler_info(n_workers=-1)
    except (OSError, TimeoutError) as exc:
        raise ComputeError(f"The Dask scheduler did not answer: {exc}. Is it still running?") from exc
    workers = []
    for address, w in sorted(info.get("workers", {}).items()):
        metrics = w.get("metrics", {})
        workers.append(
            WorkerInfo(
                address=address,
                name=str(w.get("name", address)),
                nthreads=int(w.get("nthreads", 0)),
                memory_limit=int(w.get("memory_limit") or 0),
                memory_used=int(metrics.get("memory", 0) or 0),
                resources=dict(w.get("resources") or {}),
                executing=int(metrics.get("task_counts", {}).get("executing", 0) or 0),
            )
        )
    address = info.get("address", "")
    return ClusterInfo(
        scheduler_address=address,
        dashboard_link=_dashboard_link(client),
        workers=workers,
        warning=address_warning(address) if address else None,
    )


def _dashboard_link(client: Client) -> str | None:
    try:
        return client.dashboard_link
    except (KeyError, AttributeError):  # no bokeh, or the scheduler runs without a dashboard
        return None
