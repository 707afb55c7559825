"""A report as one standalone HTML file: interactive Plotly charts with plotly.js inlined once
(no CDN: the file works offline), Markdown already rendered safely, every user string escaped,
and the same placeholders the page shows."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from core.reports._render import RenderedBlock
from core.reports._render import render_report
from core.reports._store import ReportRecord
from core.store import Store
from core.store import Viewer

__all__ = ["export_filename", "export_html", "rendered_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; }
header { border-bottom: 1px solid #d0d7de; margin-bottom: 1.5rem; }
header p { color: #59636e; }
section.block { margin: 1.5rem 0; }
p.placeholder { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .75rem; }
p.note { color: #59636e; font-style: italic; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; }
pre, code { background: #f6f8fa; }
"""


def _table(rows: tuple[Mapping[str, Any], ...]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if row.get(c) is None else str(row.get(c)))}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def rendered_html(title: str, subtitle: str, blocks: list[RenderedBlock]) -> str:
    """The standalone page for already rendered blocks.

    Args:
        title: The report's title (escaped here).
        subtitle: A line under it (escaped here).
        blocks: What :func:`core.reports.render_report` returned.

    Returns:
        A complete HTML document; plotly.js is inlined with the first chart only.
    """
    import plotly.io as pio

    parts, first_chart = [], True
    for n, block in enumerate(blocks):
        inner = []
        if block.title:
            inner.append(f"<h2>{html.escape(block.title)}</h2>")
        if block.html:
            inner.append(block.html)  # rendered by render_markdown: raw HTML already escaped
        for line in block.placeholders:
            inner.append(f'<p class="placeholder">{html.escape(line)}</p>')
        for chart_title, fig in block.figures:
            if chart_title:
                inner.append(f"<h3>{html.escape(chart_title)}</h3>")
            inner.append(
                pio.to_html(
                    fig,
                    full_html=False,
                    include_plotlyjs=first_chart,
                    div_id=f"chart-{n}-{len(inner)}",
                    config={"displaylogo": False},
                )
            )
            first_chart = False
        for line in block.notes:
            inner.append(f'<p class="note">{html.escape(line)}</p>')
        if block.table:
            inner.append(_table(block.table))
        parts.append(f'<section class="block block-{html.escape(block.kind)}">{"".join(inner)}</section>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"{''.join(parts)}</body></html>\n"
    )


def export_html(store: Store, record: ReportRecord, *, viewer: Viewer) -> str:
    """One version of a report as a standalone HTML file, as ``viewer`` may see it (the same
    placeholders as the page: an export never holds what its reader could not open).

    Args:
        record: The version (core.reports.get_report, which checked the report visible).
        viewer: Who exports.

    Returns:
        The HTML document.
    """
    subtitle = (
        f"Version {record.version} of {record.latest_version} · saved {record.saved_at:%Y-%m-%d %H:%M} UTC"
        + (f" · by {record.author}" if record.author else "")
        + " · exported from Loom"
    )
    return rendered_html(record.spec.title, subtitle, render_report(store, record, viewer=viewer))


def export_filename(record: ReportRecord) -> str:
    """A safe file name for the export: the title's letters and digits, and the version."""
    stem = "".join(c if c.isalnum() else "-" for c in record.spec.title.lower()).strip("-")[:60] or "report"
    while "--" in stem:
        stem = stem.replace("--", "-")
    return f"{stem}-v{record.version}.html"
