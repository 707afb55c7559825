"""Baselines in one click: for a dataset + pipeline + target, a dummy (majority / mean), a linear
model and histogram gradient boosting, launched together as ordinary training runs.

They are tagged ``baseline`` and named ``Baseline · <model> · <dataset>``, so Experiments finds
them (tag filter) and Compare shows them beside neural runs on the same metrics. Launching again
for the same pipeline reuses baselines that are queued, running or succeeded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from core.errors import AppError
from core.errors import DataError
from core.experiments import BASELINE_TAG
from core.models import EstimatorSpec
from core.specs import spec_hash
from core.training._spec import TrainSpec
from core.training._spec import read_training_run

if TYPE_CHECKING:
    from core.store import Store
    from core.store import Viewer

__all__ = ["BASELINE_KINDS", "BASELINE_TAG", "baseline_specs", "baselines_for_run", "launch_baselines"]

BASELINE_KINDS = ("dummy", "linear", "hist_gradient_boosting")


def baseline_specs(
    pipeline: dict[str, Any],
    task: str,
    pipeline_id: str | None = None,
    validation_dataset: str | None = None,
) -> list[TrainSpec]:
    """The three baseline runs' specs for ``pipeline`` (its dataset, steps and target) and ``task``,
    validated on ``validation_dataset`` when the run they sit beside was (so both are scored on
    the same rows).

    Raises:
        SpecError: The pipeline or task is invalid.
    """
    return [
        TrainSpec(
            pipeline,
            EstimatorSpec(kind, task).to_dict(),
            pipeline_id=pipeline_id,
            validation_dataset=validation_dataset,
        )
        for kind in BASELINE_KINDS
    ]


def _reusable(store: Store, spec: dict[str, Any], viewer: Viewer) -> str | None:
    """A visible baseline run of exactly this spec that is queued, running or succeeded."""
    from sqlalchemy import select

    from core.store import Run
    from core.store import Tag
    from core.store import visible

    with store.session(viewer) as s:
        return s.scalar(
            select(Run.id)
            .join(Tag, (Tag.target_id == Run.id) & (Tag.target_kind == "run") & (Tag.tag == BASELINE_TAG))
            .where(
                Run.kind == "train",
                Run.spec_hash == spec_hash(spec),
                Run.status.in_(("queued", "running", "succeeded")),
                Run.archived.is_(False),
                visible(Run, viewer),
            )
            .order_by(Run.created_at.desc())
            .limit(1)
        )


def launch_baselines(
    client: Any,
    store: Store,
    pipeline: dict[str, Any],
    task: str,
    *,
    viewer: Viewer,
    dataset_name: str = "",
    pipeline_id: str | None = None,
    parent_id: str | None = None,
    team: str = "",
    validation_dataset: str | None = None,
) -> list[str]:
    """Launch (or reuse) the dummy, linear and gradient-boosting baselines for ``pipeline``.

    Args:
        client: A connected Dask client.
        store: The store.
        pipeline: The pipeline spec (dict) the runs apply: dataset, steps, target.
        task: ``binary``, ``multiclass`` or ``regression``.
        viewer: Who launches them (their owner).
        dataset_name: Shown in the runs' names. Defaults to "".
        pipeline_id: The saved pipeline version, if any. Defaults to None.
        parent_id: The run they were launched for (recorded as lineage ``baseline``). Defaults
            to None.
        team: The team that may see them; "" keeps them private. Defaults to "".
        validation_dataset: Another dataset they validate on (every row of ``pipeline``'s then
            trains), as the run they sit beside. Defaults to None (the split's held-out rows).

    Returns:
        The three runs' IDs (dummy, linear, gradient boosting), new or reused.

    Raises:
        SpecError: Invalid pipeline or task; nothing is launched.
        NotFoundError / PermissionDeniedError: As :func:`core.compute.submit_run`.
    """
    from core.compute import submit_run
    from core.experiments import add_tag

    specs = baseline_specs(pipeline, task, pipeline_id, validation_dataset)  # all checked before any launch
    dataset_id = specs[0].pipeline["dataset_id"]
    run_ids = []
    for spec in specs:
        data = spec.to_dict()
        existing = _reusable(store, data, viewer)
        if existing is not None:
            run_ids.append(existing)
            continue
        label = EstimatorSpec.from_dict(spec.model).label
        run_id = submit_run(
            client,
            store,
            "train",
            data,
            name=f"Baseline · {label} · {dataset_name or dataset_id[:8]} · {{id}}",
            dataset_id=dataset_id,
            pipeline_id=pipeline_id,
            parent_id=parent_id,
            parent_kind="baseline" if parent_id else None,
            viewer=viewer,
            team=team,
        )
        add_tag(store, "run", run_id, BASELINE_TAG, viewer=viewer)
        run_ids.append(run_id)
    return run_ids


def baselines_for_run(client: Any, store: Store, run_id: str, *, viewer: Viewer) -> list[str]:
    """The baselines for a training run's data: its pipeline, target and task, launched (or
    reused) for ``viewer``, visible to the run's team when ``viewer`` owns it.

    Raises:
        NotFoundError: The run is missing or not visible to ``viewer``.
        DataError: Not a training run, or its spec cannot be read.
    """
    from core.data import get_dataset
    from core.store import get_run

    run = get_run(store, run_id, viewer=viewer)
    trained = read_training_run(run)
    if run.kind != "train" or trained.spec is None or trained.model is None:
        raise DataError(f"Run {run_id} is not a training run Loom can read: pick a training run.")
    pipeline = trained.spec.pipeline
    try:
        name = get_dataset(store, pipeline["dataset_id"], viewer=viewer).name
    except AppError:  # the name is decoration; submit_run checks what the runs read
        name = ""
    return launch_baselines(
        client,
        store,
        pipeline,
        trained.model.task,
        viewer=viewer,
        dataset_name=name,
        pipeline_id=trained.spec.pipeline_id,
        parent_id=run.id,
        team=run.team if run.author == viewer.name else "",
        validation_dataset=trained.spec.validation_dataset,
    )
