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


@pytest.mark.slow
def test_local_gpus_get_one_pinned_worker_each(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two GPUs named by config: two worker processes, each with its own CUDA_VISIBLE_DEVICES
    and GPU=1, and a third, CPU-only worker. (No GPU is needed to check the placement.)"""
    import os

    from core.compute import create_client
    from core.compute import get_cluster_info
    from core.config import AppConfig

    config = AppConfig.for_data_dir(tmp_path, n_workers=3, threads_per_worker=1, gpus="0,1")
    client = create_client(config)
    try:
        client.wait_for_workers(3, timeout=60)
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        resources = {w.address: w.resources for w in get_cluster_info(client).workers}
        assert sorted(v for v in seen.values() if v is not None) == ["0", "1"]
        for address, device in seen.items():
            assert resources[address] == ({"GPU": 1} if device is not None else {})
        # Two GPU tasks that overlap in time run on different devices: GPU=1 each, one per worker.
        import time

        def hold(_: int) -> str:
            time.sleep(1.0)  # the scenario: two tasks that overlap in time
            return os.environ["CUDA_VISIBLE_DEVICES"]

        futures = [client.submit(hold, i, resources={"GPU": 1}, pure=False) for i in range(2)]
        assert sorted(client.gather(futures)) == ["0", "1"]
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_gpu_setting_is_validated() -> None:
    import pytest

    from core.config import get_config
    from core.errors import ConfigError

    assert get_config({"LOOM_GPUS": "0, 2"}).gpus == "0, 2"
    assert get_config({}).gpus == "auto"
    with pytest.raises(ConfigError, match="LOOM_GPUS='cuda:0' is not a GPU list"):
        get_config({"LOOM_GPUS": "cuda:0"})


def test_no_gpu_is_found_on_a_machine_without_one() -> None:
    import shutil

    from core.compute import detect_gpus

    assert detect_gpus("none") == []
    assert detect_gpus("1,3") == ["1", "3"]
    if shutil.which("nvidia-smi") is None:
        assert detect_gpus("auto") == []


def test_a_local_cluster_wakes_its_loops_seldom(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Dask's defaults (tick every 20 ms, system monitor every 0.5 s) cost an idle cluster ~4 % of
    # a core, taken from the training run beside it.
    import dask

    with dask.config.set(
        {"distributed.admin.tick.interval": "20ms", "distributed.admin.system-monitor.interval": "500ms"}
    ):
        client = create_client(AppConfig.for_data_dir(tmp_path, processes=False))
        try:
            cluster = client.cluster
            for server in [cluster.scheduler, *cluster.workers.values()]:  # type: ignore[union-attr]
                assert server.periodic_callbacks["tick"].callback_time == 1000
                assert server.periodic_callbacks["monitor"].callback_time == 2000
        finally:
            client.close()
            cluster.close()  # type: ignore[union-attr]
