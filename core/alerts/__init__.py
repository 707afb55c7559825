"""Alerts: rules on a run or a study (failed, finished, a metric crossing a value, no progress
for N minutes, a study's best value improving) that fire once, recorded as an event on the run
and sent through Apprise notification URLs.

Modules by concern: ``_rules`` (the rule spec; adding, listing, removing) · ``_evaluate`` (the
checks and the evaluator thread) · ``_notify`` (Apprise URLs: checking, the operator's, sending).
"""

from core.alerts._evaluate import AlertEvaluator
from core.alerts._evaluate import evaluate_alerts
from core.alerts._evaluate import study_best
from core.alerts._notify import ALERT_URLS_ENV
from core.alerts._notify import RULE_URLS_ENV
from core.alerts._notify import check_url
from core.alerts._notify import operator_urls
from core.alerts._notify import rule_urls_allowed
from core.alerts._rules import ALERT_KINDS
from core.alerts._rules import AlertRecord
from core.alerts._rules import AlertSpec
from core.alerts._rules import add_alert
from core.alerts._rules import delete_alert
from core.alerts._rules import list_alerts

__all__ = [
    "ALERT_KINDS",
    "ALERT_URLS_ENV",
    "RULE_URLS_ENV",
    "AlertEvaluator",
    "AlertRecord",
    "AlertSpec",
    "add_alert",
    "check_url",
    "delete_alert",
    "evaluate_alerts",
    "list_alerts",
    "operator_urls",
    "rule_urls_allowed",
    "study_best",
]
