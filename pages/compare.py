"""Compare: 2–10 runs side by side — overlaid curves, what differs in their configs, their metrics.

The view is in the URL (``?runs=a,b&metric=epoch/val_loss&x=step&smooth=0.6``); "Share" makes a
link to exactly this view.
"""

import pandas as pd
import streamlit as st

from core.charts import plot_comparison
from core.errors import AppError
from core.errors import NotFoundError
from core.experiments import MAX_RUNS
from core.experiments import compare_runs
from core.experiments import parse_run_ids
from core.experiments import smooth
from core.formatting import csv_bytes
from core.store import list_runs
from core.training import list_evaluations
from pages import _estimators
from pages import _groups
from pages import _ui

st.title("Compare")
store = _ui.store()
who = _ui.viewer("compare")
access = _ui.access(who)

if not st.query_params.get("runs") and not access.shared:
    # Opened from the sidebar: pick the runs here (the URL then carries them, as a link would).
    recent = {
        r.id: f"{r.name or r.id[:8]} · {r.kind} · {r.created_at:%Y-%m-%d %H:%M}"
        for r in list_runs(store, limit=200, viewer=who)
    }
    if len(recent) < 2:
        st.info("Compare needs at least two runs. Launch some on the Train or Jobs page.")
        _ui.end_page()
    labels = _ui.distinct(recent)
    picked = st.multiselect(
        f"Runs to compare (2 to {MAX_RUNS})",
        list(labels),
        format_func=labels.__getitem__,
        max_selections=MAX_RUNS,
        key="cmp_pick",
    )
    if st.button("Compare", type="primary", disabled=len(picked) < 2, key="cmp_pick_go"):
        st.query_params["runs"] = ",".join(picked)
        st.rerun()
    st.caption("Or pick runs on the Experiments page and press Compare there.")
    _ui.end_page()

try:
    run_ids = parse_run_ids(st.query_params.get("runs", ""))
except AppError as exc:
    _ui.error(exc)
    st.page_link("pages/experiments.py", label="Pick runs on the Experiments page")
    _ui.end_page()
metric = st.query_params.get("metric", "epoch/val_loss")
x_axis = st.query_params.get("x", "step")
try:
    weight = float(st.query_params.get("smooth", "0"))
    comparison = compare_runs(store, run_ids, metric, viewer=who)
    if x_axis not in ("step", "time"):
        raise AppError(f"x must be step or time, but the link says {x_axis[:20]!r}.")
    smooth([], weight)
except ValueError:
    _ui.fail(AppError("The link's smoothing is not a number."))
except NotFoundError:
    _ui.not_found("comparison", picker=None if access.shared else "pages/compare.py", label="Pick runs")
except AppError as exc:
    _ui.fail(exc)

c1, c2, c3 = st.columns([3, 1, 2])
keys = comparison.keys or [metric]
picked = c1.selectbox("Metric", keys, index=keys.index(metric) if metric in keys else 0, key="cmp_metric")
axis = c2.radio("x", ["step", "time"], index=["step", "time"].index(x_axis), horizontal=True, key="cmp_x")
smoothing = c3.slider("Smoothing", 0.0, 0.99, weight, 0.01, key="cmp_smooth")
if (picked, axis, smoothing) != (metric, x_axis, weight):
    st.query_params.update({"metric": picked, "x": axis, "smooth": f"{smoothing:g}"})
    st.rerun()

# Names need not be unique: every column and curve carries the run's short ID too.
names = {r.id: f"{r.label} ({r.id[:6]})" for r in comparison.runs}
series = {
    names[r.id]: (
        comparison.curves[r.id][axis],
        smooth(comparison.curves[r.id]["value"], weight),
    )
    for r in comparison.runs
}
st.plotly_chart(
    plot_comparison(
        series,
        x_label="seconds since start" if axis == "time" else "step",
        y_label=metric,
        dashed=frozenset(names[i] for i in comparison.baselines),
    ),
    key="cmp_chart",
)
if comparison.baselines:  # what every neural curve is measured against
    st.caption(
        "Dashed: baselines (" + ", ".join(_ui.md_escape(names[i]) for i in comparison.baselines) + "). "
        "The metrics table marks them in its baseline column."
    )
_estimators.refresh_while_running(store, who, run_ids)

st.subheader("Settings")
only = st.toggle("Only differences", value=True, key="cmp_only")
diff = pd.DataFrame(comparison.diff)
if only and not diff.empty:
    diff = diff[diff["differs"]]
diff = diff.drop(columns=["differs"], errors="ignore").rename(columns=names)
st.dataframe(diff.astype(str), hide_index=True, key="cmp_diff")

st.subheader("Metrics")
table = pd.DataFrame(comparison.table)
st.dataframe(table, hide_index=True, key="cmp_table")
st.download_button(
    "Download metrics (CSV)",
    data=lambda: csv_bytes(table),
    file_name="loom-compare.csv",
    mime="text/csv",
    on_click="ignore",
    key="cmp_csv",
)
_groups.compare_section(store, who, run_ids, metric)
if not access.shared and who.can_create:  # baselines for the first compared run that is none
    if others := [r.id for r in comparison.runs if r.kind == "train" and r.id not in comparison.baselines]:
        _estimators.run_baselines_button(store, who, others[0], shown=run_ids, key="cmp")
# Each run scored on other datasets (an evaluation is visible exactly when its run is).
evaluated = [(r, e) for r in comparison.runs for e in list_evaluations(store, r.id, viewer=who)]
scored = [
    {
        "run": names[r.id],
        "dataset": e.dataset_name,
        "rows trained on": e.overlap_summary,  # a score on training rows is not a held-out one
        **{k: round(v, 4) for k, v in sorted(e.metrics.items())},
    }
    for r, e in evaluated
]
if scored:
    st.subheader("Evaluations on other datasets")
    st.dataframe(pd.DataFrame(scored), hide_index=True, key="cmp_evaluations")
    for r, e in evaluated:
        if e.overlap_warning:
            st.warning(
                f"{_ui.md_escape(names[r.id])} on {_ui.md_escape(e.dataset_name)}: {e.overlap_warning}"
            )

if not access.shared:  # a compare link shows these runs here, not their own pages
    for r in comparison.runs:
        st.page_link("pages/jobs.py", label=f"Open {_ui.md_escape(names[r.id])}", query_params={"run": r.id})

if access.can_share and all(who.owns(r.author) for r in comparison.runs):
    _ui.share_box(
        "compare",
        "",
        {"runs": ",".join(run_ids), "metric": metric, "x": x_axis, "smooth": f"{weight:g}"},
        who,
    )
