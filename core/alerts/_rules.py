"""Alert rules on a run or a study: what fires them, who may add them, and reading them back."""

from __future__ import annotations

import math
from dataclasses import asdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select

from core.alerts._notify import ALERT_URLS_ENV
from core.alerts._notify import RULE_URLS_ENV
from core.alerts._notify import check_url
from core.alerts._notify import rule_urls_allowed
from core.errors import NotFoundError
from core.errors import SpecError
from core.store import AlertRule
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import fetch_owned
from core.store import fetch_visible

__all__ = ["ALERT_KINDS", "AlertRecord", "AlertSpec", "add_alert", "delete_alert", "list_alerts"]

# kind -> (what it watches, what it means)
ALERT_KINDS = {
    "failed": ("run", "the run failed or was interrupted"),
    "finished": ("run", "the run succeeded or was stopped"),
    "threshold": ("run", "a metric went above or below a value"),
    "stalled": ("run", "a running run wrote no new point for some minutes"),
    "best": ("study", "the study's best value improved"),
}
OPS = ("above", "below")


@dataclass(frozen=True)
class AlertSpec:
    """One rule, validated on construction.

    Args:
        kind: One of :data:`ALERT_KINDS`.
        metric: The metric a ``threshold`` rule watches, e.g. ``epoch/val_accuracy``.
        op: ``above`` or ``below`` (``threshold``). Defaults to ``above``.
        threshold: The value a ``threshold`` rule compares with. Defaults to None.
        minutes: A ``stalled`` rule's minutes without a new point, > 0. Defaults to None.
        url: An Apprise URL for this rule alone, beside the operator's (with accounts on, only
            where the operator allows it). Defaults to "".
    """

    kind: str
    metric: str = ""
    op: str = "above"
    threshold: float | None = None
    minutes: float | None = None
    url: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise SpecError(f"Unknown alert {self.kind!r}. Valid alerts are: {', '.join(ALERT_KINDS)}.")
        if self.kind == "threshold":
            if not self.metric.strip() or len(self.metric) > 100:
                raise SpecError(
                    "A threshold alert needs a metric name (1-100 characters), e.g. 'epoch/val_loss'."
                )
            if self.op not in OPS:
                raise SpecError(f"op must be one of {OPS}, but got op={self.op!r}.")
            if self.threshold is None or not math.isfinite(self.threshold):
                raise SpecError(
                    f"A threshold alert needs a finite value, but got threshold={self.threshold}."
                )
        if self.kind == "stalled" and (
            self.minutes is None or not math.isfinite(self.minutes) or not 0 < self.minutes <= 10_080
        ):
            raise SpecError(
                f"`0 < minutes <= 10080` must hold for a stalled alert, but got minutes={self.minutes}."
            )
        if len(self.url) > 2000:
            raise SpecError("The alert URL is over 2,000 characters: shorten it.")

    @property
    def target_kind(self) -> str:
        return ALERT_KINDS[self.kind][0]

    def describe(self) -> str:
        """The rule in words, e.g. ``epoch/val_loss below 0.3``."""
        if self.kind == "threshold":
            return f"{self.metric} {self.op} {self.threshold:g}"
        if self.kind == "stalled":
            return f"no new point for {self.minutes:g} min"
        return ALERT_KINDS[self.kind][1]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "alert", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertSpec:
        return cls(**{k: v for k, v in data.items() if k != "type"})


@dataclass(frozen=True)
class AlertRecord:
    """A stored rule: its spec, when it fired (None: not yet), the message, and why its
    notifications could not be sent ("" when fine)."""

    id: str
    target_kind: str
    target_id: str
    spec: AlertSpec
    author: str
    created_at: datetime
    fired_at: datetime | None
    fired_run_id: str | None
    message: str
    error: str

    @classmethod
    def from_row(cls, row: AlertRule) -> AlertRecord:
        spec = AlertSpec(row.kind, row.metric, row.op or "above", row.threshold, row.minutes, row.url)
        return cls(
            row.id,
            row.target_kind,
            row.target_id,
            spec,
            row.author,
            row.created_at,
            row.fired_at,
            row.fired_run_id,
            row.message,
            row.error,
        )


def _target_model(target_kind: str) -> Any:
    if target_kind not in ("run", "study"):
        raise SpecError(f"Alerts are set on a 'run' or a 'study', but got {target_kind!r}.")
    return Run if target_kind == "run" else Study


def _best_so_far(store: Store, study_id: str) -> float | None:
    from core.alerts._evaluate import study_best

    best = study_best(store, study_id)
    return best[0] if best else None


def add_alert(
    store: Store, target_kind: str, target_id: str, spec: AlertSpec, *, viewer: Viewer
) -> AlertRecord:
    """Save a rule on a run or a study ``viewer`` owns. A malformed notification URL does not
    refuse the rule: it is saved with the error (shown beside it) and fires in the app only.

    Args:
        store: The store.
        target_kind: ``run`` or ``study``.
        target_id: The run's or study's ID.
        spec: The rule.
        viewer: Who adds it: the run's or study's owner.

    Returns:
        The stored rule; ``error`` says what is wrong with its URL, if anything.

    Raises:
        SpecError: A run rule on a study or the reverse.
        NotFoundError: No such run or study, or not visible to ``viewer``.
        PermissionDeniedError: A teammate's run or study.
    """
    model = _target_model(target_kind)
    if spec.target_kind != target_kind:
        raise SpecError(
            f"A {spec.kind!r} alert watches a {spec.target_kind}, not a {target_kind}: "
            f"set it on the {spec.target_kind}'s page."
        )
    error = ""
    if spec.url.strip():
        error = (
            check_url(spec.url)
            if rule_urls_allowed(store.config.auth)
            else (
                f"With accounts on, a rule's own URL is off ({RULE_URLS_ENV}): the server would post "
                "wherever any user points it. Ask the operator to add the URL to "
                f"{ALERT_URLS_ENV}, or to set {RULE_URLS_ENV}=on. The rule fires in the app."
            )
        )
    with store.session(viewer) as s:
        fetch_owned(s, model, target_id, viewer, "add an alert to")
    baseline = _best_so_far(store, target_id) if spec.kind == "best" else None
    with store.session(viewer) as s:
        row = AlertRule(
            target_kind=target_kind,
            target_id=target_id,
            kind=spec.kind,
            metric=spec.metric.strip(),
            op=spec.op if spec.kind == "threshold" else "",
            threshold=spec.threshold,
            minutes=spec.minutes,
            baseline=baseline,
            url=spec.url.strip(),
            author=viewer.name,
            message="",
            error=error,
        )
        s.add(row)
        s.flush()
        return AlertRecord.from_row(row)


def list_alerts(store: Store, target_kind: str, target_id: str, *, viewer: Viewer) -> list[AlertRecord]:
    """The rules on a run or study ``viewer`` may see, oldest first.

    Raises:
        NotFoundError: No such run or study, or not visible to ``viewer``.
    """
    model = _target_model(target_kind)
    with store.session(viewer) as s:
        fetch_visible(s, model, target_id, viewer)
        rows = s.scalars(
            select(AlertRule)
            .where(AlertRule.target_kind == target_kind, AlertRule.target_id == target_id)
            .order_by(AlertRule.created_at, AlertRule.id)
        )
        return [AlertRecord.from_row(r) for r in rows]


def delete_alert(store: Store, alert_id: str, *, viewer: Viewer) -> None:
    """Remove a rule from a run or study ``viewer`` owns.

    Raises:
        NotFoundError: No such rule, or its run or study is not visible to ``viewer``.
        PermissionDeniedError: A teammate's run or study.
    """
    with store.session(viewer) as s:
        row = s.get(AlertRule, alert_id)
        if row is None:
            raise NotFoundError(f"There is no alert {str(alert_id)[:64]!r}. It may have been removed.")
        fetch_owned(s, _target_model(row.target_kind), row.target_id, viewer, "remove an alert from")
        s.execute(delete(AlertRule).where(AlertRule.id == alert_id))
