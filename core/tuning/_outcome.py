"""How a finished trial's run becomes Optuna's answer: its objective values from the run's metric
summary, or why it has none; and the trial's state (complete, pruned, failed). Shared by the driver
and by hand runs joining a study."""

from __future__ import annotations

from typing import Any

from core.tuning._studyspec import StudySpec

__all__ = ["_objective_values", "_outcome"]

_Summary = dict[str, tuple[float, float]]  # a run's metric summary: key -> (min, max)


def _objective_values(run: Any, summary: _Summary, spec: StudySpec) -> list[float] | str:
    """The trial's objective values from its run's metric summary (written before the run's
    final status), or why there are none."""
    values = []
    for obj in spec.objectives:
        if obj.metric == "params":
            value = run.result.params or None
        elif obj.metric == "train_seconds":
            value = (
                (run.ended_at - run.started_at).total_seconds() if run.started_at and run.ended_at else None
            )
        else:
            low_high = summary.get(f"epoch/{obj.metric}")
            value = None if low_high is None else low_high[0] if obj.direction == "minimize" else low_high[1]
        if value is None:
            return f"the run produced no {obj.metric} (a validation split is needed for val_ metrics)"
        values.append(float(value))
    return values


def _outcome(run: Any, summary: _Summary, spec: StudySpec):  # type: ignore[no-untyped-def]
    from optuna.trial import TrialState

    if run.status == "succeeded":
        values = _objective_values(run, summary, spec)
        if isinstance(values, str):
            return TrialState.FAIL, None, values
        return TrialState.COMPLETE, values, "complete"
    if run.status == "stopped" and run.status_reason.startswith("pruned"):
        return TrialState.PRUNED, None, run.status_reason
    if run.status == "stopped":
        return TrialState.FAIL, None, f"stopped by a person ({run.status_reason})"
    return TrialState.FAIL, None, f"{run.status}: {run.status_reason}"
