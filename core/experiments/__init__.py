"""Experiments: finding, annotating and comparing runs and studies."""

from core.experiments._annotate import NOTE_MAX_CHARS
from core.experiments._annotate import add_note
from core.experiments._annotate import add_tag
from core.experiments._annotate import delete_runs
from core.experiments._annotate import list_notes
from core.experiments._annotate import remove_tag
from core.experiments._annotate import set_archived
from core.experiments._annotate import set_team
from core.experiments._annotate import tags_of
from core.experiments._compare import BASELINE_TAG
from core.experiments._compare import MAX_RUNS
from core.experiments._compare import Comparison
from core.experiments._compare import compare_runs
from core.experiments._compare import flatten
from core.experiments._compare import parse_run_ids
from core.experiments._compare import smooth
from core.experiments._fork import fork_grant
from core.experiments._fork import fork_name
from core.experiments._groups import GROUP_BY_SEED
from core.experiments._groups import GroupBand
from core.experiments._groups import GroupSummary
from core.experiments._groups import group_band
from core.experiments._groups import group_keys
from core.experiments._groups import group_members
from core.experiments._groups import group_of
from core.experiments._groups import group_runs
from core.experiments._query import SORTS
from core.experiments._query import STATUSES
from core.experiments._query import ExperimentQuery
from core.experiments._query import ExperimentRow
from core.experiments._query import StudyRow
from core.experiments._query import list_experiments
from core.experiments._query import list_studies

__all__ = [
    "BASELINE_TAG",
    "GROUP_BY_SEED",
    "GroupBand",
    "GroupSummary",
    "MAX_RUNS",
    "NOTE_MAX_CHARS",
    "SORTS",
    "STATUSES",
    "Comparison",
    "ExperimentQuery",
    "ExperimentRow",
    "add_note",
    "add_tag",
    "compare_runs",
    "delete_runs",
    "flatten",
    "fork_grant",
    "fork_name",
    "group_band",
    "group_keys",
    "group_members",
    "group_of",
    "group_runs",
    "StudyRow",
    "list_experiments",
    "list_studies",
    "list_notes",
    "parse_run_ids",
    "remove_tag",
    "set_archived",
    "set_team",
    "smooth",
    "tags_of",
]
