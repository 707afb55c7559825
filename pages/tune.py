"""Tune: Optuna studies whose trials are training runs on the cluster, watched and steered live.

``?study=<id>`` shows a study; without it the page starts one from a training run (``?base=<run>``).
"""

import pandas as pd
import streamlit as st

from core.charts import study_chart_titles
from core.charts import study_figures
from core.compute import TERMINAL
from core.compute import RunStatus
from core.compute import stop_run
from core.errors import AppError
from core.errors import NotFoundError
from core.experiments import list_studies
from core.store import list_runs
from core.tuning import METRICS
from core.tuning import PRUNERS
from core.tuning import SAMPLERS
from core.tuning import Objective
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import count_trials
from core.tuning import current_space
from core.tuning import driver_run
from core.tuning import enqueue_trial
from core.tuning import get_study
from core.tuning import is_pbt
from core.tuning import new_phase
from core.tuning import objective_metrics
from core.tuning import parse_study
from core.tuning import start_study
from core.tuning import study_base
from core.tuning import study_runs
from core.tuning import study_trials
from core.tuning import tunable
from pages import _alerts
from pages import _groups
from pages import _handruns
from pages import _pbt
from pages import _ui

st.title("Tune")
store = _ui.store()
_study_param = st.query_params.get("study")
# A ?share= link opens one study's view; everywhere else the visitor must be signed in.
who = _ui.viewer("study", _study_param) if _study_param and st.query_params.get("share") else _ui.viewer()

TRIAL_STATES = ("complete", "running", "pruned", "fail", "waiting")
SAMPLER_LABELS = {
    "tpe": "TPE",
    "random": "Random",
    "cmaes": "CMA-ES",
    "gp": "Gaussian process",
    "nsga2": "NSGA-II (two objectives)",
    "grid": "Grid",
}
PRUNER_LABELS = {
    "none": "None",
    "median": "Median",
    "successive_halving": "Successive halving",
    "hyperband": "Hyperband",
}


def _space_table(params: list[Param], ticked: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "tune": p.path in ticked,
                "setting": p.label,
                "path": p.path,
                "kind": p.kind,
                "low": None if p.low is None else float(p.low),
                "high": None if p.high is None else float(p.high),
                "log": p.log,
                "choices": ", ".join(map(str, p.choices)),
            }
            for p in params
        ]
    )


def _parse_choice(text: str):  # type: ignore[no-untyped-def]
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _space_from(table: pd.DataFrame, only_ticked: bool = True) -> SearchSpace:
    params = []
    for row in table.to_dict("records"):
        if only_ticked and not row.get("tune"):
            continue
        kind = row["kind"]
        if kind == "categorical":
            choices = tuple(_parse_choice(c) for c in str(row["choices"]).split(",") if c.strip())
            params.append(Param(row["path"], kind, choices=choices))
        else:
            low, high = row["low"], row["high"]
            if kind == "int":
                low, high = int(low), int(high)
            params.append(Param(row["path"], kind, low, high, log=bool(row["log"])))
    return SearchSpace(tuple(params))


# --- a new study ------------------------------------------------------------------------------


def _new_study() -> None:
    runs = [r for r in list_runs(store, kind="train", limit=500, viewer=who) if r.trial is None]
    studies = list_studies(store, viewer=who, limit=100)
    if studies:
        with st.expander("Studies", expanded=True):
            for study in studies:
                st.page_link(
                    "pages/tune.py",
                    label=f"{_ui.md_escape(study.name)} · {study.status}",
                    query_params={"study": study.id},
                )
    st.subheader("Start a study")
    if not runs:
        st.info("Tuning starts from a training run: launch one on the Train page first.")
        _ui.end_page()  # not st.stop(): that keeps a study's live fragment a run before drew
    labels = {r.id: f"{r.name or r.id[:8]} · {r.status} · {r.created_at:%Y-%m-%d %H:%M}" for r in runs}
    base_id = _ui.url_selectbox("Start from training run", "base", labels, what="training run")
    base = study_base(next(r for r in runs if r.id == base_id))
    try:
        candidates = tunable(base)
    except AppError as exc:
        _ui.fail(exc)
    st.caption("Tick the settings to tune and set their ranges. Log scale needs positive bounds.")
    table = st.data_editor(
        # Ticked at first: the learning rate, or a scikit-learn model's first hyperparameter.
        _space_table(
            candidates, {"optimizer.learning_rate", *[p.path for p in candidates[:1] if "params" in p.path]}
        ),
        hide_index=True,
        disabled=["setting", "path", "kind"],
        column_config={"path": None},
        key=f"space_{base_id}",
    )
    if st.radio("Kind", _pbt.KIND_LABELS, horizontal=True, key="tune_kind") != _pbt.KIND_LABELS[0]:
        _pbt.new_population(store, who, base, lambda: _space_from(table))
        return
    task = base["model"]["task"]
    metrics = objective_metrics(task)
    c1, c2, c3, c4 = st.columns(4)
    first = c1.selectbox("Objective", metrics, key="tune_objective")
    directions = ["minimize", "maximize"]
    first_dir = c1.selectbox(
        "Direction", directions, index=directions.index(METRICS[first]), key=f"tune_dir_{first}"
    )
    second = c2.selectbox(
        "Second objective (Pareto front)", ["none", *[m for m in metrics if m != first]], key="tune_second"
    )
    second_dir = (
        c2.selectbox(
            "Direction ", directions, index=directions.index(METRICS[second]), key=f"tune_dir2_{second}"
        )
        if second != "none"
        else None
    )
    sampler = c3.selectbox("Sampler", SAMPLERS, format_func=SAMPLER_LABELS.get, key="tune_sampler")
    pruner = c4.selectbox("Pruner", PRUNERS, format_func=PRUNER_LABELS.get, key="tune_pruner")
    c1, c2, c3, c4 = st.columns(4)
    n_trials = c1.number_input("Trials", 1, 10_000, 12, key="tune_trials")
    parallel = c2.number_input("In parallel", 1, 256, 2, key="tune_parallel")
    timeout = c3.number_input("Timeout, minutes (0: none)", 0, 100_000, 0, key="tune_timeout")
    seed = c4.number_input("Sampler seed (-1: random)", -1, 2**31 - 1, -1, key="tune_seed")
    name = st.text_input("Study name", max_chars=200, key="tune_name")
    team = _ui.team_choice("tune_team", who)
    gpu = st.checkbox("One GPU per trial (workers declaring GPU)", key="tune_gpu")
    learn = st.checkbox(
        "Learn from hand runs",
        key="tune_learn",
        help="Your training runs on this dataset that finish after the study starts, with settings "
        "inside its space, join it as completed trials.",
    )
    if st.button("Start study", type="primary", key="tune_start"):
        try:
            objectives = (Objective(first, first_dir),) + (
                (Objective(second, second_dir or ""),) if second != "none" else ()
            )
            spec = StudySpec(
                base,
                _space_from(table).to_dict(),
                objectives=objectives,
                sampler=sampler,
                pruner=pruner,
                n_trials=int(n_trials),
                parallelism=int(parallel),
                timeout_s=float(timeout) * 60,
                seed=None if seed < 0 else int(seed),
                gpu=gpu,
                learn_from_hand_runs=learn,
            )
            study_id, _ = start_study(_ui.client(), store, spec, name.strip(), viewer=who, team=team)
        except (AppError, ValueError, TypeError) as exc:
            _ui.error(exc if isinstance(exc, AppError) else f"Check the ranges: {exc}")
        else:
            st.query_params.clear()
            st.query_params["study"] = study_id
            st.rerun()


# --- one study --------------------------------------------------------------------------------


def _trials_frame(trials, with_runs: bool = True) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    rows = []
    for t in trials:
        row = {
            "trial": t.number,
            "state": t.state.name.lower(),
            **{f"value {i}" if len(t.values or []) > 1 else "value": v for i, v in enumerate(t.values or [])},
            **t.params,
            "phase": t.user_attrs.get("phase"),
            "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None,
            "outcome": t.user_attrs.get("outcome", ""),
            "source": "hand run" if t.user_attrs.get("hand_run") else "",
            "run": t.user_attrs.get("loom_run", ""),
        }
        if not with_runs:  # a shared study view shows the study, not its runs
            row.pop("run")
        rows.append(row)
    return pd.DataFrame(rows)


def _show_study(study_id: str) -> None:
    try:
        study_row = get_study(store, study_id, viewer=who)
    except NotFoundError:
        _ui.not_found("study", picker="pages/tune.py" if who.can_create else None, label="Start a study")
    except AppError as exc:
        _ui.fail(exc)
    if is_pbt(study_row):  # a population: its own view (pages/_pbt.py)
        _pbt.show(store, who, study_row)
        return
    access = _ui.access(who, study_row.author)
    spec = parse_study(study_row)
    st.subheader(study_row.name)
    if study_row.team and not access.shared:  # a link shows the study, not who made it
        st.caption(f"by {_ui.md_escape(study_row.author)} · visible to team {_ui.md_escape(study_row.team)}")
    runs = study_runs(store, study_id, viewer=who)
    drivers = [r for r in runs if r.kind == "study"]
    driver = drivers[-1] if drivers else None
    objectives = " and ".join(f"{o.direction} {o.metric}" for o in spec.objectives)
    pruner = "no pruner" if spec.pruner == "none" else f"{PRUNER_LABELS[spec.pruner]} pruner"
    # Hand runs and launched suggestions count toward the trials (the driver asks that many fewer).
    by_people = count_trials(study_trials(store, study_id, viewer=who).get_trials(deepcopy=False)).by_people
    st.caption(
        f"{objectives} · {SAMPLER_LABELS[spec.sampler]} sampler · {pruner} · "
        f"{spec.n_trials} trials"
        + (f" ({by_people} of them hand runs or launched suggestions)" if by_people else "")
        + f", {spec.parallelism} at once"
        + (" · learns from hand runs" if spec.learn_from_hand_runs else "")
        + f" · study `{study_id}`"
    )
    running = driver is not None and RunStatus(driver.status) not in TERMINAL
    if driver is not None:
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"**{_ui.status_label(driver.status)}** {_ui.md_escape(driver.status_reason)}")
        if running and access.can_act and c2.button("Stop study", key="stop_study", type="primary"):
            stop_run(store, driver.id, _ui.client(), viewer=who)
            st.toast("Stopping: running trials are stopped, then the study ends.")
    if access.can_act:
        _handruns.sync(store, study_id)  # hand runs and launched suggestions that ended
    chart = _chart_picker(spec)
    if running:
        _live(study_id, spec, chart)
    else:
        _board(study_id, spec, chart)
    if access.can_act:
        _steer(study_id, spec, running)
        _groups.repeat_best_button(store, who, study_id)
    _alerts.section(store, who, "study", study_id, editable=access.can_act)
    if not access.shared:
        _study_notes(study_id, access.can_note)
        _ui.project_box("study", study_id, study_row.project_id, study_row.author, who)
    if access.can_share:
        _ui.team_box("study", study_id, study_row.team, who)
        _ui.share_box("study", study_id, {"chart": chart}, who)


def _chart_picker(spec: StudySpec) -> str:
    """The chart on screen, which is in the URL (?chart=) so a shared link opens the same view.

    Drawn outside the live fragment: a click there reruns the page, never only the fragment,
    which is gone once the study ends (the page then draws the finished board instead). A click
    that fell on the switch was lost: the picker showed the new chart and the page the old one.
    """
    titles = study_chart_titles([o.metric for o in spec.objectives])
    chosen = st.query_params.get("chart")
    if chosen not in titles:
        chosen = titles[0]
    picked = st.radio("Chart", titles, index=titles.index(chosen), horizontal=True, key="study_chart")
    if picked != chosen:
        st.query_params["chart"] = picked
    return picked


@st.fragment(run_every="2s")
def _live(study_id: str, spec: StudySpec, chart: str) -> None:
    _board(study_id, spec, chart)
    driver = driver_run(store, study_id, viewer=who)
    if driver is not None and RunStatus(driver.status) in TERMINAL:
        st.rerun()


def _signature(trials) -> int:  # type: ignore[no-untyped-def]
    """What a study's charts depend on, in one number: a trial that starts, reports an epoch or
    ends changes it."""
    return hash(
        tuple((t.number, t.state.value, t.datetime_complete, len(t.intermediate_values)) for t in trials)
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(study_id: str, title: str, metrics: tuple, signature: int, viewer: str, _study, _trials):  # type: ignore[no-untyped-def]
    """One chart of a study, drawn once per state of its trials (up to 0.6 s for 1,000 trials).

    Keyed by the viewer too, as the cache is shared by every session; the study was checked
    visible to them before this call. A resource, not data: st.cache_data would hand out a copy,
    and rebuilding a Plotly figure validates every property again (0.7 s for parallel
    coordinates); the figure is only read after this (st.plotly_chart calls ``to_dict``).
    """
    return study_figures(_study, _trials, list(metrics), only=[title])[title]


def _board(study_id: str, spec: StudySpec, chart: str) -> None:
    try:
        study = study_trials(store, study_id, viewer=who)
        trials = study.get_trials(deepcopy=False)
    except (AppError, KeyError) as exc:
        _ui.error(str(exc))
        return
    counts = pd.Series([t.state.name.lower() for t in trials]).value_counts().to_dict() if trials else {}
    cols = st.columns(5)
    for col, state in zip(cols, ("complete", "running", "pruned", "fail", "waiting"), strict=True):
        col.metric(state, counts.get(state, 0))
    metrics = [o.metric for o in spec.objectives]
    # Only the chart on screen is drawn on each refresh.
    fig = _figure(study_id, chart, tuple(metrics), _signature(trials), repr(who), study, trials)
    if isinstance(fig, str):
        st.caption(fig)
    else:
        st.plotly_chart(fig, key=f"chart_{study_id}")
    frame = _trials_frame(trials, with_runs=who.grant is None or who.signed_in)
    if not frame.empty:
        # Every state is offered from the start, so trials that reach a state later (complete,
        # after Stop) are shown without a reload.
        states = st.multiselect("Show trials", TRIAL_STATES, default=list(TRIAL_STATES), key="trial_states")
        st.dataframe(frame[frame["state"].isin(states)], hide_index=True, key=f"trials_{study_id}")


def _steer(study_id: str, spec: StudySpec, running: bool) -> None:
    phase, space = current_space(store, study_id, viewer=who)
    study = study_trials(store, study_id, viewer=who)
    trials = study.get_trials(deepcopy=False)
    with st.expander("Enqueue a trial with hand-picked values"):
        with st.form("enqueue_form", border=False):
            values = {}
            for p in space.params:
                if p.kind == "categorical":
                    values[p.path] = st.selectbox(p.label, list(p.choices), key=f"enq_{p.path}")
                else:
                    values[p.path] = st.text_input(f"{p.label} ({p.low} … {p.high})", key=f"enq_{p.path}")
            if st.form_submit_button("Enqueue", key="enqueue"):
                try:
                    picked = {
                        k: (_parse_choice(v) if isinstance(v, str) else v)
                        for k, v in values.items()
                        if v != ""
                    }
                    enqueue_trial(store, study_id, picked, viewer=who)
                except AppError as exc:
                    _ui.error(exc)
                else:
                    st.toast("Enqueued: it runs next.")
    with st.expander(f"Search space (phase {phase}): narrow or widen it"):
        table = st.data_editor(
            _space_table(list(space.params), set(space.paths)),
            hide_index=True,
            disabled=["setting", "path", "kind", "log"],
            column_config={"path": None, "tune": None},
            key=f"phase_editor_{study_id}_{phase}",
        )
        why = st.text_input("Why (kept in the study's history)", max_chars=500, key="phase_why")
        if st.button("Use this space for later trials", key="new_phase"):
            try:
                number = new_phase(
                    store, study_id, _space_from(table, only_ticked=False), why.strip(), viewer=who
                )
            except (AppError, ValueError, TypeError) as exc:
                _ui.error(exc if isinstance(exc, AppError) else f"Check the ranges: {exc}")
            else:
                st.toast(f"Phase {number}: later trials draw from the new space.")
                st.rerun()
        history = get_study(store, study_id, viewer=who).phases
        st.dataframe(
            [{"phase": h["phase"], "at": h["at"], "why": h.get("why", "")} for h in history],
            hide_index=True,
            key="phase_history",
        )
    _handruns.section(store, who, study_id, trials)
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("loom_run")]
    if complete and len(spec.objectives) == 1:
        pick = min if spec.objectives[0].direction == "minimize" else max
        best = pick(complete, key=lambda t: t.values[0])
        label = f"Promote the best trial ({best.number}: {spec.objectives[0].metric} {best.values[0]:.4g})"
        if st.button(label, key="promote_best", type="primary"):
            st.switch_page("pages/train.py", query_params={"from_run": best.user_attrs["loom_run"]})
    numbered = {t.number: t for t in trials if t.user_attrs.get("loom_run")}
    if not numbered:
        return
    with st.expander("A trial: stop, re-run, note, promote"):
        number = st.selectbox("Trial", sorted(numbered), key="trial_pick")
        trial = numbered[number]
        run_id = trial.user_attrs["loom_run"]
        st.page_link("pages/jobs.py", label=f"Open trial {number}'s run", query_params={"run": run_id})
        c1, c2, c3 = st.columns(3)
        if trial.state.name == "RUNNING" and c1.button("Stop (fail) this trial", key="fail_trial"):
            stop_run(store, run_id, _ui.client(), viewer=who)
            st.toast(f"Trial {number} is being stopped; it is recorded as failed.")
        if c2.button("Re-run with the same values", key="rerun_trial"):
            try:
                enqueue_trial(store, study_id, trial.params, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                st.toast("Enqueued again.")
        if c3.button("Promote to a full run", key="promote_trial", type="primary"):
            st.switch_page("pages/train.py", query_params={"from_run": run_id})
        _ui.notes_and_tags("run", run_id, who, True, tags=False)


def _study_notes(study_id: str, can_note: bool) -> None:
    with st.expander("Notes and tags on this study"):
        _ui.notes_and_tags("study", study_id, who, can_note)


if _study_param:
    _show_study(_study_param)
else:
    _new_study()
