"""Metrics for operators, in Prometheus's text format (``prometheus_client``, the field's
standard): runs by state, the queue, Dask workers and their memory, GPUs, the store's size,
active sessions, sign-in failures and page render times.

Each scrape reads the store (and the Dask scheduler, when the app has a client) as it is then,
so two app processes on one store report the same figures; only the page render histogram is
per process. :func:`start_metrics_server` serves ``/metrics`` on a loopback port
(``LOOM_METRICS_PORT``; ``LOOM_METRICS_HOST`` to bind elsewhere), once per process;
:func:`render_metrics` returns the same text (``python -m core metrics``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.store import SYSTEM
from core.store import AuditEvent
from core.store import Run
from core.store import UserSession

__all__ = ["metrics_address", "observe_page_render", "render_metrics", "start_metrics_server"]

_log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
PAGE_RENDER = Histogram(
    "loom_page_render_seconds",
    "Time to run one page script (one Streamlit run of the page), by page.",
    ["page"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
_STATES = ("queued", "running", "succeeded", "failed", "stopped", "interrupted")


def observe_page_render(page: str, seconds: float) -> None:
    """Counts one page run of ``seconds`` in ``loom_page_render_seconds`` (this process only).

    Args:
        page: The page's name (its URL path).
        seconds: How long its script ran.
    """
    PAGE_RENDER.labels(page=(page or "home")[:60]).observe(max(0.0, seconds))


class _LoomCollector(Collector):
    """Reads the figures at scrape time; a part that fails (the scheduler gone) is left out."""

    def __init__(self) -> None:
        self.store: Any = None
        self.cluster: Callable[[], Any] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.store is not None:
            try:
                yield from _store_metrics(self.store)
            except SQLAlchemyError as exc:
                _log.warning("metrics: the store did not answer: %s", exc)
        client = None
        if self.cluster is not None:
            try:
                client = self.cluster()
            except Exception as exc:  # noqa: BLE001 - a getter that fails means no cluster to read
                _log.warning("metrics: no Dask client: %s", exc)
        yield from _cluster_metrics(client)


_COLLECTOR = _LoomCollector()
REGISTRY.register(_COLLECTOR)
_LOCK = threading.Lock()
_SERVER: dict[str, Any] = {}


def _store_metrics(store: Any) -> Iterator[Metric]:
    now = datetime.now(UTC)
    with store.session(SYSTEM) as s:
        counts = {
            str(status): int(n)
            for status, n in s.execute(select(Run.status, func.count()).group_by(Run.status))
        }
        sessions = s.scalar(select(func.count()).select_from(UserSession).where(UserSession.expires_at > now))
        failures = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "signin.failure")
        )
    runs = GaugeMetricFamily("loom_runs", "Runs in the store by state.", labels=["state"])
    for state in sorted(set(_STATES) | set(counts)):
        runs.add_metric([state], float(counts.get(state, 0)))
    yield runs
    yield GaugeMetricFamily(
        "loom_queue_length", "Runs queued and not yet started.", value=float(counts.get("queued", 0))
    )
    yield GaugeMetricFamily(
        "loom_active_sessions", "Signed-in browser sessions not yet expired.", value=float(sessions or 0)
    )
    yield CounterMetricFamily(
        "loom_sign_in_failures",
        "Failed sign-ins (wrong name or password), from the audit log.",
        value=float(failures or 0),
    )
    size = _store_size(store)
    if size is not None:
        yield GaugeMetricFamily(
            "loom_store_size_bytes",
            "The store's database: its files (SQLite) or pg_database_size.",
            value=size,
        )


def _store_size(store: Any) -> float | None:
    engine = store.engine
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:":
            return None
        return float(sum(p.stat().st_size for p in _sqlite_files(Path(path))))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
    return None


def _sqlite_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def _cluster_metrics(client: Any) -> Iterator[Metric]:
    from core.compute import get_cluster_info
    from core.compute import worker_gpu_stats
    from core.errors import AppError

    info = None
    if client is not None:
        try:
            info = get_cluster_info(client)
        except (AppError, OSError, TimeoutError) as exc:
            _log.warning("metrics: the Dask scheduler did not answer: %s", exc)
    yield GaugeMetricFamily(
        "loom_cluster_up", "1 when the Dask scheduler answered this scrape.", value=float(info is not None)
    )
    if info is None:
        return
    yield GaugeMetricFamily("loom_workers", "Dask workers connected.", value=float(len(info.workers)))
    used = GaugeMetricFamily("loom_worker_memory_bytes", "Memory a worker uses.", labels=["worker"])
    limit = GaugeMetricFamily("loom_worker_memory_limit_bytes", "A worker's memory limit.", labels=["worker"])
    busy = GaugeMetricFamily("loom_worker_executing_tasks", "Tasks a worker is running.", labels=["worker"])
    for w in info.workers:
        used.add_metric([w.name], float(w.memory_used))
        limit.add_metric([w.name], float(w.memory_limit))
        busy.add_metric([w.name], float(w.executing))
    yield from (used, limit, busy)
    yield GaugeMetricFamily("loom_gpus", "GPUs the workers declare (resource GPU).", value=info.total_gpus)
    if info.total_gpus <= 0:
        return  # asking every worker costs a round trip: only where there are GPUs
    util = GaugeMetricFamily(
        "loom_gpu_utilization_percent", "A GPU's utilisation (NVML).", labels=["worker", "gpu"]
    )
    mem = GaugeMetricFamily("loom_gpu_memory_used_bytes", "A GPU's memory in use.", labels=["worker", "gpu"])
    names = {w.address: w.name for w in info.workers}
    for address, gpus in worker_gpu_stats(client).items():
        if not isinstance(gpus, list):  # a worker that failed to answer
            continue
        for gpu in gpus:
            labels = [names.get(address, address), str(gpu.get("index", ""))]
            util.add_metric(labels, float(gpu.get("utilization", 0)))
            mem.add_metric(labels, float(gpu.get("memory_used", 0)))
    yield from (util, mem)


def render_metrics(store: Any, cluster: Callable[[], Any] | None = None) -> str:
    """The metrics as Prometheus's text exposition, read now.

    Args:
        store: The store to read runs, sessions and sign-in failures from.
        cluster: Returns the Dask client to read workers from, or None. Defaults to None (no
            cluster figures; ``loom_cluster_up`` is 0).

    Returns:
        The exposition text (``text/plain; version=0.0.4``).
    """
    with _LOCK:
        before = (_COLLECTOR.store, _COLLECTOR.cluster)
        _COLLECTOR.store, _COLLECTOR.cluster = store, cluster
        try:
            return generate_latest(REGISTRY).decode()
        finally:
            if _SERVER:  # a running server keeps reading its own store
                _COLLECTOR.store, _COLLECTOR.cluster = before


def start_metrics_server(
    store: Any, *, port: int, host: str = "127.0.0.1", cluster: Callable[[], Any] | None = None
) -> bool:
    """Serves ``/metrics`` on ``host:port`` in a background thread, once per process: a second
    call (a Streamlit rerun, another session) changes nothing and returns False.

    Args:
        store: The store the figures come from.
        port: The TCP port (0 picks a free one; see the return of :func:`metrics_address`).
        host: The address to bind. Defaults to loopback: put a proxy or an SSH tunnel in front
            to scrape from another machine, or set ``LOOM_METRICS_HOST``.
        cluster: Returns the app's Dask client, or None while it has none; never starts one.
            Defaults to None.

    Returns:
        True if this call started the server.

    Raises:
        OSError: The port is taken.
    """
    from prometheus_client import start_http_server

    with _LOCK:
        _COLLECTOR.store, _COLLECTOR.cluster = store, cluster
        if _SERVER:
            return False
        server, thread = start_http_server(port, addr=host, registry=REGISTRY)
        _SERVER.update(server=server, thread=thread, address=(host, server.server_port))
        _log.info("metrics on http://%s:%d/metrics", host, server.server_port)
        return True


def metrics_address() -> tuple[str, int] | None:
    """Where this process serves its metrics, or None."""
    return _SERVER.get("address")
