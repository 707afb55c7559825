"""A report's blocks resolved for one reader: Markdown as safe HTML, charts as Plotly figures,
tables as rows, and a placeholder wherever a run or study is deleted or not visible to them.

Every read goes through core's own queries with the reader's :class:`~core.store.Viewer`, so a
block never shows what the reader could not open on its own page (or through the report's link).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select

from core.errors import AppError
from core.errors import SpecError
from core.reports._spec import BLOCK_TYPES
from core.reports._spec import Block
from core.reports._spec import CompareBlock
from core.reports._spec import MarkdownBlock
from core.reports._spec import ReportSpec
from core.reports._spec import RunChartBlock
from core.reports._spec import StudyBlock
from core.reports._spec import block_from_dict
from core.reports._store import ReportRecord
from core.reports._store import reader_of
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import visible

__all__ = [
    "RenderedBlock",
    "RenderedDraft",
    "hidden_from",
    "render_draft",
    "render_markdown",
    "render_report",
    "render_spec",
    "unavailable",
]


@dataclass(frozen=True)
class RenderedBlock:
    """One block as a reader sees it.

    Attributes:
        kind: The block's type ("markdown", "run_chart", "compare", "study").
        title: A heading (the metric, "Compare", the study's name); "" for Markdown.
        html: Markdown rendered to HTML, raw HTML escaped.
        figures: (title, Plotly figure) pairs.
        notes: Lines to show instead of a chart that cannot be drawn yet.
        table: Rows of a compare table.
        placeholders: One line per run or study the reader may not see (or that is gone).
        error: Why a draft's block cannot be shown (it would not save either); "" for a valid
            block, so always "" in a saved report.
    """

    kind: str
    title: str = ""
    html: str = ""
    figures: tuple[tuple[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    table: tuple[Mapping[str, Any], ...] = field(default=())
    placeholders: tuple[str, ...] = ()
    error: str = ""


def unavailable(kind: str, object_id: str) -> str:
    """The placeholder for a run or study the reader cannot see: the same words whether it was
    deleted or never shared, and nothing of it (not even its ID: ``object_id`` is not used)."""
    del object_id  # kept in the signature: callers name what they hide, the reader learns nothing
    return f"A {kind} here is not shared with you."


def hidden_from(store: Store, record: ReportRecord, *, team: str | None = None, viewer: Viewer) -> list[str]:
    """What of ``record`` an audience will not see, named for its owner before sharing: each run
    or study, by name and whose it is, with its block. The audience sees a placeholder instead.

    Args:
        record: The report (the version about to be shared).
        team: The audience is this team's members; None: anyone holding the report's share link
            (it opens only the runs and studies the report's owner owns). Defaults to None.
        viewer: The report's owner (others get an empty list: only the owner shares it).

    Returns:
        One line per hidden run or study, in block order; empty when the audience sees it all.
    """
    from core.store import Study

    if not viewer.owns(record.author):
        return []
    run_ids = record.spec.run_ids
    study_ids = record.spec.study_ids
    with store.session(viewer) as s:
        runs = {
            r.id: (r.name or r.id[:8], r.author, r.team)
            for r in s.execute(select(Run.id, Run.name, Run.author, Run.team).where(Run.id.in_(run_ids)))
        }
        studies = {
            r.id: (r.name, r.author, r.team)
            for r in s.execute(
                select(Study.id, Study.name, Study.author, Study.team).where(Study.id.in_(study_ids))
            )
        }

    def why(found: tuple[str, str, str] | None) -> str:
        if found is None:
            return "it was deleted"
        _, author, its_team = found
        whose = "yours" if author == record.author else f"{author}'s"
        if team is None:
            return "" if author == record.author else f"{whose}: a link opens only your own runs and studies"
        if its_team == team:
            return ""
        return f"{whose}, {'private' if not its_team else f'visible to team {its_team}'}"

    lines: list[str] = []
    for n, block in enumerate(record.spec.blocks, start=1):
        items: list[tuple[str, str, tuple[str, str, str] | None]] = []
        if isinstance(block, RunChartBlock | CompareBlock):
            items = [("run", i, runs.get(i)) for i in block.run_ids]
        elif isinstance(block, StudyBlock):
            items = [("study", block.study_id, studies.get(block.study_id))]
        for kind, object_id, found in items:
            reason = why(found)
            if reason:
                name = found[0] if found else object_id[:8]
                lines.append(f"Block {n}: {kind} {name!r} ({object_id[:6]}), {reason}.")
    return lines


def render_markdown(text: str) -> str:
    """Markdown (CommonMark) to HTML, safe by default: raw HTML is escaped, links to
    ``javascript:``/``data:`` and the like are dropped, and images are not loaded (they would
    fetch from the network, and reveal the reader to whoever serves them)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    return str(md.render(text))


def _visible_runs(store: Store, run_ids: tuple[str, ...], viewer: Viewer) -> dict[str, str]:
    with store.session(viewer) as s:
        rows = s.execute(select(Run.id, Run.name).where(Run.id.in_(run_ids), visible(Run, viewer))).all()
    return {run_id: f"{name or 'run'} ({run_id[:6]})" for run_id, name in rows}


def _run_chart(store: Store, block: RunChartBlock, viewer: Viewer) -> RenderedBlock:
    from core.charts import plot_comparison
    from core.store import metric_view

    names = _visible_runs(store, block.run_ids, viewer)
    series: dict[str, tuple[list[float], list[float]]] = {}
    empty = []
    for run_id in block.run_ids:
        if run_id not in names:
            continue
        curve = metric_view(store, run_id, viewer=viewer, keys=[block.metric]).series.get(block.metric)
        if curve is None or not curve.steps:
            empty.append(names[run_id])
        series[names[run_id]] = ([float(x) for x in curve.steps], list(curve.values)) if curve else ([], [])
    missing = tuple(unavailable("run", i) for i in block.run_ids if i not in names)
    notes = tuple(f"{name} has no points of {block.metric} (yet)." for name in empty)
    figures = (("", plot_comparison(series, y_label=block.metric)),) if series else ()
    return RenderedBlock("run_chart", block.metric, figures=figures, notes=notes, placeholders=missing)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _compare(store: Store, block: CompareBlock, viewer: Viewer) -> RenderedBlock:
    from core.experiments import compare_runs

    names = _visible_runs(store, block.run_ids, viewer)
    shown = [i for i in block.run_ids if i in names]
    missing = tuple(unavailable("run", i) for i in block.run_ids if i not in names)
    table: tuple[Mapping[str, Any], ...] = ()
    if shown:
        # Only runs just checked visible: a run deleted since then raises, shown as a note.
        try:
            comparison = compare_runs(store, shown, viewer=viewer)
        except AppError as exc:
            return RenderedBlock("compare", "Compare", notes=(str(exc),), placeholders=missing)
        table = tuple({k: _cell(v) for k, v in row.items()} for row in comparison.table)
    notes = tuple(_evaluations(store, names, shown, viewer))
    return RenderedBlock("compare", "Compare", notes=notes, table=table, placeholders=missing)


def _evaluations(store: Store, names: Mapping[str, str], shown: list[str], viewer: Viewer) -> list[str]:
    """One line per evaluation of the compared runs, with the run page's label wherever the
    scored rows overlap the run's training rows (such a score is not a held-out score)."""
    from core.training import list_evaluations

    lines = []
    for run_id in shown:
        for e in list_evaluations(store, run_id, viewer=viewer):
            scores = ", ".join(f"{k} {v:.4g}" for k, v in sorted(e.metrics.items()))
            label = e.overlap_warning or f"Rows trained on: {e.overlap_summary}."
            lines.append(f"{names[run_id]} evaluated on {e.dataset_name}: {scores}. {label}")
    return lines


def _study(store: Store, block: StudyBlock, viewer: Viewer) -> RenderedBlock:
    from core.charts import study_figures
    from core.errors import NotFoundError
    from core.tuning import get_study
    from core.tuning import parse_study
    from core.tuning import study_trials

    try:
        record = get_study(store, block.study_id, viewer=viewer)
        optuna_study = study_trials(store, block.study_id, viewer=viewer)
    except (NotFoundError, KeyError):  # KeyError: Optuna has no study of that name (yet)
        return RenderedBlock("study", "Study", placeholders=(unavailable("study", block.study_id),))
    metrics = [o.metric for o in parse_study(record).objectives]
    trials = optuna_study.get_trials(deepcopy=False)
    drawn = study_figures(optuna_study, trials, metrics, only=list(block.charts))
    figures, notes = [], []
    for chart in block.charts:
        made = drawn.get(chart)
        if made is None:
            notes.append(f"{chart}: not drawn for a study with {len(metrics)} objective(s).")
        elif isinstance(made, str):
            notes.append(f"{chart}: {made}")
        else:
            figures.append((chart, made))
    return RenderedBlock("study", f"Study {record.name}", figures=tuple(figures), notes=tuple(notes))


def render_spec(store: Store, spec: ReportSpec, *, viewer: Viewer) -> list[RenderedBlock]:
    """Every block of ``spec`` as ``viewer`` may see it (a draft's preview: with the viewer's
    own rights only; a saved report is read with :func:`render_report`).

    Args:
        spec: The report.
        viewer: Who reads.

    Returns:
        One :class:`RenderedBlock` per block, in order.
    """
    return [_render_block(store, block, viewer) for block in spec.blocks]


def _render_block(store: Store, block: Block, viewer: Viewer) -> RenderedBlock:
    if isinstance(block, MarkdownBlock):
        return RenderedBlock("markdown", html=render_markdown(block.text))
    if isinstance(block, RunChartBlock):
        return _run_chart(store, block, viewer)
    if isinstance(block, CompareBlock):
        return _compare(store, block, viewer)
    return _study(store, block, viewer)


def render_report(store: Store, record: ReportRecord, *, viewer: Viewer) -> list[RenderedBlock]:
    """A saved report's blocks for ``viewer``: with their own rights, and through the report's
    share link the runs and studies of its owner that it shows (core.reports.reader_of).

    Args:
        record: The version to show (core.reports.get_report, which checked the report visible).
        viewer: Who reads.

    Returns:
        One :class:`RenderedBlock` per block, in order.
    """
    return render_spec(store, record.spec, viewer=reader_of(store, record, viewer))


@dataclass(frozen=True)
class RenderedDraft:
    """An unsaved draft as it would read once saved, for the editor's preview.

    Attributes:
        title: The title as a saved report would show it (trimmed).
        blocks: One :class:`RenderedBlock` per draft block, in order; a block that would not
            save has only its ``kind`` and ``error``.
        error: Why the draft as a whole would not save (no title, too many blocks); "" if it
            would, as far as the report itself goes (each block's ``error`` says the rest).
    """

    title: str
    blocks: tuple[RenderedBlock, ...]
    error: str = ""

    @property
    def valid(self) -> bool:
        """Whether **Save version** would accept this draft."""
        return not self.error and not any(b.error for b in self.blocks)


def render_draft(store: Store, title: str, blocks: Sequence[Any], *, viewer: Viewer) -> RenderedDraft:
    """A draft (its title and each block's JSON form, as an editor holds them before a save)
    rendered block by block as :func:`render_spec` renders a saved report, for ``viewer``.
    Nothing is saved. Each block is validated as a save validates it; an invalid one becomes a
    block carrying the message, so one bad block never hides the others.

    Args:
        title: The draft's title.
        blocks: The blocks' JSON forms (``{"type": "markdown", "text": ...}``), in order.
        viewer: Who edits: the preview shows only what they may see, with placeholders for the
            rest, as the saved report shows them.

    Returns:
        The :class:`RenderedDraft`.
    """
    rendered: list[RenderedBlock] = []
    parsed: list[Block] = []
    for data in blocks:
        try:
            block = block_from_dict(data)
        except SpecError as exc:
            kind = data.get("type") if isinstance(data, dict) else None
            rendered.append(RenderedBlock(kind if kind in BLOCK_TYPES else "invalid", error=str(exc)))
            continue
        parsed.append(block)
        rendered.append(_render_block(store, block, viewer))
    error = ""
    try:
        ReportSpec(title, tuple(parsed))
    except SpecError as exc:
        error = str(exc)
    return RenderedDraft(title.strip(), tuple(rendered), error)
