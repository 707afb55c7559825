"""Reports: compose a report from Markdown, runs' charts, a compare table and a study's plots;
save versions; share it; export one standalone HTML file.

The view is in the URL (``?report=<id>&version=N``) and rebuilt from the store on every run;
what each block shows is decided by core for the reader (a placeholder for a run or study they
may not see). Unsaved edits live in the editor's widgets only.
"""

import streamlit as st

from core.errors import AppError
from core.errors import NotFoundError
from core.reports import export_filename
from core.reports import export_html
from core.reports import get_report
from core.reports import hidden_from
from core.reports import list_reports
from core.reports import render_report
from pages import _report_editor
from pages import _report_view
from pages import _ui

st.title("Reports")
store = _ui.store()
report_id = st.query_params.get("report")
who = _ui.viewer("report", report_id)
access = _ui.access(who)

if not report_id:
    if access.can_act:
        _report_editor.new_report_form(store, who)
    rows = list_reports(store, viewer=who)
    if not rows:
        st.info("No reports yet. Give one a title above to start it.")
    for row in rows:
        st.page_link(
            "pages/reports.py",
            label=f"{_ui.md_escape(row.title)} · v{row.latest_version} · "
            f"{_ui.md_escape(row.author or 'local')} · {row.created_at:%Y-%m-%d %H:%M}",
            query_params={"report": row.id},
        )
    _ui.end_page()

try:
    raw_version = st.query_params.get("version")
    version = int(raw_version) if raw_version else None
    record = get_report(store, report_id, version, viewer=who)
except ValueError:
    _ui.fail(AppError("The link's version is not a number. Open the report from the list."))
except NotFoundError as exc:
    if raw_version:  # a version the (visible) report does not have: core names the versions
        _ui.fail(exc)
    _ui.not_found("report", picker=None if access.shared else "pages/reports.py", label="All reports")
except AppError as exc:
    _ui.fail(exc)

access = _ui.access(who, record.author)
st.header(record.spec.title, anchor=False)
labels = {
    v: f"v{v} · {at:%Y-%m-%d %H:%M}"
    + (f" · {by}" if by else "")
    + (" · newest" if v == record.latest_version else "")
    for v, at, by in reversed(record.versions)
}
c1, c2 = st.columns([2, 1])


def _follow_version() -> None:
    st.query_params["version"] = str(st.session_state["report_version"])


# The URL is the truth: the widget follows it, and writes it back when another version is picked.
st.session_state["report_version"] = record.version
c1.selectbox("Version", list(labels), format_func=labels.get, key="report_version", on_change=_follow_version)
c2.download_button(
    "Download HTML",
    data=lambda: export_html(store, record, viewer=who),
    file_name=export_filename(record),
    mime="text/html",
    on_click="ignore",
    key="report_export",
)

if access.can_act:
    _report_editor.editor(store, record, who)

_report_view.show_blocks(render_report(store, record, viewer=who), "report")

if not access.shared:
    _ui.project_box("report", record.id, record.project_id, record.author, who)
if access.can_share:
    # Warn before sharing: what the team, or a link's holders, would see as a placeholder.
    for audience, team in ((f"team {record.team}", record.team), ("a share link", None)):
        if team == "":
            continue
        hidden = hidden_from(store, record, team=team, viewer=who)
        if hidden:
            st.warning(
                f"Shared with {_ui.md_escape(audience)}, {len(hidden)} item(s) of this report stay hidden "
                "(readers see “not shared with you”):\n\n"
                + "\n".join(f"- {_ui.md_escape(line)}" for line in hidden),
                icon=":material/visibility_off:",
            )
    _report_editor.team_box(store, record, who)
    _ui.share_box("report", record.id, {}, who)
    _report_editor.delete_box(store, record, who)
