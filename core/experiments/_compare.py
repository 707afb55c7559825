"""Comparing runs: overlaid curves, a config diff and a metrics table."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select

from core.errors import NotFoundError
from core.errors import SpecError
from core.experiments._query import run_backend
from core.experiments._query import run_model
from core.store import Metric
from core.store import Run
from core.store import RunRecord
from core.store import RunSummary
from core.store import Store
from core.store import Tag
from core.store import Viewer
from core.store import thaw
from core.store import visible

__all__ = [
    "BASELINE_TAG",
    "NOT_APPLICABLE",
    "Comparison",
    "compare_runs",
    "flatten",
    "parse_run_ids",
    "setting_applies",
    "smooth",
]

MAX_RUNS = 10
# The tag on baseline runs (core.training.launch_baselines): Compare marks them as baselines.
BASELINE_TAG = "baseline"


def parse_run_ids(raw: str) -> list[str]:
    """``"a,b,c"`` from a URL into run IDs: 2 to 10 distinct, each 32 hex digits."""
    ids = list(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    bad = [i[:40] for i in ids if len(i) != 32 or any(c not in "0123456789abcdef" for c in i)]
    if bad:
        raise SpecError(f"{bad} are not run IDs (32 hex digits). Pick runs on the Experiments page.")
    if not 2 <= len(ids) <= MAX_RUNS:
        raise SpecError(f"Compare 2 to {MAX_RUNS} runs, but the link names {len(ids)}.")
    return ids


def flatten(spec: Any, prefix: str = "") -> dict[str, Any]:
    """A nested spec as ``{"optimizer.learning_rate": 0.001, "model.layers.0.units": 64, ...}``."""
    out: dict[str, Any] = {}
    if isinstance(spec, dict):
        for key, value in spec.items():
            out |= flatten(value, f"{prefix}{key}.")
    elif isinstance(spec, list) and spec and all(isinstance(v, dict) for v in spec):
        for i, value in enumerate(spec):
            out |= flatten(value, f"{prefix}{i}.")
    else:
        out[prefix.rstrip(".")] = spec
    return out


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average; ``weight`` 0 is none, < 1 (the math
    is :func:`core.charts.smooth`, which every chart's smoothing uses)."""
    from core.charts import smooth as ema

    return ema(values, weight)


# What Compare shows for a setting that a run's model does not have.
NOT_APPLICABLE = "—"
# Settings only a Keras network reads: a scikit-learn estimator's spec carries them with their
# defaults, but it fits in one pass, without epochs, batches or an optimizer.
_NEURAL_ONLY = ("epochs", "batch_size", "early_stopping", "optimizer", "multi_worker", "workers", "gpu")


def setting_applies(setting: str, kind: str, spec: Any) -> bool:
    """Whether a run of ``kind`` with ``spec`` has ``setting`` (a :func:`flatten` key): a
    scikit-learn run has no ``epochs``, ``batch_size``, ``optimizer.*`` and the like."""
    if run_backend(kind, spec) != "scikit-learn":
        return True
    return setting.split(".", 1)[0] not in _NEURAL_ONLY


@dataclass(frozen=True)
class Comparison:
    runs: list[RunRecord]
    curves: dict[str, dict[str, list[float]]]  # run id -> {"step": [...], "time": [...], "value": [...]}
    # One row per setting: {"setting": ..., run id: value (NOT_APPLICABLE where the run's model
    # has no such setting), "differs": bool (among the runs it applies to)}.
    diff: list[dict[str, Any]]
    table: list[dict[str, Any]]  # one row per run: name, each metric's last value, then model, ID

    keys: list[str]  # metric keys any of the runs has
    baselines: list[str] = field(default_factory=list)  # runs tagged BASELINE_TAG


def compare_runs(
    store: Store, run_ids: list[str], metric: str = "epoch/val_loss", *, viewer: Viewer
) -> Comparison:
    """Everything the Compare page shows for these runs.

    Raises:
        NotFoundError: A run does not exist or ``viewer`` may not see it (the message names
            which).
    """
    with store.session(viewer) as s:
        runs = {
            r.id: RunRecord.from_row(r)
            for r in s.scalars(select(Run).where(Run.id.in_(run_ids), visible(Run, viewer)))
        }
        missing = [i for i in run_ids if i not in runs]
        if missing:
            raise NotFoundError(f"There is no run {missing[0]!r}. It may have been deleted.")
        ordered = [runs[i] for i in run_ids]
        keys = sorted(set(s.scalars(select(Metric.key).where(Metric.run_id.in_(run_ids)).distinct())))
        curves: dict[str, dict[str, list[float]]] = {
            r.id: {"step": [], "time": [], "value": []} for r in ordered
        }
        for run_id, step, ts, value in s.execute(
            select(Metric.run_id, Metric.step, Metric.ts, Metric.value)
            .where(Metric.run_id.in_(run_ids), Metric.key == metric)
            .order_by(Metric.run_id, Metric.step, Metric.id)
        ):
            curve = curves[run_id]
            curve["step"].append(step)
            curve["time"].append(ts)
            curve["value"].append(value)
        summaries: dict[str, dict[str, float]] = {}
        for run_id, key, last in s.execute(
            select(RunSummary.run_id, RunSummary.key, RunSummary.last).where(RunSummary.run_id.in_(run_ids))
        ):
            summaries.setdefault(run_id, {})[key] = last
        baselines = set(
            s.scalars(
                select(Tag.target_id).where(
                    Tag.target_kind == "run", Tag.target_id.in_(run_ids), Tag.tag == BASELINE_TAG
                )
            )
        )
    for curve in curves.values():  # time since each run's first point
        if curve["time"]:
            t0 = curve["time"][0]
            curve["time"] = [t - t0 for t in curve["time"]]
    flat = {r.id: flatten(thaw(r.spec)) for r in ordered}
    for r in ordered:  # a spec stored before backends existed trained on TensorFlow: say so
        if backend := run_backend(r.kind, thaw(r.spec)):
            flat[r.id]["backend"] = backend
    for r in ordered:  # a setting the run's model never reads is no setting of that run
        flat[r.id] = {k: v for k, v in flat[r.id].items() if setting_applies(k, r.kind, thaw(r.spec))}
    settings = sorted(set().union(*flat.values()))
    diff = []
    for name in settings:
        applies = [r for r in ordered if name in flat[r.id]]
        diff.append(
            {
                "setting": name,
                **{r.id: flat[r.id][name] if name in flat[r.id] else NOT_APPLICABLE for r in ordered},
                "differs": len({repr(flat[r.id][name]) for r in applies}) > 1,
            }
        )
    epoch_keys = [k for k in keys if k.startswith("epoch/")]
    # Metrics first (a wide table scrolls sideways): the run's name, its metrics and results,
    # then what identifies it (model, baseline, status, ID).
    table = [
        {
            "name": r.name,
            **{k: summaries.get(r.id, {}).get(k) for k in epoch_keys},
            **{f"result {k}": v for k, v in r.result.evaluation.items()},
            "model": run_model(r.kind, thaw(r.spec)),
            "baseline": r.id in baselines,
            "status": r.status,
            "run": r.id,
        }
        for r in ordered
    ]
    return Comparison(ordered, curves, diff, table, keys, [r.id for r in ordered if r.id in baselines])
