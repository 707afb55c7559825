"""The Keras callback for a script's own ``model.fit``: Loom's live callback, unchanged.

Per-batch (sampled) and per-epoch metrics under ``batch/`` and ``epoch/`` as a Loom-launched run,
a NaN or infinite loss stops the fit, and Stop, Pause / Resume and Set learning rate pressed on
the run's page act before the next batch. Keras is imported when the callback is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from core.training import live_callback

if TYPE_CHECKING:
    from core.track._run import Run

__all__ = ["KerasCallback"]


def KerasCallback(run: Run, batch_size: int = 0) -> Any:  # noqa: N802 - used like a class
    """A ``keras.callbacks.Callback`` streaming ``model.fit`` into ``run`` and applying its controls.

    Args:
        run: The run from :func:`core.track.run`.
        batch_size: The fit's batch size, for ``epoch/samples_per_s``. Defaults to 0: not recorded.

    Returns:
        The callback; pass it in ``model.fit(..., callbacks=[...])``. A fit that a NaN or
        infinite loss stopped leaves the reason in ``callback.failure``.
    """
    import keras

    class LoomCallback(keras.callbacks.Callback):
        """Builds the live callback once ``fit`` says how many epochs and steps it runs."""

        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.inner: Any = None
            self.failure: str | None = None

        def on_train_begin(self, logs: dict | None = None) -> None:
            params = self.params or {}
            steps = int(params.get("steps") or 1)
            self.inner = live_callback(
                run.context, steps, int(params.get("epochs") or 1), batch_size, checkpoints=False
            )
            self.inner.set_model(self.model)
            self.inner.set_params(self.params)
            self.inner.on_train_begin(logs)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.inner.on_epoch_begin(epoch, logs)

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self.inner.on_train_batch_begin(batch, logs)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.inner.on_train_batch_end(batch, logs)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.inner.on_epoch_end(epoch, logs)
            self.failure = self.inner.failure

        def on_train_end(self, logs: dict | None = None) -> None:
            self.failure = self.inner.failure
            if self.failure:
                run.failure = self.failure  # the run ends failed, with this reason

    return LoomCallback()
