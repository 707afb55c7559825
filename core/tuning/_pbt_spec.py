"""The population-based-training spec, and the pure steps of one PBT round: rank the members,
pair each bottom-quantile member with a top-quantile one (exploit), change its settings
(explore: x0.8 / x1.2, or a fresh draw from the search space), leaving frozen settings as
they are. No store, no cluster: the driver (``_pbt_driver``) runs these on what it reads."""

from __future__ import annotations

import math
import random
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError
from core.specs import spec_hash
from core.tuning._param import Param
from core.tuning._paths import apply
from core.tuning._space import SearchSpace
from core.tuning._studyspec import METRICS
from core.tuning._studyspec import midpoint

__all__ = [
    "EXPLORES",
    "PBTSpec",
    "branch_changes",
    "explore",
    "exploit_pairs",
    "initial_values",
    "validate_pbt_spec",
]

EXPLORES = ("perturb", "resample")
# A member continues from a checkpoint, so PBT may change only what a branch may change.
_BRANCHABLE = ("batch_size", "early_stopping")
_FACTORS = (0.8, 1.2)


@dataclass(frozen=True)
class PBTSpec:
    """A population-based-training study (Jaderberg et al., 2017) over a base training spec.

    Args:
        base: The training spec (dict) every member starts from.
        space: A :class:`SearchSpace` dict over settings a branch may change (``optimizer.*``,
            ``batch_size``, ``early_stopping``).
        members: Population size, >= 2. Defaults to 8.
        interval: Epochs between exploit steps, 1 <= interval <= epochs. Defaults to 2.
        epochs: Total epochs of every member, >= 1. Defaults to 10.
        quantile: The bottom fraction that copies the top fraction, 0 < quantile <= 0.5.
            Defaults to 0.25.
        explore: "perturb" (each value x0.8 or x1.2, kept in its range) or "resample" (a fresh
            draw from the space). Defaults to "perturb".
        resample_probability: With "perturb", the chance that a setting is drawn afresh from
            the space instead (Ray Tune's ``resample_probability``), 0 <= p <= 1. Defaults to 0.25.
        metric: The per-epoch metric members are ranked by (its natural direction). Defaults to
            "val_loss".
        seed: Seeds the first draws and every explore step, or None. Defaults to None.
        retries: How often a segment whose worker died is resumed from its last checkpoint.
            Defaults to 2.
        gpu: Each member's segment takes one GPU. Defaults to False.

    Raises:
        SpecError: A rule that does not hold, named with the values received.
    """

    base: dict[str, Any]
    space: dict[str, Any]
    members: int = 8
    interval: int = 2
    epochs: int = 10
    quantile: float = 0.25
    explore: str = "perturb"
    resample_probability: float = 0.25
    metric: str = "val_loss"
    seed: int | None = None
    retries: int = 2
    gpu: bool = False

    def __post_init__(self) -> None:
        from core.training import TrainSpec

        if not isinstance(self.base, dict) or not isinstance(self.space, dict):
            raise SpecError(
                "A population needs `base` (a training spec) and `space` (a search space) as objects."
            )
        TrainSpec.from_dict(self.base)
        for name in ("members", "interval", "epochs", "retries"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise SpecError(f"`{name}` must be a whole number, but got {name}={getattr(self, name)!r}.")
        if self.members < 2:
            raise SpecError(
                f"`members >= 2` must hold, but got members={self.members}: a population exploits "
                "its better members, so it needs at least two."
            )
        if self.epochs < 1:
            raise SpecError(f"`epochs >= 1` must hold, but got epochs={self.epochs}.")
        if not 1 <= self.interval <= self.epochs:
            raise SpecError(
                f"`1 <= interval <= epochs` must hold, but got (interval={self.interval}, "
                f"epochs={self.epochs}): members exploit every `interval` epochs of the run."
            )
        if not (isinstance(self.quantile, int | float) and 0 < self.quantile <= 0.5):
            raise SpecError(f"`0 < quantile <= 0.5` must hold, but got quantile={self.quantile!r}.")
        chance = self.resample_probability
        if isinstance(chance, bool) or not (isinstance(chance, int | float) and 0 <= chance <= 1):
            raise SpecError(
                f"`0 <= resample_probability <= 1` must hold, but got resample_probability={chance!r}."
            )
        if self.explore not in EXPLORES:
            raise SpecError(f"Unknown explore {self.explore!r}. Valid explores are: {', '.join(EXPLORES)}.")
        if self.metric not in METRICS or self.metric in ("params", "train_seconds"):
            per_epoch = [m for m in METRICS if m not in ("params", "train_seconds")]
            raise SpecError(
                f"PBT ranks by a per-epoch metric; valid metrics are {', '.join(per_epoch)}, but got "
                f"metric={self.metric!r}."
            )
        if self.seed is not None and not isinstance(self.seed, int):
            raise SpecError(f"`seed` must be a whole number or null, but got seed={self.seed!r}.")
        if self.retries < 0:
            raise SpecError(f"`retries >= 0` must hold, but got retries={self.retries}.")
        space = SearchSpace.from_dict(self.space)
        if not space.params:
            raise SpecError("A population needs at least one setting to explore: tick one in the space.")
        for p in space.params:
            if not (p.path in _BRANCHABLE or p.path.startswith("optimizer.")):
                raise SpecError(
                    f"PBT cannot explore {p.path}: members continue from checkpoints, so only "
                    f"optimizer settings, batch_size and early_stopping may change, but got path={p.path!r}."
                )
        apply(self.base, midpoint(space))  # the space fits the base spec

    @property
    def direction(self) -> str:
        return METRICS[self.metric]

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "pbt", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PBTSpec:
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid population spec: {exc}.") from None

    def hash(self) -> str:
        return spec_hash(self.to_dict())


def validate_pbt_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The PBT driver job's spec: ``{"study": <id>}`` (the population's spec is the study's)."""
    if set(data) - {"type", "study"} or not isinstance(data.get("study"), str):
        raise SpecError("A pbt job's spec is {'study': <study ID>}.")
    return {"type": "pbt_driver", "study": data["study"]}


def _draw(p: Param, rng: random.Random) -> Any:
    if p.kind == "categorical":
        return rng.choice(list(p.choices))
    low, high = float(p.low), float(p.high)  # type: ignore[arg-type]
    if p.log:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if p.step:
        value = low + round((value - low) / p.step) * p.step
    return int(round(value)) if p.kind == "int" else float(value)


def initial_values(space: SearchSpace, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` members' first settings, each drawn at random from ``space``."""
    return [{p.path: _draw(p, rng) for p in space.params} for _ in range(n)]


def explore(
    values: dict[str, Any],
    space: SearchSpace,
    how: str,
    rng: random.Random,
    frozen: frozenset[str] = frozenset(),
    resample_probability: float = 0.0,
) -> dict[str, Any]:
    """New settings from a winner's ``values``: each not ``frozen`` is perturbed (x0.8 or x1.2
    for numbers, kept within its range; a neighbouring choice for categories) or redrawn; with
    "perturb", each is redrawn instead with ``resample_probability`` (as Ray Tune's PBT does)."""
    out = dict(values)
    for p in space.params:
        if p.path in frozen:
            continue
        # The draw only when it can matter, so a probability of 0 explores as before.
        redraw = resample_probability > 0 and rng.random() < resample_probability
        if how == "resample" or p.path not in values or redraw:
            out[p.path] = _draw(p, rng)
        elif p.kind == "categorical":
            choices = list(p.choices)
            at = choices.index(values[p.path]) if values[p.path] in choices else 0
            out[p.path] = choices[max(0, min(len(choices) - 1, at + rng.choice((-1, 1))))]
        else:
            value = float(values[p.path]) * rng.choice(_FACTORS)
            value = min(max(value, float(p.low)), float(p.high))  # type: ignore[arg-type]
            out[p.path] = max(int(p.low), int(round(value))) if p.kind == "int" else value  # type: ignore[arg-type]
    return out


def exploit_pairs(
    scores: dict[int, float], quantile: float, direction: str, rng: random.Random
) -> list[tuple[int, int]]:
    """(loser, winner) member pairs: each member in the bottom ``quantile`` by score copies one
    drawn from the top ``quantile``. A member without a finite score ranks last."""
    if len(scores) < 2:
        return []
    sign = 1.0 if direction == "minimize" else -1.0
    ranked = sorted(scores, key=lambda m: (sign * scores[m] if math.isfinite(scores[m]) else math.inf, m))
    cut = max(1, int(round(len(ranked) * quantile)))
    cut = min(cut, len(ranked) // 2)
    top, bottom = ranked[:cut], ranked[-cut:]
    return [(loser, rng.choice(top)) for loser in bottom]


def branch_changes(values: dict[str, Any]) -> dict[str, Any]:
    """Search-space values as changes to a branch (:func:`core.training.branch_spec`)."""
    changes: dict[str, Any] = {}
    optimizer: dict[str, Any] = {}
    for path, value in values.items():
        if path.startswith("optimizer."):
            optimizer[path.split(".", 1)[1]] = value
        else:
            changes[path] = value
    if optimizer:
        changes["optimizer"] = optimizer
    return changes
