"""Tracking runs from any Python script into Loom's store.

::

    from core import track

    with track.run("my-experiment", {"lr": 1e-3}) as run:
        for step in range(1000):
            run.log({"loss": 1 / (step + 1)}, step=step)

or ``model.fit(..., callbacks=[track.KerasCallback(run)])``. See :mod:`core.track._run` for
the rules on keys, values and steps.
"""

from core.track._keras import KerasCallback
from core.track._run import MAX_BUFFERED
from core.track._run import Run
from core.track._run import run

__all__ = ["MAX_BUFFERED", "KerasCallback", "Run", "run"]
