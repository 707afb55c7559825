from __future__ import annotations

import pytest

from core.compute import address_warning
from core.compute import create_client
from core.config import AppConfig
from core.errors import ComputeError
from tests.conftest import free_port


@pytest.mark.parametrize(
    "address",
    [
        "tcp://127.0.0.1:8786",
        "127.0.0.1:8786",
        "tcp://localhost:8786",
        "tcp://[::1]:8786",
        "tls://10.1.2.3:8786",
        "inproc://x/1/2",
    ],
)
def test_no_warning_for_loopback_or_tls(address: str) -> None:
    assert address_warning(address) is None


@pytest.mark.parametrize("address", ["tcp://10.1.2.3:8786", "scheduler.example.org:8786"])
def test_warning_for_plain_remote(address: str) -> None:
    warning = address_warning(address)
    assert warning is not None and "not TLS" in warning and "tls://" in warning


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path) -> None:  # type: ignore[no-untyped-def]
    address = f"tcp://127.0.0.1:{free_port()}"
    cfg = AppConfig.for_data_dir(tmp_path, scheduler_address=address)
    with pytest.raises(ComputeError, match="Cannot reach the Dask scheduler at DASK_SCHEDULER_ADDRESS="):
        create_client(cfg)


@pytest.mark.slow
def test_local_cluster_binds_loopback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.compute import get_cluster_info

    client = create_client(AppConfig.for_data_dir(tmp_path, n_workers=1, threads_per_worker=1))
    try:
        info = get_cluster_info(client)
        assert info.scheduler_address.startswith("tcp://127.0.0.1:")
        assert all(w.address.startswith("tcp://127.0.0.1:") for w in info.workers)
        assert info.dashboard_link is not None and info.dashboard_link.startswith("http://127.0.0.1:")
        assert info.warning is None
        assert len(info.workers) == 1 and info.total_threads == 1
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
