"""Checkpoints: the last epoch a run saved and loading it to resume; per-epoch checkpoints kept by
a retention rule, which branches start from."""

from __future__ import annotations

import json
import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.store import SYSTEM

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = [
    "CheckpointRule",
    "EpochCheckpoint",
    "EpochWriter",
    "checkpoint_bytes",
    "epoch_checkpoints",
    "last_checkpoint",
    "load_checkpoint",
    "nearest_kept",
    "read_epoch_checkpoint",
    "restore_epoch_checkpoint",
]

_log = logging.getLogger(__name__)


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


# Per-epoch checkpoints ---------------------------------------------------------------------
# Every finished epoch is snapshotted in memory (the model's variables, layers' seed-generator
# states included, and the optimizer's) and written by a thread of its own as
# ``checkpoints/<run id>.e<epoch>.npz``; then the run's retention rule deletes the epochs it does
# not keep. A branch (``core.training._branch``) starts from one of them.


@dataclass(frozen=True)
class CheckpointRule:
    """Which per-epoch checkpoints a run keeps: the last ``last``, every ``every``-th epoch and
    the ``best`` best by the key metric (the validation loss, else the loss).

    Args:
        last: The most recent epochs kept, >= 1 (a branch from the end needs one). Defaults to 2.
        every: Epochs that are multiples of this are kept; 0 keeps none that way. Defaults to 10.
        best: Epochs with the lowest key metric kept, >= 0. Defaults to 1.
    """

    last: int = 2
    every: int = 10
    best: int = 1

    def __post_init__(self) -> None:
        for name, low in (("last", 1), ("every", 0), ("best", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SpecError(f"`checkpoints.{name} >= {low}` must hold, but got {name}={value!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "checkpoint_rule", "last": self.last, "every": self.every, "best": self.best}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CheckpointRule:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise SpecError(f"`checkpoints` must be a dict (last, every, best), but got {data!r}.")
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid checkpoint rule: {exc}.") from None

    def keep(self, metrics: dict[int, float | None]) -> set[int]:
        """The epochs kept among ``metrics`` (epoch -> key metric, None when unknown)."""
        epochs = sorted(metrics)
        kept = set(epochs[-self.last :])
        if self.every:
            kept |= {e for e in epochs if e % self.every == 0}
        scored = sorted(
            (value, e) for e, value in metrics.items() if value is not None and math.isfinite(value)
        )
        kept |= {e for _, e in scored[: self.best]}
        return kept


@dataclass(frozen=True)
class EpochCheckpoint:
    """A kept per-epoch checkpoint: its epoch, the run's step at its end, its key metric
    (None when unknown), its file's size in bytes."""

    epoch: int
    step: int
    metric: float | None
    bytes: int


def _epoch_path(store: Any, run_id: str, epoch: int) -> Path:
    return Path(store.path_for("checkpoints", run_id, f".e{int(epoch)}.npz"))


def _read_meta(path: Path) -> dict[str, Any]:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return dict(json.loads(str(data["meta"])))


def epoch_checkpoints(store: Any, run_id: str) -> list[EpochCheckpoint]:
    """The run's kept per-epoch checkpoints, by epoch (none for runs from before them)."""
    folder = Path(store.path_for("checkpoints", run_id)).parent  # run_id checked as an ID
    found: list[EpochCheckpoint] = []
    for path in folder.glob(f"{run_id}.e*.npz"):
        try:
            meta = _read_meta(path)
            found.append(
                EpochCheckpoint(
                    int(meta["epoch"]), int(meta["step"]), meta.get("metric"), path.stat().st_size
                )
            )
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            continue  # removed meanwhile by the retention rule, or damaged: not offered
    return sorted(found, key=lambda c: c.epoch)


def checkpoint_bytes(store: Any, run_id: str) -> int:
    """Bytes of every checkpoint file of the run (per-epoch ones and the resume checkpoint)."""
    folder = Path(store.path_for("checkpoints", run_id)).parent
    total = 0
    for path in folder.glob(f"{run_id}.*"):
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def nearest_kept(store: Any, run_id: str, epoch: int) -> EpochCheckpoint | None:
    kept = epoch_checkpoints(store, run_id)
    return min(kept, key=lambda c: (abs(c.epoch - epoch), c.epoch)) if kept else None


def read_epoch_checkpoint(store: Any, run_id: str, epoch: int) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """(meta, model variables, optimizer variables) of the run's checkpoint at ``epoch``.

    Raises:
        DataError: No checkpoint is kept at that epoch; the message names the nearest kept one.
    """
    import numpy as np

    path = _epoch_path(store, run_id, epoch)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = dict(json.loads(str(data["meta"])))
            weights = [data[f"w{i}"] for i in range(int(meta["model_vars"]))]
            slots = [data[f"o{i}"] for i in range(int(meta["optimizer_vars"]))]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        near = nearest_kept(store, run_id, epoch)
        hint = f"the nearest kept one is epoch {near.epoch}" if near else "it keeps no per-epoch checkpoints"
        raise DataError(f"Run {run_id} has no checkpoint at epoch {epoch}: {hint}.") from None
    return meta, weights, slots


def restore_epoch_checkpoint(model: Any, meta: dict[str, Any], weights: list[Any], slots: list[Any]) -> str:
    """Load a checkpoint's variables into ``model`` (compiled with its optimizer). The optimizer's
    state (moments, iteration count) is carried over when it is the same optimizer with the same
    variables, its learning rate excepted (the new spec's); otherwise only the iteration count.
    Returns a note on what was carried.

    Raises:
        DataError: The model's variables do not match the checkpoint's (another architecture or
            input shape).
    """
    variables = list(model.variables)
    got = [tuple(v.shape) for v in variables]
    want = [tuple(w.shape) for w in weights]
    if got != want:
        raise DataError(
            "The branch's model does not match the checkpoint's (variables "
            f"{got[:4]}... vs {want[:4]}...): a change of layers, features or input shape cannot "
            "continue from a checkpoint. Launch a new run instead."
        )
    for variable, value in zip(variables, weights, strict=True):
        variable.assign(value)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    own = list(optimizer.variables)
    same = meta.get("optimizer") == type(optimizer).__name__ and [tuple(v.shape) for v in own] == [
        tuple(s.shape) for s in slots
    ]
    paths = [str(p).rsplit("/", 1)[-1] for p in meta.get("optimizer_paths") or [""] * len(slots)]
    if same:
        for variable, value, name in zip(own, slots, paths, strict=True):
            if name != "learning_rate":  # the branch's own rate
                variable.assign(value)
    elif "iteration" in paths:  # another optimizer: its step count (schedules) goes on
        for variable in own:
            if str(variable.path).endswith("iteration"):
                variable.assign(slots[paths.index("iteration")])
    return "optimizer state carried over" if same else "optimizer state started afresh (another optimizer)"


class EpochWriter:
    """Writes per-epoch checkpoints on a thread of its own and applies the retention rule.

    :meth:`snapshot` copies the variables at an epoch's end (on the training thread: the
    only cost a run pays beyond the write's CPU); the thread saves them and deletes the epochs
    the rule no longer keeps. :meth:`close` waits for the writes.
    """

    def __init__(self, store: Any, run_id: str, rule: CheckpointRule) -> None:
        import queue
        import threading

        self.store, self.run_id, self.rule = store, run_id, rule
        self.metrics: dict[int, float | None] = {}
        self.error: str | None = None
        # At most a few epochs wait to be written: when writes are slower than epochs (a large
        # model, short epochs), the training thread waits rather than memory growing.
        self._queue: queue.Queue[tuple[dict[str, Any], list[Any], list[Any]] | None] = queue.Queue(4)
        self._thread = threading.Thread(target=self._work, name=f"checkpoints-{run_id[:8]}", daemon=True)
        self._thread.start()

    def snapshot(self, model: Any, epoch: int, step: int, metric: float | None) -> None:
        optimizer = model.optimizer
        variables = list(model.variables)
        slots_of = list(optimizer.variables) if optimizer is not None else []
        weights, slots = _frozen(variables), _frozen(slots_of)
        meta = {
            "epoch": int(epoch),
            "step": int(step),
            "metric": None if metric is None or not math.isfinite(metric) else float(metric),
            "optimizer": type(optimizer).__name__ if optimizer is not None else "",
            "optimizer_paths": [str(v.path) for v in slots_of],
            "model_vars": len(variables),
            "optimizer_vars": len(slots_of),
        }
        self._queue.put((meta, weights, slots))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._write(*item)
            except OSError as exc:  # a full disk: the run goes on; its checkpoints say why they stop
                self.error = f"could not write a checkpoint: {exc}"
            except Exception as exc:  # noqa: BLE001 - a bug: said, and the queue still drains, since
                # a writer that ended would leave the training thread waiting on a full queue forever
                _log.exception(
                    "run %s: checkpoint of epoch %s not written", self.run_id, item[0].get("epoch")
                )
                self.error = f"could not write a checkpoint: {exc.__class__.__name__}: {exc}"

    def _write(self, meta: dict[str, Any], weights: list[Any], slots: list[Any]) -> None:
        import os

        import numpy as np

        epoch = meta["epoch"]
        path = _epoch_path(self.store, self.run_id, epoch)
        tmp = path.with_name(path.name + ".tmp")
        arrays = {f"w{i}": _numpy(w) for i, w in enumerate(weights)}
        arrays |= {f"o{i}": _numpy(s) for i, s in enumerate(slots)}
        with open(tmp, "wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
        self.metrics[epoch] = meta["metric"]
        kept = self.rule.keep(self.metrics)
        for old in [e for e in self.metrics if e not in kept]:
            _epoch_path(self.store, self.run_id, old).unlink(missing_ok=True)
            del self.metrics[old]


def _frozen(variables: list[Any]) -> list[Any]:
    """The variables' values now, as cheaply as the backend allows, on the training thread.

    TensorFlow: a read of each variable (about 1 ms for a 1.2 M-parameter CNN and its Adam
    slots, against 25-45 ms for copies to NumPy): TensorFlow's update ops copy a variable's
    buffer before writing it while a read still holds it (copy on write), so the reads stay the
    epoch's values while training goes on, and the writer thread turns them into NumPy arrays.
    JAX (whose next step donates, and so deletes, the arrays) and PyTorch (whose steps update
    in place): copies to NumPy here.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        return [v.value.read_value() if hasattr(v.value, "read_value") else v.numpy() for v in variables]
    return [v.numpy() for v in variables]


def _numpy(value: Any) -> Any:
    import numpy as np

    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
