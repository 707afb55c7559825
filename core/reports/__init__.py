"""Reports: pages people compose from Markdown, runs' charts, compare tables and study plots;
saved in the store as versions, owned and shared like runs, exported as one HTML file.

Modules by concern: ``_spec`` (the report spec and its blocks) · ``_store`` (versions, owners,
teams, what a share link opens) · ``_choices`` (what a block may name) · ``_render`` (blocks
resolved for a reader, with placeholders; a draft's preview) · ``_export`` (the standalone HTML file).
"""

from core.reports._choices import metric_keys
from core.reports._choices import run_choices
from core.reports._choices import study_choices
from core.reports._export import export_filename
from core.reports._export import export_html
from core.reports._export import rendered_html
from core.reports._render import RenderedBlock
from core.reports._render import RenderedDraft
from core.reports._render import hidden_from
from core.reports._render import render_draft
from core.reports._render import render_markdown
from core.reports._render import render_report
from core.reports._render import render_spec
from core.reports._render import unavailable
from core.reports._spec import BLOCK_TYPES
from core.reports._spec import STUDY_CHARTS
from core.reports._spec import Block
from core.reports._spec import CompareBlock
from core.reports._spec import MarkdownBlock
from core.reports._spec import ReportSpec
from core.reports._spec import RunChartBlock
from core.reports._spec import StudyBlock
from core.reports._spec import block_from_dict
from core.reports._store import ReportRecord
from core.reports._store import ReportRow
from core.reports._store import delete_report
from core.reports._store import get_report
from core.reports._store import list_reports
from core.reports._store import reader_of
from core.reports._store import save_report
from core.reports._store import set_report_team

__all__ = [
    "BLOCK_TYPES",
    "STUDY_CHARTS",
    "Block",
    "CompareBlock",
    "MarkdownBlock",
    "RenderedBlock",
    "RenderedDraft",
    "ReportRecord",
    "ReportRow",
    "ReportSpec",
    "RunChartBlock",
    "StudyBlock",
    "block_from_dict",
    "delete_report",
    "export_filename",
    "export_html",
    "get_report",
    "hidden_from",
    "list_reports",
    "metric_keys",
    "reader_of",
    "render_draft",
    "render_markdown",
    "render_report",
    "render_spec",
    "rendered_html",
    "run_choices",
    "save_report",
    "set_report_team",
    "study_choices",
    "unavailable",
]
