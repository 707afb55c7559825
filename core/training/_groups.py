"""Seed groups: one training spec launched N times, identical but for the seed, recorded as one
group (``runs.group_id``) so Experiments and Compare show the spread a seed alone causes."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from core.errors import DataError
from core.errors import SpecError
from core.training._spec import TrainSpec
from core.training._spec import placement
from core.training._spec import read_training_run

if TYPE_CHECKING:
    from core.store import Store
    from core.store import Viewer

__all__ = ["MAX_SEEDS", "SeedGroup", "repeat_run_with_seeds", "repeat_with_seeds"]

MAX_SEEDS = 20


@dataclass(frozen=True)
class SeedGroup:
    """A launched seed group: its ID and its runs, in seed order."""

    id: str
    run_ids: list[str]
    seeds: list[int]


def _seeds(first: int, n: int) -> list[int]:
    if not 2 <= n <= MAX_SEEDS:
        raise SpecError(
            f"A seed group needs `2 <= seeds <= {MAX_SEEDS}`, but got seeds={n}. Pick 2 to {MAX_SEEDS}."
        )
    return [first + i for i in range(n)]


def repeat_with_seeds(
    client: Any,
    store: Store,
    spec: TrainSpec,
    n: int,
    *,
    viewer: Viewer,
    name: str = "",
    team: str = "",
    dataset_id: str | None = None,
    parent_id: str | None = None,
    parent_kind: str | None = None,
) -> SeedGroup:
    """Launch ``spec`` ``n`` times with seeds ``spec.seed, spec.seed + 1, ...`` as one group.

    Args:
        client: A connected Dask client.
        store: The store.
        spec: The training spec every run shares but for its seed.
        n: How many runs (2 to :data:`MAX_SEEDS`).
        viewer: Who launches them (their owner).
        name: The runs' name; `` · seed <s>`` is added to each. ``{id}`` becomes each run's
            short ID. Defaults to "".
        team: The team that may see them; "" keeps them private. Defaults to "".
        dataset_id: The dataset the runs read. Defaults to the pipeline's.
        parent_id: The run they came from (a study's best trial, say). Defaults to None.
        parent_kind: How (``promoted``, ``forked``). Defaults to None.

    Returns:
        The group: its ID and its runs' IDs.

    Raises:
        SpecError: ``n`` out of range or an invalid spec; nothing is launched.
        NotFoundError / PermissionDeniedError / ComputeError: As :func:`core.compute.submit_run`
            (runs launched before the error stay in the group).
    """
    from sqlalchemy import update

    from core.compute import submit_run
    from core.store import Run
    from core.store import new_id

    seeds = _seeds(spec.seed, n)
    specs = [replace(spec, seed=s) for s in seeds]  # each validated before anything is launched
    group_id = new_id()
    run_ids: list[str] = []
    for seed, one in zip(seeds, specs, strict=True):
        run_id = submit_run(
            client,
            store,
            "train",
            one.to_dict(),
            name=f"{name or 'Seed group'} · seed {seed}",
            options=placement(one),
            dataset_id=dataset_id or one.pipeline.get("dataset_id"),
            pipeline_id=one.pipeline_id,
            parent_id=parent_id,
            parent_kind=parent_kind,
            viewer=viewer,
            team=team,
        )
        with store.session(viewer) as s:
            s.execute(update(Run).where(Run.id == run_id).values(group_id=group_id))
        run_ids.append(run_id)
    return SeedGroup(group_id, run_ids, seeds)


def repeat_run_with_seeds(client: Any, store: Store, run_id: str, n: int, *, viewer: Viewer) -> SeedGroup:
    """Repeat a finished training run (a study's best trial, say) with ``n`` seeds as one group:
    the same pipeline, model, optimizer and settings, the trial's link to its study dropped.

    Raises:
        NotFoundError: The run is missing or not visible to ``viewer``.
        DataError: Not a training run Loom can read.
        SpecError: ``n`` out of range.
    """
    from core.store import get_run

    run = get_run(store, run_id, viewer=viewer)
    trained = read_training_run(run)
    if run.kind != "train" or trained.spec is None:
        raise DataError(f"Run {run_id} is not a training run Loom can read: pick a training run.")
    spec = replace(trained.spec, trial=None, resume_from=None)
    label = run.name or run.id[:8]
    return repeat_with_seeds(
        client,
        store,
        spec,
        n,
        viewer=viewer,
        name=f"{label} · repeated",
        team=run.team if run.author == viewer.name else "",
        dataset_id=run.dataset_id,
        parent_id=run.id,
        parent_kind="promoted" if trained.is_trial else "forked",
    )
