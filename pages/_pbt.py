"""The Tune page's population-based-training parts: the form that starts a population, and a
population's live view (family tree, every member's curve, the events) with a person's kill,
clone and freeze. Kept apart from pages/tune.py, which shows Optuna studies."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.charts import plot_population_curves
from core.charts import plot_population_tree
from core.compute import TERMINAL
from core.compute import RunStatus
from core.compute import stop_run
from core.errors import AppError
from core.tuning import EXPLORES
from core.tuning import METRICS
from core.tuning import PBTSpec
from core.tuning import SearchSpace
from core.tuning import get_population
from core.tuning import objective_metrics
from core.tuning import pbt_action
from core.tuning import population_curves
from core.tuning import start_pbt
from pages import _ui

KIND_LABELS = ("Optuna study", "Population-based training")
EXPLORE_LABELS = {"perturb": "Perturb (×0.8 / ×1.2)", "resample": "Resample from the space"}


def new_population(store: Any, who: Any, base: dict, space: Any) -> None:
    """The form that starts a population from ``base`` over the space ``space()`` builds."""
    task = base["model"]["task"]
    metrics = [m for m in objective_metrics(task) if m not in ("params", "train_seconds")]
    c1, c2, c3, c4 = st.columns(4)
    members = c1.number_input("Members", 1, 256, 8, key="pbt_members")
    epochs = c2.number_input("Epochs per member", 1, 10_000, 10, key="pbt_epochs")
    interval = c3.number_input("Exploit every (epochs)", 1, 10_000, 2, key="pbt_interval")
    quantile = c4.number_input("Bottom / top quantile", 0.05, 0.5, 0.25, step=0.05, key="pbt_quantile")
    c1, c2, c3, c4 = st.columns(4)
    metric = c1.selectbox("Rank by", metrics, key="pbt_metric", format_func=lambda m: f"{m} ({METRICS[m]})")
    explore = c2.selectbox("Explore", EXPLORES, format_func=EXPLORE_LABELS.get, key="pbt_explore")
    resample = c3.number_input(
        "Resample chance",
        0.0,
        1.0,
        0.25,
        step=0.05,
        key="pbt_resample",
        disabled=explore != "perturb",
        help="With Perturb, the chance that a setting is drawn afresh from the space instead of "
        "scaled (Ray Tune's resample_probability). 0 only ever scales.",
    )
    seed = c4.number_input("Seed (-1: random)", -1, 2**31 - 1, -1, key="pbt_seed")
    name = st.text_input("Population name", max_chars=200, key="pbt_name")
    team = _ui.team_choice("pbt_team", who)
    if st.button("Start population", type="primary", key="pbt_start"):
        try:
            spec = PBTSpec(
                base,
                space().to_dict(),
                members=int(members),
                interval=int(interval),
                epochs=int(epochs),
                quantile=float(quantile),
                explore=explore,
                resample_probability=float(resample),
                metric=metric,
                seed=None if seed < 0 else int(seed),
            )
            study_id, _ = start_pbt(_ui.client(), store, spec, name.strip(), viewer=who, team=team)
        except (AppError, ValueError, TypeError) as exc:
            _ui.error(exc if isinstance(exc, AppError) else f"Check the ranges: {exc}")
        else:
            st.query_params.clear()
            st.query_params["study"] = study_id
            st.rerun()


def _resampled(spec: Any) -> str:
    """The caption's word on a perturbing population's resample chance."""
    if spec.explore != "perturb" or not spec.resample_probability:
        return ""
    return f", each setting redrawn from the space with chance {spec.resample_probability:.0%}"


def show(store: Any, who: Any, study: Any) -> None:
    """A population's page: what it is, its live view while it trains, and (for who may change
    it) kill, clone and freeze."""
    population = get_population(store, study.id, viewer=who)
    spec = population.spec
    st.subheader(study.name)
    st.caption(
        f"Population-based training · {spec.members} members × {spec.epochs} epochs · every "
        f"{spec.interval} epochs the bottom {spec.quantile:.0%} copy the top "
        f"({EXPLORE_LABELS[spec.explore]}{_resampled(spec)}) · "
        f"ranked by {spec.metric} · study `{study.id}`"
    )
    driver = _driver_status(store, population)
    running = driver is not None and RunStatus(driver) not in TERMINAL
    may_change = _ui.may_change(who, study.author, study.project_id or "")
    c1, c2 = st.columns([4, 1])
    c1.markdown(f"**{_ui.status_label(driver or study.status)}**")
    if running and may_change and c2.button("Stop population", key="pbt_stop", type="primary"):
        stop_run(store, population.driver, _ui.client(), viewer=who)
        st.toast("Stopping: the members' segments are stopped, then the population ends.")
    if running:
        _live(store, who, study.id)
    else:
        _board(store, who, study.id)
    if running and may_change:
        _steer(store, who, study.id)


def _driver_status(store: Any, population: Any) -> str | None:
    from core.store import SYSTEM
    from core.store import get_run

    return get_run(store, population.driver, viewer=SYSTEM).status if population.driver else None


@st.fragment(run_every="2s")
def _live(store: Any, who: Any, study_id: str) -> None:
    _board(store, who, study_id)
    population = get_population(store, study_id, viewer=who)
    status = _driver_status(store, population)
    if status is not None and RunStatus(status) in TERMINAL:
        st.rerun()


def _board(store: Any, who: Any, study_id: str) -> None:
    population = get_population(store, study_id, viewer=who)
    spec = population.spec
    st.plotly_chart(plot_population_tree(population), key="pbt_tree")
    edges = sum(1 for e in population.events if e.event == "exploit")
    st.caption(
        f"Family tree: {len(population.segments)} segments of {len(population.members)} members, "
        f"{edges} exploit steps"
    )
    curves = population_curves(store, population)
    st.plotly_chart(plot_population_curves(curves, spec.metric, spec.epochs), key="pbt_curves")
    events = [e for e in population.events if e.event not in ("segment", "start", "end")]
    st.markdown(f"**Events** · {len(population.members)} members, {len(population.killed)} killed or lost")
    if events:  # newest first, the last 30
        lines = [f"- {e.at:%H:%M:%S} · {_ui.md_escape(e.text)}" for e in reversed(events[-30:])]
        st.markdown("\n".join(lines))
    else:
        st.caption("No exploit step or action yet.")


def _steer(store: Any, who: Any, study_id: str) -> None:
    population = get_population(store, study_id, viewer=who)
    alive = [m for m in population.members if m not in population.killed]
    space: SearchSpace = population.spec.search_space
    with st.expander("Steer the population: kill, clone, freeze", expanded=True):
        frozen = st.selectbox(
            "Freeze a setting (explore leaves it as it is)",
            [p for p in space.paths if p not in population.frozen] or ["(all frozen)"],
            key="pbt_freeze_path",
        )
        if st.button("Freeze it", key="pbt_freeze", disabled=frozen == "(all frozen)"):
            _act(store, who, study_id, "freeze", None, f"{frozen} is frozen.", path=frozen)
        if not alive:
            st.caption("No member is training yet: kill and clone come with the first segments.")
            return
        member = st.selectbox("Member", alive, key="pbt_member")
        last = population.last_segment(member)
        if st.button("Kill this member", key="pbt_kill"):
            _act(store, who, study_id, "kill", member, f"Member {member} is being stopped.")
        st.caption("Clone this member with your own settings (from its last checkpoint):")
        values: dict[str, Any] = {}
        for p in space.params:
            now = (last.values if last else {}).get(p.path)
            if p.kind == "categorical":
                choices = list(p.choices)
                values[p.path] = st.selectbox(
                    p.label,
                    choices,
                    index=choices.index(now) if now in choices else 0,
                    key=f"pbt_clone_{p.path}",
                )
            elif p.kind == "int":
                values[p.path] = st.number_input(
                    p.label,
                    int(p.low),
                    int(p.high),
                    int(now if now is not None else p.low),
                    key=f"pbt_clone_{p.path}",
                )
            else:
                values[p.path] = st.number_input(
                    p.label,
                    float(p.low),
                    float(p.high),
                    float(now if now is not None else p.low),
                    format="%.6g",
                    key=f"pbt_clone_{p.path}",
                )
        if st.button("Clone with these settings", key="pbt_clone"):
            _act(store, who, study_id, "clone", member, f"Member {member} is cloned.", values=values)


def _act(store: Any, who: Any, study_id: str, action: str, member: int | None, done: str, **kw: Any) -> None:
    try:
        pbt_action(store, study_id, action, member, viewer=who, **kw)
    except AppError as exc:
        _ui.error(exc)
    else:
        st.toast(done)
