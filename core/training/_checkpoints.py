"""Checkpoints: the last epoch a run saved, and loading it to resume."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.store import SYSTEM

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = ["last_checkpoint", "load_checkpoint"]


def last_checkpoint(store: Any, run_id: str) -> int | None:
    """The last epoch checkpointed by a run, or None."""
    from sqlalchemy import select

    from core.store import RunEvent

    with store.session(SYSTEM) as s:
        message = s.scalar(
            select(RunEvent.message)
            .where(RunEvent.run_id == run_id, RunEvent.kind == "checkpoint")
            .order_by(RunEvent.id.desc())
            .limit(1)
        )
    path = store.path_for("checkpoints", run_id, ".keras")
    return int(json.loads(message)["epoch"]) if message and path.exists() else None


def load_checkpoint(ctx: JobContext, run_id: str):  # type: ignore[no-untyped-def]
    import keras

    epoch = last_checkpoint(ctx.store, run_id)
    if epoch is None:
        raise DataError(f"Run {run_id} has no checkpoint to resume from (it never finished an epoch).")
    # Only files Loom wrote itself, named by run ID; safe_mode refuses serialized Python code.
    model = keras.saving.load_model(ctx.store.path_for("checkpoints", run_id, ".keras"), safe_mode=True)
    return model, epoch
