"""Groups of runs: seed groups (runs launched together, identical but for their seed) and runs
grouped by any setting (``optimizer.name``, ``optimizer.learning_rate``, ``model``,
``backend``...). Each group's curve is its members' stored points aligned by step (mean, ±1 std,
min-max); each group's final metric is its members' last values with their spread."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

from sqlalchemy import select

from core.errors import SpecError
from core.experiments._compare import flatten
from core.experiments._query import run_backend
from core.experiments._query import run_model
from core.store import Metric
from core.store import Run
from core.store import RunSummary
from core.store import Store
from core.store import Viewer
from core.store import visible

__all__ = [
    "GROUP_BY_SEED",
    "GroupBand",
    "GroupSummary",
    "group_band",
    "group_keys",
    "group_members",
    "group_of",
    "group_runs",
]

# ``by`` for :func:`group_runs`: the runs' seed group rather than a setting.
GROUP_BY_SEED = "seed group"
_MAX_GROUP_RUNS = 500


class GroupBand(NamedTuple):
    """One group's curve of one metric, its members' points aligned by step: at each step the
    mean, the population standard deviation (as ``numpy.std``), the lowest and highest value,
    and how many members have a finite point there."""

    label: str
    key: str
    steps: list[int]
    mean: list[float]
    std: list[float]
    low: list[float]
    high: list[float]
    counts: list[int]
    runs: int


class GroupSummary(NamedTuple):
    """One group of runs and its final metric: each member's last value (members without one
    are left out of the statistics), their mean, population std, min and max."""

    key: str  # the group's ID for seed groups, else the setting's value as text
    label: str
    run_ids: list[str]
    metric: str
    values: list[float]
    mean: float | None
    std: float | None
    low: float | None
    high: float | None


def _stats(values: Sequence[float]) -> tuple[float, float, float, float] | None:
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    return mean, std, min(values), max(values)


def group_members(store: Store, group_id: str, *, viewer: Viewer) -> list[str]:
    """The runs of a seed group that ``viewer`` may see, oldest first (none for an unknown
    group)."""
    with store.session(viewer) as s:
        return list(
            s.scalars(
                select(Run.id)
                .where(Run.group_id == group_id, visible(Run, viewer))
                .order_by(Run.created_at, Run.id)
            )
        )


def group_of(store: Store, run_id: str, *, viewer: Viewer) -> str | None:
    """The seed group a run ``viewer`` may see belongs to (None: in none, or not visible)."""
    with store.session(viewer) as s:
        return s.scalar(select(Run.group_id).where(Run.id == run_id, visible(Run, viewer)))


def group_band(
    store: Store, run_ids: Sequence[str], key: str, *, viewer: Viewer, label: str = ""
) -> GroupBand:
    """The group's curve of ``key`` from its members' stored points, aligned by step.

    Args:
        store: The store.
        run_ids: The group's runs; runs ``viewer`` may not see are left out.
        key: The metric, e.g. ``epoch/val_loss``.
        viewer: Who looks.
        label: The group's name in the chart. Defaults to "".

    Returns:
        Per step with at least one finite point: mean, std, min, max and how many members.
    """
    by_step: dict[int, dict[str, float]] = {}
    with store.session(viewer) as s:
        seen = set(s.scalars(select(Run.id).where(Run.id.in_(list(run_ids)), visible(Run, viewer))))
        for run_id, step, value in s.execute(
            select(Metric.run_id, Metric.step, Metric.value)
            .where(Metric.run_id.in_(seen), Metric.key == key)
            .order_by(Metric.step, Metric.id)
        ):
            if value is not None and math.isfinite(value):
                by_step.setdefault(step, {})[run_id] = value  # a step written twice: its last value
    steps = sorted(by_step)
    stats = [_stats(list(by_step[st].values())) for st in steps]
    return GroupBand(
        label=label,
        key=key,
        steps=steps,
        mean=[x[0] for x in stats if x],
        std=[x[1] for x in stats if x],
        low=[x[2] for x in stats if x],
        high=[x[3] for x in stats if x],
        counts=[len(by_step[st]) for st in steps],
        runs=len(seen),
    )


def _setting(run: Run, by: str) -> Any:
    spec = run.spec_json if isinstance(run.spec_json, dict) else {}
    if by == "backend":
        return run_backend(run.kind, spec)
    if by == "model":
        return run_model(run.kind, spec)
    return flatten(spec).get(by)


def group_keys(store: Store, run_ids: Sequence[str], *, viewer: Viewer) -> list[str]:
    """The settings these runs can be grouped by: ``seed group``, ``model``, ``backend``, then
    every flattened setting whose value differs between them (``optimizer.name``...)."""
    with store.session(viewer) as s:
        runs = list(s.scalars(select(Run).where(Run.id.in_(list(run_ids)), visible(Run, viewer))))
        flats = [flatten(r.spec_json) for r in runs]
    names = sorted(set().union(*flats)) if flats else []
    differ = [
        n
        for n in names
        if n != "seed" and len({repr(f.get(n)) for f in flats}) > 1 and not n.startswith("trial.")
    ]
    return [GROUP_BY_SEED, "model", "backend", *differ]


def _last_values(s: Any, run_ids: list[str], metric: str) -> dict[str, float]:
    last = {
        run_id: value
        for run_id, value in s.execute(
            select(RunSummary.run_id, RunSummary.last).where(
                RunSummary.run_id.in_(run_ids), RunSummary.key == metric
            )
        )
    }
    for run_id in [r for r in run_ids if r not in last]:  # still running: its newest point
        value = s.scalar(
            select(Metric.value)
            .where(Metric.run_id == run_id, Metric.key == metric)
            .order_by(Metric.step.desc(), Metric.id.desc())
            .limit(1)
        )
        if value is not None:
            last[run_id] = value
    return {k: v for k, v in last.items() if v is not None and math.isfinite(v)}


def group_runs(
    store: Store, run_ids: Sequence[str], by: str, metric: str, *, viewer: Viewer
) -> list[GroupSummary]:
    """These runs in groups, each with the spread of its final ``metric``.

    Args:
        store: The store.
        run_ids: The runs to group (e.g. a page of Experiments).
        by: :data:`GROUP_BY_SEED` (every visible member of the seed groups these runs are in;
            runs in no group are left out), ``model``, ``backend`` or a flattened setting such
            as ``optimizer.name``.
        metric: The final metric, e.g. ``epoch/val_loss``.
        viewer: Who looks; runs they may not see are left out.

    Returns:
        The groups, largest first.

    Raises:
        SpecError: ``by`` is empty, or more than 500 runs are asked for.
    """
    if not by.strip():
        raise SpecError(f"Pick what to group by: {GROUP_BY_SEED!r} or a setting such as 'optimizer.name'.")
    if len(run_ids) > _MAX_GROUP_RUNS:
        raise SpecError(
            f"Group at most {_MAX_GROUP_RUNS} runs at once, but got {len(run_ids)}: filter first."
        )
    with store.session(viewer) as s:
        runs = list(s.scalars(select(Run).where(Run.id.in_(list(run_ids)), visible(Run, viewer))))
        members: dict[str, list[Run]] = {}
        if by == GROUP_BY_SEED:
            ids = {r.group_id for r in runs if r.group_id}
            for run in s.scalars(
                select(Run)
                .where(Run.group_id.in_(ids), visible(Run, viewer))
                .order_by(Run.created_at, Run.id)
            ):
                members.setdefault(str(run.group_id), []).append(run)
        else:
            for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
                members.setdefault(repr(_setting(run, by)), []).append(run)
        last = _last_values(s, [r.id for rs in members.values() for r in rs], metric)
        out = []
        for key, rs in members.items():
            values = [last[r.id] for r in rs if r.id in last]
            stats = _stats(values)
            if by == GROUP_BY_SEED:
                label = rs[0].name.rsplit(" · seed ", 1)[0] or key[:8]
            else:
                label = f"{by} = {_setting(rs[0], by)}"
            out.append(
                GroupSummary(
                    key=key,
                    label=label,
                    run_ids=[r.id for r in rs],
                    metric=metric,
                    values=values,
                    mean=stats[0] if stats else None,
                    std=stats[1] if stats else None,
                    low=stats[2] if stats else None,
                    high=stats[3] if stats else None,
                )
            )
    return sorted(out, key=lambda g: (-len(g.run_ids), g.label))
