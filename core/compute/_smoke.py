"""The smoke job: a tiny job that streams a falling "loss" into the store.

It exercises the whole path (submit → worker → heartbeat → metrics → live page → stop) without
TensorFlow, so it stays the quickest check that a Loom installation works.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypedDict

from core.errors import SpecError

if TYPE_CHECKING:
    from core.compute._context import JobContext

__all__ = ["SmokeSpec", "run_smoke", "validate_smoke_spec"]


class SmokeSpecDict(TypedDict):
    type: str
    steps: int
    interval_s: float
    fail_at_step: int | None
    seed: int


@dataclass(frozen=True)
class SmokeSpec:
    """Settings of the smoke job.

    Args:
        steps: Points to emit. Defaults to 60.
        interval_s: Seconds between points. Defaults to 0.25.
        fail_at_step: Raise an error at this step, to try the failure path. Defaults to None.
        seed: Seed of the noise. Defaults to 0.
    """

    steps: int = 60
    interval_s: float = 0.25
    fail_at_step: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise SpecError(f"`1 <= steps <= 100000` must hold, but got steps={self.steps}.")
        if not (math.isfinite(self.interval_s) and 0 <= self.interval_s <= 60):
            raise SpecError(f"`0 <= interval_s <= 60` must hold, but got interval_s={self.interval_s}.")
        if self.fail_at_step is not None and not 0 <= self.fail_at_step < self.steps:
            raise SpecError(
                "`0 <= fail_at_step < steps` must hold, but got "
                f"(fail_at_step={self.fail_at_step}, steps={self.steps})."
            )

    def to_dict(self) -> SmokeSpecDict:
        return {"type": "smoke", **asdict(self)}  # type: ignore[typeddict-item]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SmokeSpec:
        if data.get("type", "smoke") != "smoke":
            raise SpecError(f"Expected a spec with type 'smoke', got type={data.get('type')!r}.")
        fields = {k: v for k, v in data.items() if k != "type"}
        unknown = set(fields) - {"steps", "interval_s", "fail_at_step", "seed"}
        if unknown:
            raise SpecError(
                f"Unknown smoke spec field(s) {sorted(unknown)}. "
                "Valid fields are: steps, interval_s, fail_at_step, seed."
            )
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SpecError(f"Invalid smoke spec {data!r}: {exc}.") from exc


def validate_smoke_spec(data: dict[str, Any]) -> dict[str, Any]:
    return dict(SmokeSpec.from_dict(data).to_dict())


def run_smoke(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    spec = SmokeSpec.from_dict(data)
    rng = random.Random(spec.seed)
    loss = 2.0
    value = loss
    for step in range(spec.steps):
        ctx.check_stop()
        if spec.fail_at_step == step:
            raise RuntimeError(f"the smoke job failed on purpose at step {step} (fail_at_step)")
        loss *= 0.96
        value = loss * (1 + rng.gauss(0, 0.05))
        ctx.log_metric("loss", step, value)
        ctx.set_progress((step + 1) / spec.steps)
        if spec.interval_s:
            ctx.sleep(spec.interval_s)
    return {"final_loss": value, "steps": spec.steps}
