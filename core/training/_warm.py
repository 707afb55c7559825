"""A worker's warm-up for training: import Keras on TensorFlow and take one tiny step, so the
first run on the worker starts without the import and the runtime's start-up (~4-5 s on 2 cores).

Called once per worker process, on a thread of its own (``core.compute`` runs it as workers
start; see ``create_client(..., warm_up=...)``).
"""

from __future__ import annotations

__all__ = ["WARM_UP", "warm_up"]

WARM_UP = "core.training._warm:warm_up"


def warm_up(threads: int) -> None:
    """Import the framework and fit a 2-layer model for one step on 8 zero rows."""
    import keras
    import numpy as np

    if keras.backend.backend() == "tensorflow" and threads:
        import tensorflow as tf

        try:  # the same cap a run applies (configure_backend): only possible before the runtime starts
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), batch_size=4, epochs=1, verbose=0)
