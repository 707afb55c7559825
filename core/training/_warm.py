"""A worker's warm-up for training, so that the first run of any kind starts without paying the
imports and the runtimes' start-up (seconds each on 2 cores):

- **TensorFlow**, the worker's own Keras backend: imported, and one tiny step taken, in the
  worker process (~4-5 s).
- **JAX and PyTorch**, where installed: a warm training process each, started now and kept idle
  in the worker's pool (``_backend_pool.prestart``), which imports its framework and takes one
  tiny step; the first run of that backend takes it (9-24 s otherwise).
- **scikit-learn**: its estimators and skops, imported in the worker process. skops lists every
  scikit-learn estimator as it loads, which imports all of scikit-learn and, through its array
  API support, PyTorch when installed: 14 s of imports that the first forest paid (up to 55 s
  on a busy machine, at 1-2 % CPU while the worker's TensorFlow warm-up held the GIL).

``LOOM_WARM_BACKENDS`` says which (default all, where installed). Called once per worker
process, on a thread of its own (``core.compute`` runs it as workers start; see
``create_client(..., warm_up=...)``), so the app's own start never waits for it.
"""

from __future__ import annotations

import logging

__all__ = ["WARM_UP", "tiny_fit", "warm_up"]

WARM_UP = "core.training._warm:warm_up"

_log = logging.getLogger(__name__)


def tiny_fit() -> None:
    """Import Keras (on this process's backend) and fit a 2-layer model for one step on 8 zero
    rows: the runtime's start-up and the first compile, paid once."""
    import keras
    import numpy as np

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), batch_size=4, epochs=1, verbose=0)


def warm_up(threads: int) -> None:
    """Warm what ``LOOM_WARM_BACKENDS`` names, where installed (see the module docstring)."""
    from core.config import LOOM_WARM_BACKENDS

    wanted = LOOM_WARM_BACKENDS.get() or ()
    # The other backends' processes first: they warm in parallel with this process's own work.
    for backend in ("jax", "torch"):
        if backend in wanted:
            _prestart(backend, threads)
    if "tensorflow" in wanted:
        _warm_tensorflow(threads)
    if "sklearn" in wanted:
        _warm_sklearn()


def _warm_tensorflow(threads: int) -> None:
    import keras

    if keras.backend.backend() == "tensorflow" and threads:
        import tensorflow as tf

        try:  # the same cap a run applies (configure_backend): only possible before the runtime starts
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass
    tiny_fit()


def _warm_sklearn() -> None:
    from importlib.util import find_spec

    if find_spec("sklearn") is None:
        return
    import sklearn.ensemble  # noqa: F401 - the import is the warm-up
    import skops.io  # type: ignore[import-untyped]  # noqa: F401


def _prestart(backend: str, threads: int) -> None:
    from core.training._backend_pool import prestart
    from core.training._backends import child_env
    from core.training._backends import importable_backends
    from core.training._backends import process_backend

    if backend == process_backend() or backend not in importable_backends():
        return
    try:
        prestart(backend, child_env(backend, threads or None))
    except OSError as exc:  # the first run of that backend starts its own process, colder
        _log.warning("could not start a warm %s process: %s", backend, exc)
