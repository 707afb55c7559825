"""The report spec: a title and blocks, as frozen dataclasses that round-trip through JSON.

A block names runs and studies by ID only; what they show is read for each reader when the
report is rendered (core.reports._render), so a spec never carries another user's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import ClassVar

from core.errors import SpecError
from core.specs import spec_hash

__all__ = [
    "BLOCK_TYPES",
    "STUDY_CHARTS",
    "Block",
    "CompareBlock",
    "MarkdownBlock",
    "ReportSpec",
    "RunChartBlock",
    "StudyBlock",
    "block_from_dict",
]

MAX_BLOCKS = 50
MAX_RUNS = 10
MAX_MARKDOWN = 20_000
TITLE_MAX = 200
_ID = re.compile(r"^[0-9a-f]{32}$")
_METRIC = re.compile(r"^[\w./:@ -]{1,100}$")
# The study charts a report may show (core.charts.study_figures draws them by these titles).
STUDY_CHARTS = (
    "History",
    "Importances",
    "Parallel coordinates",
    "Learning curves",
    "Contour",
    "Slice",
    "Timeline",
    "EDF",
    "Pareto front",
)


def _ids(raw: Any, what: str, low: int, high: int) -> tuple[str, ...]:
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        raise SpecError(f"`{what}` must be a list of IDs, but got {type(raw).__name__}.")
    ids = tuple(dict.fromkeys(str(i).strip().lower() for i in raw))
    bad = [i[:40] for i in ids if not _ID.match(i)]
    if bad:
        raise SpecError(f"{bad} in `{what}` are not IDs (32 hex digits). Pick them from the list.")
    if not low <= len(ids) <= high:
        raise SpecError(f"Pick {low} to {high} for `{what}`, but got {len(ids)}.")
    return ids


def _metric(raw: Any) -> str:
    if not isinstance(raw, str) or not _METRIC.match(raw):
        raise SpecError(
            f"A metric is a name like 'epoch/val_loss' (letters, digits, . / : @ - _ and spaces, "
            f"up to 100), but got {str(raw)[:40]!r}."
        )
    return raw


@dataclass(frozen=True)
class MarkdownBlock:
    """Text written by the report's author, rendered as Markdown with raw HTML escaped.

    Args:
        text: The Markdown, up to 20,000 characters. Defaults to "".
    """

    TYPE: ClassVar[str] = "markdown"
    text: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise SpecError(f"A Markdown block's text must be a string, but got {type(self.text).__name__}.")
        if len(self.text) > MAX_MARKDOWN:
            raise SpecError(
                f"A Markdown block holds up to {MAX_MARKDOWN:,} characters, but got {len(self.text):,}. "
                "Split it into several blocks."
            )

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarkdownBlock:
        return cls(text=data.get("text", ""))


@dataclass(frozen=True)
class RunChartBlock:
    """One metric's curve for one or more runs.

    Args:
        run_ids: 1 to 10 run IDs.
        metric: The metric key. Defaults to "epoch/val_loss".
    """

    TYPE: ClassVar[str] = "run_chart"
    run_ids: tuple[str, ...]
    metric: str = "epoch/val_loss"

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_ids", _ids(self.run_ids, "run_ids", 1, MAX_RUNS))
        _metric(self.metric)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, "run_ids": list(self.run_ids), "metric": self.metric}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunChartBlock:
        return cls(run_ids=data.get("run_ids", ()), metric=data.get("metric", "epoch/val_loss"))


@dataclass(frozen=True)
class CompareBlock:
    """The Compare page's metrics table for the chosen runs.

    Args:
        run_ids: 1 to 10 run IDs.
    """

    TYPE: ClassVar[str] = "compare"
    run_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_ids", _ids(self.run_ids, "run_ids", 1, MAX_RUNS))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, "run_ids": list(self.run_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareBlock:
        return cls(run_ids=data.get("run_ids", ()))


@dataclass(frozen=True)
class StudyBlock:
    """A study's plots, as the Tune page draws them.

    Args:
        study_id: The study's ID.
        charts: Which charts, by title (see :data:`STUDY_CHARTS`). Defaults to ("History",).
    """

    TYPE: ClassVar[str] = "study"
    study_id: str
    charts: tuple[str, ...] = ("History",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "study_id", _ids([self.study_id], "study_id", 1, 1)[0])
        if isinstance(self.charts, str) or not isinstance(self.charts, list | tuple):
            raise SpecError(f"`charts` must be a list of chart titles, but got {type(self.charts).__name__}.")
        charts = tuple(dict.fromkeys(self.charts))
        unknown = [str(c)[:40] for c in charts if c not in STUDY_CHARTS]
        if unknown:
            raise SpecError(f"Unknown study chart(s) {unknown}. Valid charts: {', '.join(STUDY_CHARTS)}.")
        if not charts:
            raise SpecError(f"Pick at least one study chart: {', '.join(STUDY_CHARTS)}.")
        object.__setattr__(self, "charts", charts)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, "study_id": self.study_id, "charts": list(self.charts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyBlock:
        return cls(study_id=data.get("study_id", ""), charts=data.get("charts", ("History",)))


Block = MarkdownBlock | RunChartBlock | CompareBlock | StudyBlock
BLOCK_TYPES: dict[str, Any] = {b.TYPE: b for b in (MarkdownBlock, RunChartBlock, CompareBlock, StudyBlock)}


def block_from_dict(data: Any) -> Block:
    """A block from its JSON form (``{"type": "markdown", "text": ...}``).

    Raises:
        SpecError: Not a dict, an unknown type (the message lists the valid ones), or bad fields.
    """
    if not isinstance(data, dict):
        raise SpecError(f"A block must be a JSON object, but got {type(data).__name__}.")
    kind = data.get("type")
    if kind not in BLOCK_TYPES:
        raise SpecError(f"Unknown block type {str(kind)[:40]!r}. Valid types: {', '.join(BLOCK_TYPES)}.")
    cls = BLOCK_TYPES[kind]
    names = [f.name for f in fields(cls)]
    unknown = sorted(str(k)[:40] for k in set(data) - {"type", *names})
    if unknown:
        raise SpecError(f"A {kind} block has unusable fields {unknown}; it takes {names}.")
    try:
        block: Block = cls.from_dict(data)
    except TypeError as exc:  # a field of the wrong shape reached a constructor
        raise SpecError(f"A {kind} block has unusable fields: {exc}.") from exc
    return block


@dataclass(frozen=True)
class ReportSpec:
    """What a report shows: a title and up to 50 blocks, in order.

    Args:
        title: 1 to 200 characters.
        blocks: The blocks, top to bottom. Defaults to none.

    Raises:
        SpecError: An empty or long title, too many blocks, or a block that is not one.
    """

    title: str
    blocks: tuple[Block, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise SpecError("A report needs a title. Type one above its blocks.")
        if len(self.title) > TITLE_MAX:
            raise SpecError(
                f"A report's title holds up to {TITLE_MAX} characters, but got {len(self.title)}."
            )
        blocks = tuple(self.blocks)
        if len(blocks) > MAX_BLOCKS:
            raise SpecError(
                f"A report holds up to {MAX_BLOCKS} blocks, but got {len(blocks)}. Start a second one."
            )
        bad = [type(b).__name__ for b in blocks if not isinstance(b, tuple(BLOCK_TYPES.values()))]
        if bad:
            raise SpecError(f"{bad} are not report blocks. Valid types: {', '.join(BLOCK_TYPES)}.")
        object.__setattr__(self, "title", self.title.strip())
        object.__setattr__(self, "blocks", blocks)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "report", "title": self.title, "blocks": [b.to_dict() for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: Any) -> ReportSpec:
        """Read back :meth:`to_dict`'s JSON.

        Raises:
            SpecError: Not a report, or anything in it invalid.
        """
        if not isinstance(data, dict) or data.get("type", "report") != "report":
            raise SpecError("This JSON is not a report (its `type` must be 'report').")
        blocks = data.get("blocks", [])
        if not isinstance(blocks, list):
            raise SpecError(f"A report's `blocks` must be a list, but got {type(blocks).__name__}.")
        return cls(title=data.get("title", ""), blocks=tuple(block_from_dict(b) for b in blocks))

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON (core.specs.spec_hash)."""
        return spec_hash(self.to_dict())

    @property
    def run_ids(self) -> tuple[str, ...]:
        """Every run the blocks name, once, in order."""
        ids = [i for b in self.blocks if isinstance(b, RunChartBlock | CompareBlock) for i in b.run_ids]
        return tuple(dict.fromkeys(ids))

    @property
    def study_ids(self) -> tuple[str, ...]:
        """Every study the blocks name, once, in order."""
        return tuple(dict.fromkeys(b.study_id for b in self.blocks if isinstance(b, StudyBlock)))
