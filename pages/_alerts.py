"""Alerts on pages: the rules on a run (run page) or a study (Tune page), whether each fired and
why its notifications failed, and a form for the owner to add one."""

from __future__ import annotations

import streamlit as st

from core.alerts import ALERT_KINDS
from core.alerts import ALERT_URLS_ENV
from core.alerts import AlertSpec
from core.alerts import add_alert
from core.alerts import delete_alert
from core.alerts import list_alerts
from core.alerts import operator_urls
from core.errors import AppError
from core.store import Store
from core.store import Viewer
from pages import _ui


def _where_sent() -> str:
    n = len(operator_urls())
    if n:
        return (
            "Fired alerts are recorded in the run's events and sent to the operator's "
            f"{n} notification URL(s)."
        )
    return (
        f"No notification URLs are configured ({ALERT_URLS_ENV}): fired alerts show here and in the "
        "run's events only, unless a rule has its own URL."
    )


def _rules(store: Store, who: Viewer, target_kind: str, target_id: str, editable: bool) -> None:
    try:
        rules = list_alerts(store, target_kind, target_id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    for rule in rules:
        line = _ui.md_escape(rule.spec.describe())
        if rule.fired_at is not None:
            st.warning(
                f"**Alert fired** {rule.fired_at:%Y-%m-%d %H:%M:%S} UTC · {line}: "
                f"{_ui.md_escape(rule.message)}",
                icon=":material/notifications_active:",
            )
        else:
            st.info(f"Watching: {line}", icon=":material/notifications:")
        if rule.spec.url:
            st.caption(f"Also sent to its own URL ({_ui.md_escape(rule.spec.url.split('://')[0])}://…).")
        if rule.error:
            st.error(f"Notification problem: {_ui.md_escape(rule.error)}", icon=":material/error:")
        if editable and st.button("Remove", key=f"alert_remove_{rule.id}"):
            try:
                delete_alert(store, rule.id, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                st.rerun()


def _form(store: Store, who: Viewer, target_kind: str, target_id: str) -> None:
    kinds = [k for k, (target, _) in ALERT_KINDS.items() if target == target_kind]
    with st.form(f"alert_form_{target_kind}", clear_on_submit=True):
        c1, c2 = st.columns([1, 2])
        kind = c1.selectbox(
            "When", kinds, format_func=lambda k: ALERT_KINDS[k][1], key=f"alert_kind_{target_kind}"
        )
        url = c2.text_input(
            "Notification URL (optional, Apprise)",
            max_chars=2000,
            placeholder="json://host:port/path, mailto://…, slack://…",
            key=f"alert_url_{target_kind}",
        )
        if target_kind == "run":
            c1, c2, c3, c4 = st.columns(4)
            metric = c1.text_input(
                "Metric (threshold)", value="epoch/val_loss", max_chars=100, key="alert_metric"
            )
            op = c2.selectbox("is", ["below", "above"], key="alert_op")
            threshold = c3.number_input("value", value=0.0, format="%.6g", key="alert_threshold")
            minutes = c4.number_input("No new point for (min)", 0.1, 10080.0, 10.0, key="alert_minutes")
        if st.form_submit_button("Add alert"):
            try:
                if target_kind == "run":
                    spec = AlertSpec(
                        kind,
                        metric=metric if kind == "threshold" else "",
                        op=op,
                        threshold=float(threshold) if kind == "threshold" else None,
                        minutes=float(minutes) if kind == "stalled" else None,
                        url=url,
                    )
                else:
                    spec = AlertSpec(kind, url=url)
                rule = add_alert(store, target_kind, target_id, spec, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                if rule.error:  # saved all the same: it fires in the app
                    st.session_state["alert_saved_error"] = rule.error
                st.rerun()
    if problem := st.session_state.pop("alert_saved_error", None):
        st.error(f"The alert was saved, but its URL cannot be used: {_ui.md_escape(problem)}")


def section(store: Store, who: Viewer, target_kind: str, target_id: str, *, editable: bool) -> None:
    """The alerts on a run or a study; the form when ``editable`` (its owner)."""
    st.subheader("Alerts")
    st.caption(_where_sent())
    _rules(store, who, target_kind, target_id, editable)
    if editable:
        _form(store, who, target_kind, target_id)
