"""A TLS-secured local Dask cluster: certificates from deploy/tls/make-certs.sh in a temp dir;
Loom's client connects with them through Dask's config, and a client without them is refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dask
import pytest

from core.compute import create_client
from core.config import AppConfig
from core.errors import ComputeError

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [
    pytest.mark.slow,  # a real TLS LocalCluster
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):  # type: ignore[no-untyped-def]
    from distributed import LocalCluster
    from distributed.security import Security

    certs = tmp_path_factory.mktemp("certs")
    subprocess.run(
        ["bash", str(ROOT / "deploy/tls/make-certs.sh"), str(certs)], check=True, capture_output=True
    )
    pem, key, ca = str(certs / "loom.pem"), str(certs / "loom-key.pem"), str(certs / "ca.pem")
    security = Security(
        tls_ca_file=ca,
        tls_scheduler_cert=pem,
        tls_scheduler_key=key,
        tls_worker_cert=pem,
        tls_worker_key=key,
        tls_client_cert=pem,
        tls_client_key=key,
        require_encryption=True,
    )
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tls://",
        host="127.0.0.1",
        security=security,
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address, certs


def test_loom_connects_with_the_certificates(tls_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    address, certs = tls_cluster
    assert address.startswith("tls://127.0.0.1:")
    settings = {
        "distributed.comm.require-encryption": True,
        "distributed.comm.tls.ca-file": str(certs / "ca.pem"),
        "distributed.comm.tls.client.cert": str(certs / "loom.pem"),
        "distributed.comm.tls.client.key": str(certs / "loom-key.pem"),
    }
    with dask.config.set(settings):
        client = create_client(AppConfig.for_data_dir(tmp_path, scheduler_address=address))
        try:
            assert client.submit(lambda x: x + 1, 1).result(timeout=30) == 2
        finally:
            client.close()


def test_a_client_without_certificates_is_refused(tls_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    address, _ = tls_cluster
    with dask.config.set({"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None}):
        with pytest.raises(ComputeError, match="speaks TLS and no certificates are configured"):
            create_client(AppConfig.for_data_dir(tmp_path, scheduler_address=address))
    # A plain-TCP client cannot talk to it either: the scheduler only listens on TLS.
    from distributed import Client

    plain = address.replace("tls://", "tcp://")
    with pytest.raises((OSError, TimeoutError)):
        Client(plain, timeout="3s")
    # And certificates from another CA are refused by the scheduler.
    other = tmp_path / "other"
    subprocess.run(
        ["bash", str(ROOT / "deploy/tls/make-certs.sh"), str(other)], check=True, capture_output=True
    )
    settings = {
        "distributed.comm.tls.ca-file": str(other / "ca.pem"),
        "distributed.comm.tls.client.cert": str(other / "loom.pem"),
        "distributed.comm.tls.client.key": str(other / "loom-key.pem"),
    }
    with dask.config.set(settings), pytest.raises(ComputeError, match="Cannot reach the Dask scheduler"):
        create_client(AppConfig.for_data_dir(tmp_path, scheduler_address=address))
