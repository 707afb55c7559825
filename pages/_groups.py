"""Seed groups and grouping on pages: the Train page's "Repeat with N seeds", the Experiments
page's groups (a seed group from its link, or runs grouped by any setting) and Compare's
groups; each group's final metric with its spread and its curves as a mean with a band."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.charts import SPREADS
from core.charts import plot_group_bands
from core.errors import AppError
from core.experiments import GROUP_BY_SEED
from core.experiments import MAX_RUNS
from core.experiments import GroupSummary
from core.experiments import group_band
from core.experiments import group_keys
from core.experiments import group_members
from core.experiments import group_of
from core.experiments import group_runs
from core.store import Store
from core.store import Viewer
from core.training import MAX_SEEDS
from pages import _ui

_MAX_BANDS = 7


def seeds_input(container, ranges) -> int:  # type: ignore[no-untyped-def]
    """The Train page's "Repeat with N seeds" (1: one run), its range checked at Launch."""
    return int(
        ranges.number(
            container,
            "Repeat with N seeds",
            1,
            MAX_SEEDS,
            1,
            key="train_repeats",
            help="Above 1, Launch starts N runs identical but for the seed (seed, seed+1, ...), "
            "recorded as one seed group: Experiments and Compare show their mean and spread.",
        )
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _table(groups: list[GroupSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "group": g.label,
                "runs": len(g.run_ids),
                f"{g.metric} mean": _fmt(g.mean),
                "± std": _fmt(g.std),
                "min": _fmt(g.low),
                "max": _fmt(g.high),
                "with a value": len(g.values),
            }
            for g in groups
        ]
    )


def _bands(store: Store, who: Viewer, groups: list[GroupSummary], metric: str, key: str) -> None:
    spread = st.radio("Band", SPREADS, horizontal=True, key=f"{key}_spread")
    bands = [group_band(store, g.run_ids, metric, viewer=who, label=g.label) for g in groups[:_MAX_BANDS]]
    st.plotly_chart(plot_group_bands(bands, spread, y_label=metric), key=f"{key}_bands")
    if len(groups) > _MAX_BANDS:
        st.caption(f"The {_MAX_BANDS} largest groups are drawn.")


def _links(groups: list[GroupSummary]) -> None:
    for g in groups:
        with st.expander(f"{g.label} · {len(g.run_ids)} run(s)", expanded=False):
            if 2 <= len(g.run_ids) <= MAX_RUNS:
                st.page_link(
                    "pages/compare.py",
                    label=f"Compare this group's {len(g.run_ids)} runs",
                    query_params={"runs": ",".join(g.run_ids), "metric": g.metric},
                )
            for run_id in g.run_ids:
                st.page_link("pages/jobs.py", label=f"Open run {run_id[:8]}", query_params={"run": run_id})


def seed_group_panel(store: Store, who: Viewer, metric: str) -> None:
    """Experiments opened from a seed group's link (``?group=<id>``): its runs, the spread of
    their final metric and their band, and nothing else (the page stops after it)."""
    group_id = st.query_params.get("group", "")
    if not group_id:
        return
    members = group_members(store, group_id[:32], viewer=who)
    if not members:
        _ui.not_found("seed group", picker="pages/experiments.py", label="All runs")
    st.subheader("Seed group")
    st.page_link("pages/experiments.py", label="All runs", icon=":material/arrow_back:")
    try:
        groups = group_runs(store, members, GROUP_BY_SEED, metric, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    st.dataframe(_table(groups), hide_index=True, key="seed_group_table")
    _bands(store, who, groups, metric, "seed_group")
    _links(groups)
    _ui.end_page()  # a seed group's page shows its group only, not every run below it


def group_section(store: Store, who: Viewer, run_ids: list[str], metric: str) -> None:
    """Experiments: these runs grouped by their seed group or any setting (``?group_by=``)."""
    if not run_ids:
        return
    st.subheader("Groups")
    options = ["(none)", *group_keys(store, run_ids, viewer=who)]
    if (linked := st.query_params.get("group_by", "")) and linked not in options:
        options.append(linked[:200])  # a setting these runs share: one group
    by = _ui.url_selectbox("Group by", "group_by", {o: o for o in options}, what="grouping")
    if by == "(none)":
        return
    try:
        groups = group_runs(store, run_ids, by, metric, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    if not groups:
        st.info(
            "None of these runs is in a seed group. Launch one with Repeat with N seeds on the Train page."
        )
        return
    st.dataframe(_table(groups), hide_index=True, key="exp_groups_table")
    _bands(store, who, groups, metric, "exp_groups")
    _links(groups)


def compare_section(store: Store, who: Viewer, run_ids: list[str], metric: str) -> None:
    """Compare: the seed groups of the compared runs (every member, compared or not) or the
    compared runs grouped by a setting, with the final metric's mean and spread and a band per
    group."""
    st.subheader("Groups")
    by = st.selectbox("Group by", group_keys(store, run_ids, viewer=who), key="cmp_group_by")
    try:
        groups = group_runs(store, run_ids, by, metric, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    if not groups:
        st.caption("None of these runs is in a seed group; group them by a setting instead.")
        return
    st.dataframe(_table(groups), hide_index=True, key="cmp_groups_table")
    _bands(store, who, groups, metric, "cmp_groups")


def repeat_best_button(store: Store, who: Viewer, study_id: str) -> None:
    """The Tune page's "Repeat the best trial with N seeds": a seed group of the best trial's
    training (the study is left alone)."""
    from core.alerts import study_best
    from core.training import repeat_run_with_seeds

    best = study_best(store, study_id)
    if best is None or best[2] is None:
        return
    value, number, run_id = best
    c1, c2 = st.columns([1, 3])
    n = int(c1.number_input("Seeds", 2, MAX_SEEDS, 3, key="tune_repeat_n"))
    if c2.button(f"Repeat the best trial ({number}: {value:.4g}) with {n} seeds", key="tune_repeat_best"):
        try:
            group = repeat_run_with_seeds(_ui.client(), store, run_id, n, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.switch_page("pages/experiments.py", query_params={"group": group.id})


def launch(store: Store, who: Viewer, spec, n: int, **kwargs):  # type: ignore[no-untyped-def]
    """Launch ``spec`` with ``n`` seeds as one group (the Train page's Launch with "Repeat with
    N seeds" above 1); :func:`open_group` then opens Experiments on it. ``kwargs`` go to
    :func:`core.training.repeat_with_seeds`.

    Returns:
        The group (:class:`core.training.SeedGroup`).

    Raises:
        AppError: As :func:`core.training.repeat_with_seeds`; the page shows it.
    """
    from core.training import repeat_with_seeds

    return repeat_with_seeds(_ui.client(), store, spec, n, viewer=who, **kwargs)


def open_group(group) -> None:  # type: ignore[no-untyped-def]
    """Open Experiments on a seed group just launched."""
    st.switch_page("pages/experiments.py", query_params={"group": group.id})


def run_group_link(store: Store, who: Viewer, run_id: str) -> None:
    """On a run's page: a link to its seed group in Experiments, when it is in one."""
    group_id = group_of(store, run_id, viewer=who)
    if group_id:
        n = len(group_members(store, group_id, viewer=who))
        st.page_link(
            "pages/experiments.py",
            label=f"One of a seed group of {n} runs: open the group",
            query_params={"group": group_id},
            icon=":material/stacked_line_chart:",
        )
