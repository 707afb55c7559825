"""The Reports page's editor: a new report's form, the block editor (add, edit, move, remove,
save as a new version), who sees it, and deleting it.

The draft is widget state only (``st.session_state``, keyed by report and version): the page
shows what the store holds, and "Save version" turns the draft into the next version. Beside the
editor, a preview draws the draft through core.reports.render_draft exactly as the saved view
draws a version (pages._report_view), before anything is saved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from core.errors import AppError
from core.errors import SpecError
from core.reports import BLOCK_TYPES
from core.reports import STUDY_CHARTS
from core.reports import ReportRecord
from core.reports import ReportSpec
from core.reports import block_from_dict
from core.reports import delete_report
from core.reports import metric_keys
from core.reports import render_draft
from core.reports import run_choices
from core.reports import save_report
from core.reports import set_report_team
from core.reports import study_choices
from core.store import Store
from core.store import Viewer
from pages import _report_view
from pages import _ui

BLOCK_LABELS = {
    "markdown": "Markdown text",
    "run_chart": "Run chart",
    "compare": "Compare table",
    "study": "Study plots",
}
_EMPTY: dict[str, dict[str, Any]] = {
    "markdown": {"type": "markdown", "text": ""},
    "run_chart": {"type": "run_chart", "run_ids": [], "metric": "epoch/val_loss"},
    "compare": {"type": "compare", "run_ids": []},
    "study": {"type": "study", "study_id": "", "charts": ["History"]},
}


def new_report_form(store: Store, who: Viewer) -> None:
    """A title (and a team) for a new, empty report; opens it once saved."""
    with st.form("new_report", border=True):
        title = st.text_input("New report", max_chars=200, placeholder="Title", key="new_report_title")
        team = _ui.team_choice("new_report_team", who)
        if st.form_submit_button("Create report", type="primary"):
            try:
                report_id, version = save_report(store, ReportSpec(title), team=team, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                st.query_params.update({"report": report_id, "version": str(version)})
                st.rerun()


def _draft_key(record: ReportRecord) -> str:
    return f"report_draft_{record.id}_{record.version}"


def _draft(record: ReportRecord) -> list[dict[str, Any]]:
    key = _draft_key(record)
    if key not in st.session_state:
        st.session_state[key] = [
            {"uid": f"{record.version}-{i}", "block": b.to_dict()} for i, b in enumerate(record.spec.blocks)
        ]
        st.session_state[f"{key}_next"] = len(record.spec.blocks)
    return list(st.session_state[key])


def _move(key: str, index: int, delta: int) -> None:
    draft = st.session_state[key]
    other = index + delta
    if 0 <= other < len(draft):
        draft[index], draft[other] = draft[other], draft[index]


def _remove(key: str, index: int) -> None:
    del st.session_state[key][index]


def _add(key: str) -> None:
    kind = st.session_state[f"{key}_add_type"]
    uid = st.session_state[f"{key}_next"]
    st.session_state[f"{key}_next"] = uid + 1
    st.session_state[key].append({"uid": f"new-{uid}", "block": dict(_EMPTY[kind])})


def _widget(key: str, initial: Any) -> str:
    if key not in st.session_state:
        st.session_state[key] = initial
    return key


def _edit_block(store: Store, who: Viewer, entry: dict[str, Any], runs: dict[str, str]) -> dict[str, Any]:
    block, uid = dict(entry["block"]), entry["uid"]
    kind = block["type"]
    if kind == "markdown":
        block["text"] = st.text_area(
            "Markdown", max_chars=20_000, height=150, key=_widget(f"rb_text_{uid}", block.get("text", ""))
        )
    elif kind in ("run_chart", "compare"):
        chosen = list(block.get("run_ids", []))
        options = list(dict.fromkeys([*runs, *chosen]))
        block["run_ids"] = st.multiselect(
            "Runs",
            options,
            format_func=lambda i: runs.get(i, f"run {i[:8]} (not available)"),
            max_selections=10,
            key=_widget(f"rb_runs_{uid}", chosen),
        )
        if kind == "run_chart":
            current = block.get("metric", "epoch/val_loss")
            keys = list(dict.fromkeys([*metric_keys(store, block["run_ids"], viewer=who), current]))
            block["metric"] = st.selectbox("Metric", keys, key=_widget(f"rb_metric_{uid}", current))
    else:
        studies = _ui.distinct(study_choices(store, viewer=who))
        current = block.get("study_id", "")
        options = list(dict.fromkeys([*studies, *([current] if current else [])]))
        if not options:
            st.caption("No studies yet: start one on the Tune page.")
        else:
            block["study_id"] = st.selectbox(
                "Study",
                options,
                format_func=lambda i: studies.get(i, f"study {i[:8]} (not available)"),
                key=_widget(f"rb_study_{uid}", current or options[0]),
            )
        block["charts"] = st.multiselect(
            "Charts",
            list(STUDY_CHARTS),
            key=_widget(f"rb_charts_{uid}", list(block.get("charts", ["History"]))),
        )
    return block


def editor(store: Store, record: ReportRecord, who: Viewer) -> None:
    """The owner's editor of ``record``: saving makes the next version (from any version)."""
    key = _draft_key(record)
    draft = _draft(record)
    # The app learns when the editor opens or closes (a rerun), so that a closed editor costs no
    # preview: rendering the draft reads and draws every block a second time.
    # Open on an empty report; constant within a visit (it is part of the expander's identity),
    # so that saving the first blocks does not fold the editor.
    opened = st.session_state.setdefault(f"report_editor_opened_{record.id}", len(record.spec.blocks) == 0)
    panel = st.expander(
        "Edit this report", expanded=opened, key=f"report_editor_{record.id}", on_change="rerun"
    )
    with panel:
        st.caption(
            f"Editing starts from version {record.version}; **Save version** makes version "
            f"{record.latest_version + 1} (older versions stay as they are)."
        )
        # Editor left, preview right (stacked on a narrow screen): the page reruns on every
        # widget change, so the preview always shows the draft as it stands.
        left, right = st.columns(2, gap="large")
        with left:
            title = st.text_input("Title", max_chars=200, key=_widget(f"{key}_title", record.spec.title))
            runs = _ui.distinct(run_choices(store, viewer=who))
            for i, entry in enumerate(draft):
                with st.container(border=True, key=f"report_editor_block_{i}"):
                    c1, c2, c3, c4 = st.columns([5, 1, 1, 2])
                    c1.markdown(f"**{i + 1}. {BLOCK_LABELS[entry['block']['type']]}**")
                    c2.button(
                        "↑", key=f"rb_up_{entry['uid']}", on_click=_move, args=(key, i, -1), disabled=i == 0
                    )
                    c3.button(
                        "↓",
                        key=f"rb_down_{entry['uid']}",
                        on_click=_move,
                        args=(key, i, 1),
                        disabled=i == len(draft) - 1,
                    )
                    c4.button("Remove", key=f"rb_remove_{entry['uid']}", on_click=_remove, args=(key, i))
                    st.session_state[key][i] = {**entry, "block": _edit_block(store, who, entry, runs)}
            c1, c2 = st.columns([3, 1])
            c1.selectbox("Block", list(BLOCK_TYPES), format_func=BLOCK_LABELS.get, key=f"{key}_add_type")
            c2.button("Add block", key=f"{key}_add", on_click=_add, args=(key,))
            if st.button("Save version", type="primary", key=f"{key}_save"):
                _save(store, record, who, title, [e["block"] for e in st.session_state[key]])
        if panel.open:
            with right, st.container(key="report_preview", border=True):
                _preview(store, who, title, [e["block"] for e in st.session_state[key]])


def _preview(store: Store, who: Viewer, title: str, blocks: list[dict[str, Any]]) -> None:
    # The editor reads with their own rights, as the saved report will show it to them.
    draft = render_draft(store, title, blocks, viewer=who)
    st.caption("Preview: the draft as **Save version** will save it. Nothing is saved yet.")
    if draft.title:
        st.header(draft.title, anchor=False)
    if draft.error:
        _ui.error(draft.error)
    shown = [
        replace(b, error=f"Block {n} ({BLOCK_LABELS.get(b.kind, 'unknown type')}): {b.error}")
        if b.error
        else b
        for n, b in enumerate(draft.blocks, start=1)
    ]
    _report_view.show_blocks(shown, "report_preview")


def _save(store: Store, record: ReportRecord, who: Viewer, title: str, blocks: list[dict[str, Any]]) -> None:
    try:
        parsed = []
        for n, data in enumerate(blocks, start=1):
            try:
                parsed.append(block_from_dict(data))
            except SpecError as exc:
                raise SpecError(f"Block {n} ({BLOCK_LABELS[data['type']]}): {exc}") from exc
        spec = ReportSpec(title, tuple(parsed))
        _, version = save_report(store, spec, report_id=record.id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    # The draft is now that version: going back to this one starts again from what it holds.
    key = _draft_key(record)
    st.session_state.pop(key, None)
    st.session_state.pop(f"{key}_next", None)
    st.query_params["version"] = str(version)
    st.toast(f"Saved version {version}.")
    st.rerun()


def team_box(store: Store, record: ReportRecord, who: Viewer) -> None:
    """Who sees the report: only its owner, or one of the owner's teams (accounts on)."""
    if not who.signed_in or not who.teams:
        return
    c1, c2 = st.columns([3, 1])
    with c1:
        chosen = _ui.team_choice(f"report_team_{record.id}", who, record.team)
    if chosen != record.team and c2.button("Apply", key=f"report_team_apply_{record.id}"):
        try:
            set_report_team(store, record.id, chosen, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.rerun()


def delete_box(store: Store, record: ReportRecord, who: Viewer) -> None:
    """Delete the report to the trash (restorable on the Projects page; the runs it shows stay)."""
    with st.expander("Delete this report"):
        sure = st.checkbox(
            "Put this report, every version, in the trash (restorable on the Projects page)",
            key=f"report_delete_sure_{record.id}",
        )
        if st.button("Delete report", disabled=not sure, key=f"report_delete_{record.id}"):
            try:
                delete_report(store, record.id, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                st.query_params.clear()
                st.rerun()
