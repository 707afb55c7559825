"""On a GPU machine: Loom's local cluster pins one worker per GPU and a GPU run lands there.

    python tests/gpu/placement_check.py        (not collected by pytest; needs a GPU)

Prints what each worker sees and ends with ``gpu_placement_ok: 1`` (or 0 and why).
"""

from __future__ import annotations

import os
import sys
import tempfile


def _seen() -> dict:
    import keras

    info = {
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "backend": keras.backend.backend(),
    }
    if info["backend"] == "jax":
        import jax

        info["devices"] = [f"{d.platform}:{d.device_kind}" for d in jax.devices()]
    elif info["backend"] == "tensorflow":
        import tensorflow as tf

        info["devices"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    return info


def main() -> int:
    from core.compute import create_client
    from core.compute import detect_gpus
    from core.compute import get_cluster_info
    from core.compute import worker_gpu_stats
    from core.config import AppConfig

    gpus = detect_gpus("auto")
    print(f"gpus found: {gpus}")
    if not gpus:
        print("gpu_placement_ok: 0 (no GPU found by NVML or nvidia-smi)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        config = AppConfig.for_data_dir(tmp, n_workers=1, threads_per_worker=2, gpus="auto")
        client = create_client(config)
        try:
            client.wait_for_workers(max(1, len(gpus)), timeout=120)
            for w in get_cluster_info(client).workers:
                print(f"worker {w.name}: resources {w.resources}")
            print(f"gpu stats: {worker_gpu_stats(client)}")
            seen = client.submit(_seen, resources={"GPU": 1}, pure=False).result(timeout=300)
            print(f"a GPU task saw: {seen}")
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()
    ok = seen["CUDA_VISIBLE_DEVICES"] in gpus and any("gpu" in d.lower() for d in seen.get("devices", []))
    print(f"gpu_placement_ok: {int(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    raise SystemExit(main())
