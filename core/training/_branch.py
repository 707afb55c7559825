"""Branch from here: a new run that starts from one of a run's per-epoch checkpoints with some
settings changed (learning rate, schedule, optimizer, batch size, pipeline steps that keep the
data's shape, epochs), its curves continuing the parent's at that epoch's step; and the lineage
of branches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.training._checkpoints import epoch_checkpoints
from core.training._checkpoints import nearest_kept
from core.training._spec import TrainSpec
from core.training._spec import placement
from core.training._spec import read_training_run

if TYPE_CHECKING:
    from core.store import Store
    from core.store import Viewer

__all__ = [
    "BRANCH_CHANGES",
    "BranchNode",
    "branch_history",
    "branch_lineage",
    "branch_run",
    "branch_spec",
]

# What a branch may change: each continues from a checkpoint's weights and optimizer state.
BRANCH_CHANGES = (
    "learning_rate",
    "schedule",
    "optimizer",
    "batch_size",
    "epochs",
    "early_stopping",
    "seed",
    "pipeline",
    "checkpoints",
    "params",
)
# What a scikit-learn branch may change: it grows the checkpoint's model with warm_start.
_ESTIMATOR_CHANGES = ("params", "seed", "checkpoints")
# Why the others cannot continue from a checkpoint.
_REFUSED = {
    "model": "the model's layers and shapes are the checkpoint's: a changed model has other weights",
    "backend": "a branch trains on its parent's Keras backend",
    "validation_dataset": "a branch validates on its parent's data, so its curves continue the parent's",
    "dataset_id": "a different dataset has another schema than the checkpoint was trained on",
    "multi_worker": "branches train on one worker",
    "workers": "branches train on one worker",
}


def branch_spec(
    parent: TrainSpec, parent_id: str, epoch: int, step: int, changes: Mapping[str, Any]
) -> TrainSpec:
    """``parent`` with ``changes``, starting from its checkpoint at ``epoch`` (step ``step``).

    Args:
        parent: The parent run's spec.
        parent_id: The parent run's ID.
        epoch: The epoch whose checkpoint the branch starts from.
        step: The parent's step at the end of that epoch.
        changes: Any of :data:`BRANCH_CHANGES`: ``learning_rate`` (float), ``schedule`` (a
            schedule's name), ``optimizer`` (a dict merged into the parent's optimizer spec),
            ``batch_size``, ``epochs`` (the total, > ``epoch``; defaults to the parent's),
            ``early_stopping``, ``seed``, ``pipeline`` (same dataset and target: augmentation),
            ``checkpoints`` (the retention rule).

    Raises:
        SpecError: A change that cannot continue from the checkpoint, with the reason; or an
            invalid value.
    """
    from core.models import is_estimator

    if is_estimator(parent.model):
        return _estimator_branch(parent, parent_id, epoch, step, changes)
    if "params" in changes:
        raise SpecError(
            "A branch of a Keras network cannot change `params` (scikit-learn hyperparameters): change "
            "the learning rate, schedule, optimizer, batch size or epochs instead."
        )
    unknown = [k for k in changes if k not in BRANCH_CHANGES]
    for key in unknown:
        if key in _REFUSED:
            raise SpecError(f"A branch cannot change `{key}`: {_REFUSED[key]}. Launch a new run instead.")
    if unknown:
        raise SpecError(
            f"Unknown branch change(s) {', '.join(map(repr, unknown))}. Valid changes are: "
            f"{', '.join(BRANCH_CHANGES)}."
        )
    optimizer = dict(parent.optimizer)
    if isinstance(changes.get("optimizer"), Mapping):
        optimizer.update({k: v for k, v in changes["optimizer"].items() if k != "type"})
    elif changes.get("optimizer") is not None:
        optimizer["name"] = changes["optimizer"]
    if changes.get("learning_rate") is not None:
        optimizer["learning_rate"] = float(changes["learning_rate"])
    if changes.get("schedule") is not None:
        optimizer["schedule"] = changes["schedule"]
    pipeline = parent.pipeline
    if changes.get("pipeline") is not None:
        pipeline = dict(changes["pipeline"])
        for key in ("dataset_id", "target"):
            if pipeline.get(key) != parent.pipeline.get(key):
                raise SpecError(
                    f"A branch cannot change the pipeline's `{key}` ({parent.pipeline.get(key)!r} -> "
                    f"{pipeline.get(key)!r}): another dataset or target has another schema than the "
                    "checkpoint was trained on. Launch a new run instead."
                )
    epochs = int(changes.get("epochs") or parent.epochs)
    if epochs <= epoch:
        raise SpecError(
            f"`epochs > {epoch}` must hold for a branch from epoch {epoch}, but got epochs={epochs}: "
            "the branch trains the epochs after its checkpoint."
        )
    return replace(
        parent,
        pipeline=pipeline,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=int(changes.get("batch_size") or parent.batch_size),
        early_stopping=int(changes.get("early_stopping", parent.early_stopping) or 0),
        seed=int(changes.get("seed", parent.seed)),
        checkpoints=changes.get("checkpoints", parent.checkpoints),
        resume_from=None,
        trial=None,
        branch={"run": parent_id, "epoch": int(epoch), "step": int(step)},
    )


def _estimator_branch(
    parent: TrainSpec, parent_id: str, epoch: int, step: int, changes: Mapping[str, Any]
) -> TrainSpec:
    """A scikit-learn branch: the parent's model at chunk ``epoch`` grown on with ``warm_start``,
    with hyperparameters changed by ``changes["params"]``; its growing setting (trees,
    iterations) must go beyond the checkpoint's."""
    from core.models import EstimatorSpec
    from core.training._classic import GROWS

    other = [k for k in changes if k not in _ESTIMATOR_CHANGES]
    if other:
        raise SpecError(
            f"A scikit-learn branch cannot change {', '.join(map(repr, other))}: it has no optimizer, epochs "
            f"or batches. Valid changes are: {', '.join(_ESTIMATOR_CHANGES)} (params: its hyperparameters)."
        )
    model = EstimatorSpec.from_dict(parent.model)
    params = changes.get("params") or {}
    if not isinstance(params, Mapping):
        raise SpecError(f"`params` must be an object of hyperparameters, but got params={params!r}.")
    new = EstimatorSpec.from_dict({**model.to_dict(), "params": {**model.params, **params}})
    size = GROWS[model.kind]
    chunks = model.chunks
    at = chunks[min(max(int(epoch), 1), len(chunks)) - 1]
    if int(new.params[size]) <= at:
        raise SpecError(
            f"`{size} > {at}` must hold for a branch from chunk {epoch} (its model has {at}), but got "
            f"{size}={new.params[size]}: the branch grows the checkpoint's model."
        )
    return replace(
        parent,
        model=new.to_dict(),
        epochs=max(parent.epochs, int(epoch) + 1),  # unused by an estimator; valid for a branch
        seed=int(changes.get("seed", parent.seed)),
        checkpoints=changes.get("checkpoints", parent.checkpoints),
        resume_from=None,
        trial=None,
        branch={"run": parent_id, "epoch": int(epoch), "step": int(step)},
    )


def branch_run(
    store: Store,
    client: Any,
    run_id: str,
    epoch: int,
    changes: Mapping[str, Any],
    *,
    viewer: Viewer,
    name: str = "",
) -> str:
    """Launch a branch of training run ``run_id`` from its checkpoint at ``epoch``.

    The branch's spec is the parent's with ``changes`` (:func:`branch_spec`); it loads that
    checkpoint's weights and optimizer state, trains epochs ``epoch + 1 ...`` and writes its
    curves from the parent's step at ``epoch`` on. It is recorded with ``parent_id`` and
    ``parent_kind="branched"``, and its spec's ``branch`` names the parent, epoch and step.

    Returns:
        The branch's run ID.

    Raises:
        NotFoundError: The run is missing or not visible to ``viewer``.
        DataError: Not a Keras training run, or no checkpoint is kept at ``epoch`` (the message
            names the nearest kept one).
        SpecError: A change that cannot continue from the checkpoint, with the reason.
    """
    from core.compute import submit_run
    from core.models import is_estimator
    from core.store import get_run

    run = get_run(store, run_id, viewer=viewer)
    trained = read_training_run(run)
    if run.kind != "train" or trained.spec is None:
        raise DataError(f"Run {run_id} is not a training run Loom can read: pick a training run to branch.")
    if is_estimator(trained.spec.model):
        from core.training._classic import estimator_branch_refusal

        why = estimator_branch_refusal(str(trained.spec.model.get("kind")))
        if why:
            raise SpecError(f"Run {run_id} cannot branch: {why}. Fork it instead.")
    kept = {c.epoch: c for c in epoch_checkpoints(store, run_id)}
    if int(epoch) not in kept:
        near = nearest_kept(store, run_id, int(epoch))
        hint = f"the nearest kept one is epoch {near.epoch}" if near else "it keeps no per-epoch checkpoints"
        raise DataError(f"Run {run_id} has no checkpoint at epoch {epoch}: {hint}.")
    spec = branch_spec(trained.spec, run.id, int(epoch), kept[int(epoch)].step, changes)
    label = run.name or run.id[:8]
    return submit_run(
        client,
        store,
        "train",
        spec.to_dict(),
        name=name or f"{label} · branch @{epoch}",
        options=placement(spec),
        dataset_id=run.dataset_id,
        pipeline_id=spec.pipeline_id,
        parent_id=run.id,
        parent_kind="branched",
        viewer=viewer,
        team=run.team if run.author == viewer.name else "",
    )


@dataclass(frozen=True)
class BranchNode:
    """A run in a lineage of branches: its ID, name, the epoch it branched from (None for the
    root) and its branches."""

    run_id: str
    name: str
    epoch: int | None
    children: tuple[BranchNode, ...] = ()


def branch_lineage(store: Store, run_id: str, *, viewer: Viewer) -> BranchNode:
    """The tree of branches ``run_id`` belongs to, from its root (the first run that is no
    branch), as far as ``viewer`` sees."""
    from core.errors import NotFoundError
    from core.store import child_runs
    from core.store import get_run

    def epoch_of(record: Any) -> int | None:
        branch = (record.spec or {}).get("branch")
        return int(branch["epoch"]) if isinstance(branch, Mapping) and "epoch" in branch else None

    root = get_run(store, run_id, viewer=viewer)
    for _ in range(64):  # a lineage is short; a cycle (never written) cannot loop forever
        if root.parent_kind != "branched" or not root.parent_id:
            break
        try:
            root = get_run(store, root.parent_id, viewer=viewer)
        except NotFoundError:
            break

    def node(record: Any, depth: int) -> BranchNode:
        children: list[BranchNode] = []
        if depth < 16:
            for child_id, _, how in child_runs(store, record.id, viewer=viewer):
                if how == "branched":
                    children.append(node(get_run(store, child_id, viewer=viewer), depth + 1))
        children.sort(key=lambda c: (c.epoch or 0, c.run_id))
        return BranchNode(record.id, record.name or record.id[:8], epoch_of(record), tuple(children))

    return node(root, 0)


def branch_history(store: Store, run_id: str, *, viewer: Viewer) -> dict[str, Any]:
    """A branch's shared history: its ancestors' curves up to where it branched (batch and other
    step-keyed curves to the branch's step, epoch curves to its epoch; no system readings), by
    key, as :class:`core.store.MetricSeries`. Empty for a run that is no branch, or whose parent
    ``viewer`` cannot see."""
    from core.errors import NotFoundError
    from core.store import MetricSeries
    from core.store import get_metrics
    from core.store import get_run

    def history(record: Any, depth: int) -> dict[str, MetricSeries]:
        branch = (record.spec or {}).get("branch")
        if depth > 16 or record.parent_kind != "branched" or not isinstance(branch, Mapping):
            return {}
        try:
            parent = get_run(store, str(branch["run"]), viewer=viewer)
        except NotFoundError:
            return {}
        merged: dict[str, MetricSeries] = {}
        earlier = history(parent, depth + 1)
        own = get_metrics(store, parent.id, viewer=viewer)
        for key in sorted({*earlier, *own}):
            if key.startswith("system/"):
                continue
            cut = int(branch["epoch"]) if key.startswith("epoch/") else int(branch["step"])
            points = [
                (s, v)
                for series in (earlier.get(key), own.get(key))
                if series is not None
                for s, v in zip(series.steps, series.values, strict=True)
                if s <= cut
            ]
            if points:
                merged[key] = MetricSeries(key, [s for s, _ in points], [v for _, v in points])
        return merged

    return history(get_run(store, run_id, viewer=viewer), 0)
