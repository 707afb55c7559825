"""``tune``: an Optuna study started on the cluster, a line printed whenever a trial finishes."""

from __future__ import annotations

import json
import time
from typing import Any

from core.cli._common import cluster_client
from core.cli._common import out
from core.cli._training import read_config
from core.errors import SpecError


def _study_from_config(store, data: Any, viewer) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    from core.tuning import StudySpec

    if not isinstance(data, dict):
        raise SpecError(
            'A study config is a JSON object (a study spec plus an optional "name"), '
            f"but got a JSON {type(data).__name__}."
        )
    if data.get("type", "study") != "study":
        raise SpecError(f'A study config has "type": "study" (or none), but got type={data["type"]!r}.')
    data, name = read_config(store, data, viewer)
    return StudySpec.from_dict(data), name


def _pareto_size(values: list[list[float]], directions: list[str]) -> int:
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    points = [[s * v for s, v in zip(signs, vals, strict=True)] for vals in values]

    def dominated(p: list[float]) -> bool:
        return any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for q in points)

    return sum(1 for p in points if not dominated(p))


def _study_progress(trials: list[Any], spec: Any) -> str:
    from optuna.trial import TrialState

    finished = [t for t in trials if t.state.is_finished()]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    # A trial whose worker died is failed and retried as a new trial that takes its place.
    retries = sum(1 for t in trials if "retry_of" in t.user_attrs)
    counts = {
        state: sum(1 for t in finished if t.state == state)
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    line = (
        f"trials {max(0, len(finished) - retries)}/{spec.n_trials} finished "
        f"({counts[TrialState.COMPLETE]} complete, {counts[TrialState.PRUNED]} pruned, "
        f"{counts[TrialState.FAIL]} failed), {running} running"
    )
    if complete and len(spec.objectives) == 1:
        objective = spec.objectives[0]
        pick = min if objective.direction == "minimize" else max
        best = pick(complete, key=lambda t: t.values[0])
        line += f", best {objective.metric}={best.values[0]:.4g} (trial {best.number})"
    elif complete:
        size = _pareto_size([list(t.values) for t in complete], spec.directions)
        line += f", Pareto front: {size} trial(s)"
    return line


def _follow_study(store, study_id: str, run_id: str, spec: Any) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run
    from core.store import thaw
    from core.tuning import load_optuna_study

    study = load_optuna_study(store.config, study_id)
    shown = ""
    while True:
        # The driver's status first: once it has ended, the trials read next are final.
        run = get_run(store, run_id, viewer=SYSTEM)
        line = _study_progress(study.get_trials(deepcopy=False), spec)
        if line != shown:
            out(line)
            shown = line
        if run.status in TERMINAL:
            break
        time.sleep(1.0)
    out(f"{run.status}: {run.status_reason}")
    if run.result.raw:
        out(json.dumps(thaw(run.result.raw)))
    return 0 if run.status == "succeeded" else 1


def tune(store, config, args, viewer, data: Any) -> int:  # type: ignore[no-untyped-def]
    from core.tuning import start_study

    if isinstance(data, dict) and data.get("type") == "pbt":  # a population (core/cli/_pbt.py)
        from core.cli._pbt import tune_pbt

        return tune_pbt(store, config, args, viewer, data)
    study_spec, name = _study_from_config(store, data, viewer)
    client = cluster_client(config)
    study_id, run_id = start_study(
        client, store, study_spec, name or f"cli {args.config.name}", viewer=viewer, team=args.team
    )
    out(f"study {study_id} submitted (driver run {run_id})")
    return _follow_study(store, study_id, run_id, study_spec)
