"""The study spec: objectives, sampler, pruner, trials and parallelism over a search space of a
base training spec; validated on construction, round-trips through JSON."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError
from core.tuning._paths import apply
from core.tuning._space import SearchSpace

__all__ = [
    "objective_metrics",
    "METRICS",
    "Objective",
    "PRUNERS",
    "SAMPLERS",
    "StudySpec",
    "grid",
    "midpoint",
    "validate_study_spec",
]

_log = logging.getLogger(__name__)


# Objective name -> (where it comes from, natural direction).
METRICS: dict[str, str] = {
    "val_loss": "minimize",
    "val_accuracy": "maximize",
    "val_auc": "maximize",
    "val_rmse": "minimize",
    "val_mae": "minimize",
    "loss": "minimize",
    "params": "minimize",
    "train_seconds": "minimize",
}


SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2", "grid")


PRUNERS = ("none", "median", "successive_halving", "hyperband")


def objective_metrics(task: str) -> list[str]:
    """The metrics a study of a ``task`` model can optimise (accuracy and AUC need classes, AUC
    two of them; RMSE and MAE a continuous target)."""
    out = []
    for metric in METRICS:
        if task == "regression" and metric in ("val_accuracy", "val_auc"):
            continue
        if task == "multiclass" and metric == "val_auc":
            continue
        if task != "regression" and metric in ("val_rmse", "val_mae"):
            continue
        out.append(metric)
    return out


@dataclass(frozen=True)
class Objective:
    metric: str = "val_loss"
    direction: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise SpecError(f"Unknown objective {self.metric!r}. Valid objectives are: {', '.join(METRICS)}.")
        if not self.direction:
            object.__setattr__(self, "direction", METRICS[self.metric])
        if self.direction not in ("minimize", "maximize"):
            raise SpecError(f"direction must be minimize or maximize, but got {self.direction!r}.")

    @property
    def per_epoch(self) -> bool:
        return self.metric not in ("params", "train_seconds")


@dataclass(frozen=True)
class StudySpec:
    """A study: which training to vary, how, and for how long.

    Args:
        base: The training spec (dict) every trial starts from.
        space: The first search space (a :class:`SearchSpace` dict); later phases live on the study.
        objectives: One objective, or two for a Pareto front.
        sampler: One of :data:`SAMPLERS`. Defaults to "tpe".
        pruner: One of :data:`PRUNERS` (single objective only). Defaults to "none".
        n_trials: Trials to run, >= 1 (retries of trials whose worker died not counted).
            Defaults to 20.
        timeout_s: Stop asking for new trials after this many seconds; 0 is none. Defaults to 0.
        parallelism: Trials in flight at once, >= 1. Defaults to 2.
        seed: Seeds the sampler, or None. Defaults to None.
        retries: How often a trial whose worker died is run again. Defaults to 1.
        gpu: Each trial takes one GPU (workers declaring ``GPU``). Defaults to False.
        learn_from_hand_runs: Hand-launched runs of the study's owner on its dataset that finish
            after it starts, and fit its space, join as completed trials. Defaults to False.
    """

    base: dict[str, Any]
    space: dict[str, Any]
    objectives: tuple[Objective, ...] = (Objective(),)
    sampler: str = "tpe"
    pruner: str = "none"
    n_trials: int = 20
    timeout_s: float = 0.0
    parallelism: int = 2
    seed: int | None = None
    retries: int = 1
    gpu: bool = False
    learn_from_hand_runs: bool = False

    def __post_init__(self) -> None:
        import importlib.util

        from core.training import TrainSpec

        if not isinstance(self.base, dict) or not isinstance(self.space, dict):
            raise SpecError("A study needs `base` (a training spec) and `space` (a search space) as objects.")
        TrainSpec.from_dict(self.base)
        if self.seed is not None and not isinstance(self.seed, int):
            raise SpecError(f"`seed` must be a whole number or null, but got seed={self.seed!r}.")
        needs = {
            "gp": (
                "torch",
                "Optuna's GP sampler needs PyTorch: pip install torch (CPU build), or choose TPE.",
            ),
            "cmaes": ("cmaes", "The CMA-ES sampler needs the `cmaes` package: pip install cmaes."),
        }
        if self.sampler in needs and importlib.util.find_spec(needs[self.sampler][0]) is None:
            raise SpecError(needs[self.sampler][1])
        objectives = tuple(o if isinstance(o, Objective) else Objective(**o) for o in self.objectives)
        object.__setattr__(self, "objectives", objectives)
        space = SearchSpace.from_dict(self.space)
        if not 1 <= len(objectives) <= 2:
            raise SpecError(f"Give one or two objectives, but got {len(objectives)}.")
        if len({o.metric for o in objectives}) != len(objectives):
            raise SpecError("The two objectives must differ.")
        if self.sampler not in SAMPLERS:
            raise SpecError(f"Unknown sampler {self.sampler!r}. Valid samplers are: {', '.join(SAMPLERS)}.")
        if self.pruner not in PRUNERS:
            raise SpecError(f"Unknown pruner {self.pruner!r}. Valid pruners are: {', '.join(PRUNERS)}.")
        if len(objectives) > 1 and self.sampler == "cmaes":
            raise SpecError("CMA-ES optimizes one objective: choose NSGA-II, TPE or random for two.")
        if len(objectives) == 1 and self.sampler == "nsga2":
            raise SpecError("NSGA-II is for two objectives: choose TPE, random, CMA-ES, GP or grid for one.")
        if len(objectives) > 1 and self.pruner != "none":
            raise SpecError("Optuna cannot prune a study with two objectives: set the pruner to none.")
        if self.pruner != "none" and not objectives[0].per_epoch:
            raise SpecError(
                f"Pruning needs a per-epoch objective; {objectives[0].metric} is known only at the end."
            )
        for name in ("n_trials", "parallelism"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name} >= 1` must hold, but got {name}={value!r}.")
        if not (isinstance(self.timeout_s, int | float) and self.timeout_s >= 0):
            raise SpecError(f"`timeout_s >= 0` must hold, but got timeout_s={self.timeout_s!r}.")
        if not isinstance(self.learn_from_hand_runs, bool):
            raise SpecError(
                "`learn_from_hand_runs` must be true or false, but got "
                f"learn_from_hand_runs={self.learn_from_hand_runs!r}."
            )
        if self.retries < 0:
            raise SpecError(f"`retries >= 0` must hold, but got retries={self.retries}.")
        if self.sampler == "grid":
            grid(space)  # raises for a continuous parameter
        apply(self.base, midpoint(space))  # the space fits the base spec

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["objectives"] = [asdict(o) for o in self.objectives]
        return {"type": "study", **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySpec:
        try:
            params = {k: v for k, v in data.items() if k != "type"}
            params["objectives"] = tuple(Objective(**o) for o in params.get("objectives", [{}]))
            return cls(**params)
        except TypeError as exc:
            raise SpecError(f"Invalid study spec: {exc}.") from None


def validate_study_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The driver job's spec: ``{"study": <id>}`` (the study itself is in the store)."""
    if set(data) - {"type", "study"} or not isinstance(data.get("study"), str):
        raise SpecError("A study job's spec is {'study': <study ID>}.")
    return {"type": "study_driver", "study": data["study"]}


def midpoint(space: SearchSpace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space.params:
        if p.kind == "categorical":
            out[p.path] = p.choices[0]
        elif p.kind == "int":
            out[p.path] = int(p.low)  # type: ignore[arg-type]
        else:
            out[p.path] = float(p.low)  # type: ignore[arg-type]
    return out


def grid(space: SearchSpace) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for p in space.params:
        if p.kind == "categorical":
            grid[p.path] = list(p.choices)
        elif p.kind == "int" and not p.log:
            grid[p.path] = list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))  # type: ignore[arg-type]
        elif p.kind == "float" and p.step:
            n = round((float(p.high) - float(p.low)) / p.step)  # type: ignore[arg-type]
            grid[p.path] = [round(float(p.low) + i * p.step, 12) for i in range(n + 1)]  # type: ignore[arg-type]
        else:
            raise SpecError(
                f"The grid sampler needs a finite grid, but {p.path} is continuous: give it a step "
                "or choices, or use another sampler."
            )
    size = math.prod(len(v) for v in grid.values())
    if size > 100_000:
        raise SpecError(f"The grid has {size:,} points; keep it under 100,000.")
    return grid
