"""Evaluating alert rules: a small thread in each app process checks the rules that have not
fired every few seconds. A rule fires by one atomic UPDATE (``fired_at`` set only where it is
still empty) in the same transaction as its run event, so it fires exactly once however many
app processes evaluate it; its notifications are sent after, by the process that fired it."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from core.alerts._notify import operator_urls
from core.alerts._notify import rule_urls_allowed
from core.alerts._notify import send
from core.errors import AppError
from core.periodic import Periodic
from core.store import SYSTEM
from core.store import AlertRule
from core.store import Metric
from core.store import MetricBlock
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import Study
from core.store import thaw
from core.store import utcnow

__all__ = ["AlertEvaluator", "evaluate_alerts", "study_best"]

_log = logging.getLogger(__name__)

_FAILED = ("failed", "interrupted")
_FINISHED = ("succeeded", "stopped")


def study_best(store: Store, study_id: str) -> tuple[float, int, str | None] | None:
    """A single-objective study's best value, its trial number and that trial's run (None when
    no trial has completed, or the study has two objectives)."""
    from core.tuning import load_optuna_study

    try:
        study = load_optuna_study(store.config, study_id)
        if len(study.directions) != 1:
            return None
        best = study.best_trial
    except (AppError, KeyError, ValueError, RuntimeError):  # no study yet, or no finished trial
        return None
    if best.value is None:
        return None
    if isinstance(run_id := best.user_attrs.get("loom_run"), str):  # set by the trial job
        return float(best.value), best.number, run_id
    with store.session(SYSTEM) as s:
        for run_id, spec in s.execute(select(Run.id, Run.spec_json).where(Run.study_id == study_id)):
            trial = thaw(spec).get("trial") if isinstance(spec, dict) else None
            if isinstance(trial, dict) and trial.get("number") == best.number:
                return float(best.value), best.number, run_id
    return float(best.value), best.number, None


def _maximize(store: Store, study_id: str) -> bool:
    from core.tuning import load_optuna_study

    return load_optuna_study(store.config, study_id).direction.name == "MAXIMIZE"


def _check_run(s: Any, rule: AlertRule, now: datetime) -> str | None:
    run = s.get(Run, rule.target_id)
    name = f"Run {run.name or run.id[:8]!r} ({run.id[:8]})"
    if rule.kind == "failed" and run.status in _FAILED:
        return f"{name} {run.status}: {run.status_reason or 'no reason given'}"
    if rule.kind == "finished" and run.status in _FINISHED:
        return f"{name} finished ({run.status})."
    if rule.kind == "threshold" and rule.threshold is not None:
        below = rule.op == "below"
        # The first block (of 100 steps) holding a crossing, from the blocks' minima and maxima:
        # a hundredth of the rows; then the first crossing point inside it.
        crossed_block = (
            MetricBlock.min_value < rule.threshold if below else MetricBlock.max_value > rule.threshold
        )
        block = s.execute(
            select(MetricBlock.first_step, MetricBlock.last_step)
            .where(MetricBlock.run_id == run.id, MetricBlock.key == rule.metric, crossed_block)
            .order_by(MetricBlock.block)
            .limit(1)
        ).first()
        crossed = Metric.value < rule.threshold if below else Metric.value > rule.threshold
        point = (
            s.execute(
                select(Metric.step, Metric.value)
                .where(
                    Metric.run_id == run.id,
                    Metric.key == rule.metric,
                    Metric.step.between(block.first_step, block.last_step),
                    crossed,
                )
                .order_by(Metric.step, Metric.id)
                .limit(1)
            ).first()
            if block is not None
            else None
        )
        if point is not None:
            at = f"{point.value:.6g} at step {point.step}"
            return f"{name}: {rule.metric} = {at}, {rule.op} {rule.threshold:g}."
    if rule.kind == "stalled" and run.status == "running" and rule.minutes:
        # The newest point by ID: read from the (run, key, step) index, which carries the row ID.
        newest = s.scalar(select(func.max(Metric.id)).where(Metric.run_id == run.id))
        last = s.scalar(select(Metric.ts).where(Metric.id == newest)) if newest else None
        since = (
            now.timestamp() - last
            if last is not None
            else (now - run.started_at).total_seconds()
            if run.started_at
            else 0.0
        )
        if since >= rule.minutes * 60:
            return f"{name} has written no new point for {since / 60:.1f} min (rule: {rule.minutes:g} min)."
    return None


def _check_study(store: Store, rule: AlertRule) -> tuple[str | None, str] | None:
    best = study_best(store, rule.target_id)
    if best is None:
        return None
    value, number, run_id = best
    if rule.baseline is not None:
        better = value > rule.baseline if _maximize(store, rule.target_id) else value < rule.baseline
        if not better:
            return None
    with store.session(SYSTEM) as s:
        study = s.get(Study, rule.target_id)
        name = study.name if study is not None else rule.target_id[:8]
    was = "none" if rule.baseline is None else f"{rule.baseline:.6g}"
    return run_id, f"Study {name!r}: best value improved to {value:.6g} (trial {number}; was {was})."


def _fire(store: Store, rule_id: str, run_id: str | None, message: str) -> bool:
    """Mark the rule fired and record the event on the run, in one transaction; False when
    another process fired it first."""
    with store.session(SYSTEM) as s:
        done = s.execute(
            update(AlertRule)
            .where(AlertRule.id == rule_id, AlertRule.fired_at.is_(None))
            .values(fired_at=utcnow(), fired_run_id=run_id, message=message)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if run_id is not None:
            s.add(RunEvent(run_id=run_id, kind="alert", message=message[:2000]))
    return True


def evaluate_alerts(store: Store, now: datetime | None = None) -> list[str]:
    """Check every rule that has not fired; fire those whose condition holds (an event on the
    run, and a notification to the operator's URLs and the rule's own). Rules on a run or study
    that no longer exists are removed.

    Returns:
        The IDs of the rules this call fired.
    """
    now = now or utcnow()
    with store.session(SYSTEM) as s:
        rules = list(s.scalars(select(AlertRule).where(AlertRule.fired_at.is_(None))))
    checks: list[tuple[AlertRule, tuple[str | None, str] | None]] = []
    with store.session(SYSTEM) as s:  # every run rule in one session
        for rule in rules:
            target = Run if rule.target_kind == "run" else Study
            if s.get(target, rule.target_id) is None:  # deleted: its rules go too
                s.execute(delete(AlertRule).where(AlertRule.id == rule.id))
            elif rule.target_kind == "run":
                message = _check_run(s, rule, now)
                checks.append((rule, None if message is None else (rule.target_id, message)))
            else:
                checks.append((rule, None))
    fired = []
    for rule, found in checks:
        if rule.target_kind == "study":
            found = _check_study(store, rule)
        if found is None or not _fire(store, rule.id, *found):
            continue
        fired.append(rule.id)
        message = found[1]
        own = [rule.url] if rule.url and rule_urls_allowed(store.config.auth) else []
        urls = [*operator_urls(), *own]
        error = send(urls, f"Loom alert: {message[:120]}", message)
        if error:
            with store.session(SYSTEM) as s:
                s.execute(update(AlertRule).where(AlertRule.id == rule.id).values(error=error[:4000]))
    return fired


class AlertEvaluator(Periodic):
    """Calls :func:`evaluate_alerts` every ``interval`` seconds in a daemon thread.

    Args:
        store: The store.
        interval: Seconds between checks. Defaults to 5.
    """

    def __init__(self, store: Store, interval: float = 5.0) -> None:
        super().__init__(interval, "loom-alerts")
        self._store = store

    def tick(self) -> None:
        started = time.monotonic()
        for rule_id in evaluate_alerts(self._store):
            _log.info("alert %s fired", rule_id)
        _log.debug("alerts checked in %.3f s", time.monotonic() - started)
