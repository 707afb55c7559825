"""The report spec: validated on construction, JSON round-trip, hashed."""

from __future__ import annotations

import json

import pytest

from core.errors import SpecError
from core.reports import BLOCK_TYPES
from core.reports import CompareBlock
from core.reports import MarkdownBlock
from core.reports import ReportSpec
from core.reports import RunChartBlock
from core.reports import StudyBlock
from core.reports import block_from_dict
from core.specs import spec_hash

A, B = "a" * 32, "b" * 32

# A literal report as stored (the schema a saved version keeps).
EXAMPLE = {
    "type": "report",
    "title": "Week 12",
    "blocks": [
        {"type": "markdown", "text": "# Findings\n\nAdam *wins*."},
        {"type": "run_chart", "run_ids": [A, B], "metric": "epoch/val_loss"},
        {"type": "compare", "run_ids": [A, B]},
        {"type": "study", "study_id": A, "charts": ["History", "Importances"]},
    ],
}


def test_example_json_round_trips_and_hashes() -> None:
    spec = ReportSpec.from_dict(EXAMPLE)
    assert spec.to_dict() == EXAMPLE
    assert ReportSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.hash == spec_hash(EXAMPLE)
    assert [type(b) for b in spec.blocks] == [MarkdownBlock, RunChartBlock, CompareBlock, StudyBlock]
    assert spec.run_ids == (A, B)
    assert spec.study_ids == (A,)


@pytest.mark.parametrize("kind", sorted(BLOCK_TYPES))
def test_every_block_type_round_trips(kind: str) -> None:
    block = next(b for b in EXAMPLE["blocks"] if b["type"] == kind)
    assert block_from_dict(block).to_dict() == block


def test_order_matters_to_the_hash() -> None:
    spec = ReportSpec.from_dict(EXAMPLE)
    flipped = ReportSpec(spec.title, spec.blocks[::-1])
    assert flipped.hash != spec.hash


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"type": "report", "title": "  ", "blocks": []}, "needs a title"),
        ({"type": "report", "title": "x" * 201}, "up to 200"),
        ({"type": "pipeline", "title": "x"}, "not a report"),
        ({"title": "x", "blocks": "markdown"}, "must be a list"),
        ({"title": "x", "blocks": [{"type": "iframe"}]}, "Valid types: markdown, run_chart"),
        ({"title": "x", "blocks": ["text"]}, "JSON object"),
        ({"title": "x", "blocks": [{"type": "markdown", "text": "y" * 20_001}]}, "20,000"),
        ({"title": "x", "blocks": [{"type": "run_chart", "run_ids": []}]}, "Pick 1 to 10"),
        ({"title": "x", "blocks": [{"type": "run_chart", "run_ids": ["../etc"]}]}, "32 hex digits"),
        ({"title": "x", "blocks": [{"type": "run_chart", "run_ids": A}]}, "list of IDs"),
        ({"title": "x", "blocks": [{"type": "run_chart", "run_ids": [A], "metric": "<b>"}]}, "metric"),
        (
            {"title": "x", "blocks": [{"type": "compare", "run_ids": [f"{i:032x}" for i in range(11)]}]},
            "1 to 10",
        ),
        ({"title": "x", "blocks": [{"type": "study", "study_id": A, "charts": ["Pie"]}]}, "Valid charts"),
        ({"title": "x", "blocks": [{"type": "study", "study_id": A, "charts": []}]}, "at least one"),
        ({"title": "x", "blocks": [{"type": "markdown", "txt": "x"}]}, "unusable fields"),
        ({"title": "x", "blocks": [{"type": "markdown", "text": "x"}] * 51}, "up to 50 blocks"),
    ],
)
def test_bad_specs_say_what_to_fix(data: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        ReportSpec.from_dict(data)


def test_ids_are_normalised_and_deduplicated() -> None:
    block = RunChartBlock((A.upper(), A, B))
    assert block.run_ids == (A, B)
