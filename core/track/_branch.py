"""Checkpoints of script runs, and branches of them: :meth:`Run.save_checkpoint` keeps a script's
arrays at an epoch (``checkpoints/<run>.e<epoch>.npz``, as Loom's own runs keep theirs, under the
same retention rule), and ``track.run(..., branch_from=RUN, epoch=N)`` starts a run from one.

A checkpoint holds NumPy arrays and a JSON header only, and is read with ``allow_pickle=False``:
weights as arrays (``model.get_weights()``, a ``state_dict``'s tensors as NumPy), never a
pickled object.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from core.errors import DataError
from core.errors import SpecError

__all__ = ["Branch", "read_checkpoint", "write_checkpoint"]

_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,100}$")


@dataclass(frozen=True)
class Branch:
    """Where a branched script run starts: the parent run, its epoch and step, the checkpoint's
    file and its arrays by name."""

    run: str
    epoch: int
    step: int
    path: Path
    arrays: dict[str, Any] = field(repr=False)


def write_checkpoint(
    store: Any, run_id: str, epoch: int, step: int, arrays: Mapping[str, Any], metric: float | None, rule: Any
) -> Path:
    """Save ``arrays`` as the run's checkpoint at ``epoch``, then delete what ``rule`` no longer keeps.

    Raises:
        SpecError: An epoch that is not an int >= 1, no arrays, a name that is not 1-100 of
            ``A-Z a-z 0-9 _ . / -``, or a value that is no numeric array (an object array would
            need a pickle).
    """
    import numpy as np

    from core.training import epoch_checkpoints

    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise SpecError(f"`epoch` must be an int >= 1, but got epoch={epoch!r}.")
    if not isinstance(arrays, Mapping) or not arrays:
        raise SpecError("save_checkpoint takes a dict of name -> array, e.g. {'w0': w0, 'b0': b0}.")
    named: dict[str, Any] = {}
    for i, (name, value) in enumerate(arrays.items()):
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(
                f"Checkpoint array name {str(name)[:60]!r} is not valid: use 1-100 of A-Z a-z 0-9 _ . / -."
            )
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.dtype.hasobject:
            raise SpecError(
                f"Checkpoint array {name!r} holds Python objects: save numbers only (no pickles)."
            )
        named[f"a{i}"] = array
    good = metric is not None and math.isfinite(float(metric))
    meta = {
        "epoch": epoch,
        "step": int(step),
        "metric": float(metric) if good else None,  # type: ignore[arg-type]
        "model_vars": 0,
        "optimizer_vars": 0,
        "arrays": list(arrays),
    }
    path = Path(store.path_for("checkpoints", run_id, f".e{epoch}.npz"))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **named)
    os.replace(tmp, path)
    kept = {c.epoch: c.metric for c in epoch_checkpoints(store, run_id)}
    for old in set(kept) - rule.keep(kept):
        Path(store.path_for("checkpoints", run_id, f".e{old}.npz")).unlink(missing_ok=True)
    return path


def read_checkpoint(store: Any, run_id: str, epoch: int) -> Branch:
    """The run's checkpoint at ``epoch`` (a script's arrays by name; a Loom run's as ``w0``...).

    Raises:
        DataError: No checkpoint is kept at that epoch; the message names the nearest kept one.
    """
    import numpy as np

    from core.training import epoch_checkpoints

    path = Path(store.path_for("checkpoints", run_id, f".e{int(epoch)}.npz"))
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = dict(json.loads(str(data["meta"])))
            names = meta.get("arrays")
            if names:
                arrays = {str(name): data[f"a{i}"] for i, name in enumerate(names)}
            else:
                arrays = {key: data[key] for key in data.files if key != "meta"}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        kept = epoch_checkpoints(store, run_id)
        near = min(kept, key=lambda c: (abs(c.epoch - int(epoch)), c.epoch)) if kept else None
        hint = f"the nearest kept one is epoch {near.epoch}" if near else "it keeps no checkpoints"
        raise DataError(f"Run {run_id} has no checkpoint at epoch {epoch}: {hint}.") from None
    return Branch(run_id, int(meta["epoch"]), int(meta["step"]), path, arrays)
