"""Jobs: launch the smoke job, watch any run live, stop it.

The selected run lives in the URL (``?run=<id>``), so a reload or a shared link shows it again.
"""

import time

import streamlit as st

from core.charts import get_run_chart_groups
from core.charts import plot_confusion_matrix
from core.charts import plot_metric_curves
from core.charts import plot_predicted_vs_actual
from core.compute import EXTERNAL_KIND
from core.compute import TERMINAL
from core.compute import ControlRequest
from core.compute import RunStatus
from core.compute import SmokeSpec
from core.compute import pair_controls
from core.compute import request_control
from core.compute import stop_run
from core.compute import submit_run
from core.data import get_dataset
from core.errors import AppError
from core.errors import NotFoundError
from core.formatting import human_duration
from core.live import LiveFrame
from core.live import live_figure
from core.live import live_frame
from core.live import run_markers
from core.models import is_estimator
from core.models import layer_rows
from core.pipeline import to_dot
from core.store import MetricView
from core.store import RunRecord
from core.store import child_runs
from core.store import extend_view
from core.store import get_events
from core.store import get_run
from core.store import list_runs
from core.store import metric_view
from core.store import metrics_since
from core.store import seconds_since
from core.store import thaw
from core.training import TrainingRun
from core.training import export_bundle
from core.training import last_checkpoint
from core.training import read_training_run
from core.training import resume_spec
from pages import _alerts
from pages import _branch
from pages import _estimators
from pages import _evaluations
from pages import _groups
from pages import _ui

st.title("Jobs")
store = _ui.store()
shared_run = st.query_params.get("run") if st.query_params.get("share") else None
who = _ui.viewer("run", shared_run) if shared_run else _ui.viewer()
access = _ui.access(who)

try:
    runs = (
        list_runs(store, limit=200, viewer=who)
        if not access.shared
        else [get_run(store, shared_run, viewer=who)]
    )
except NotFoundError:
    _ui.not_found("run")
except AppError as exc:
    _ui.fail(exc)


def _smoke_launcher() -> None:
    st.caption(
        "A tiny job that streams a falling loss from a Dask worker into the store. "
        "Use it to check that the cluster, the store and live updates work."
    )
    with st.form("smoke_form", border=False):
        c1, c2, c3 = st.columns(3)
        steps = c1.number_input("Steps", 1, 100_000, 120, key="smoke_steps")
        interval = c2.number_input("Seconds between steps", 0.0, 60.0, 0.25, step=0.05, key="smoke_interval")
        fail_at = c3.number_input("Fail on purpose at step (-1: never)", -1, 100_000, -1, key="smoke_fail_at")
        name = st.text_input("Name (optional)", max_chars=200, key="smoke_name")
        launched = st.form_submit_button("Launch", type="primary", key="smoke_launch")
    if launched:
        try:
            spec = SmokeSpec(
                steps=int(steps),
                interval_s=float(interval),
                fail_at_step=None if fail_at < 0 else int(fail_at),
            )
            run_id = submit_run(
                _ui.client(), store, "smoke", dict(spec.to_dict()), viewer=who, name=name.strip()
            )
        except AppError as exc:
            _ui.error(exc)
        else:
            st.query_params["run"] = run_id
            st.rerun()


if access.can_act:
    # Open while there is nothing to watch; constant within a visit so it never folds on a rerun.
    with st.expander("Launch the smoke job", expanded=not runs):
        _smoke_launcher()

if not runs:
    st.info("No runs yet. Launch the smoke job above.")
    _ui.end_page()  # not st.stop(): that keeps the live fragment a run before drew (_ui.end_page)


def _label(run) -> str:  # type: ignore[no-untyped-def]
    # No status here: the list is drawn once per page load, the status below refreshes live.
    return f"{run.name or run.id[:8]} · {run.kind} · {run.created_at:%Y-%m-%d %H:%M:%S}"


labels = {r.id: _label(r) for r in runs}
wanted = st.query_params.get("run")
if wanted and wanted not in labels:  # an older run than the list holds: add it
    try:
        extra = get_run(store, wanted, viewer=who)
    except AppError:
        pass  # gone: url_selectbox says so and shows the newest
    else:
        labels = {extra.id: _label(extra), **labels}
selected = shared_run if access.shared else _ui.url_selectbox("Run", "run", labels, what="run")


def _render(run: RunRecord, frame: LiveFrame | None = None) -> None:
    """Draw ``run`` as read from the store (a live ``frame``: as the process's shared feed holds it)."""
    run_id = run.id
    status = RunStatus(run.status)
    owner = _ui.may_change(who, run.author, run.project_id)
    head = st.columns(3)
    head[0].markdown(f"**{_ui.status_label(run.status)}**  \n{_ui.md_escape(run.status_reason)}")
    elapsed = (
        seconds_since(run.started_at)
        if run.ended_at is None
        else ((run.ended_at - run.started_at).total_seconds() if run.started_at else None)
    )
    head[1].markdown(f"**Worker**  \n`{run.worker or '–'}`")
    head[2].markdown(f"**Elapsed**  \n{human_duration(elapsed)}")
    # Read once per draw: controls and markers.
    events = frame.events if frame is not None else get_events(store, run_id, viewer=who)
    _control_feed(pair_controls(events, run.status, run.ended_at))
    if run.kind == EXTERNAL_KIND:
        st.badge("external: logged by a script (core.track)", icon=":material/terminal:", color="violet")
        if status is RunStatus.RUNNING:
            st.caption(
                "Stop reaches any script (`run.should_stop`); pause and learning rate reach a "
                "`model.fit` that uses `track.KerasCallback`."
            )
    if status in (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.FAILED) and run.kind == "train":
        if owner:
            _resume(run)
    view = _view(run_id, None, None) if frame is None else _shared_view(frame)
    points = sum(view.stored.values())
    if run.kind != EXTERNAL_KIND or run.progress > 0:
        eta = ""
        if status is RunStatus.RUNNING and elapsed and 0.02 < run.progress < 1:
            eta = f" · about {human_duration(elapsed * (1 - run.progress) / run.progress)} left"
        st.progress(min(1.0, run.progress), text=f"{run.progress:.0%}{eta}")
    else:  # a script's total is unknown: its steps and time so far, no progress bar
        last = max((s[1] for s in view.span.values()), default=0)
        st.caption(f"Step {last:,} · {human_duration(elapsed)} elapsed · total unknown (a script run)")
    # One chart per x axis, one y axis per quantity inside it (core.charts decides both).
    charts = get_run_chart_groups(view.series)
    for key in charts.rates:
        if (series := view.series[key]).steps:
            st.caption(f"{series.values[-1]:,.0f} samples/s (epoch {series.steps[-1]})")
    weight = _smoothing(run_id) if charts.charts else 0.0
    markers = run_markers(events)
    shared = _branch.history(store, who, run)  # a branch: its parent's curves to where it branched
    for prefix, keys in charts.charts or [("", [])]:
        whole = group = {k: view.series[k] for k in keys}
        if not all(view.exact.get(k, True) for k in group):
            group = _zoomed(run_id, prefix, group, view)
        drawing = {
            "markers": markers if prefix == "batch" else None,
            "smoothing": 0.0 if prefix == "system" else weight,  # machine readings are not smoothed
            "history": shared,
        }
        # A live chart of the whole run: drawn once per state for every viewer of the process.
        fig = (
            live_figure(frame, keys, **drawing)
            if frame is not None and group is whole
            else plot_metric_curves(group, **drawing)
        )
        st.plotly_chart(
            fig, key=f"chart_{run_id}_{prefix}", **_branch.chart_options(run, prefix, status in TERMINAL)
        )
    if status in TERMINAL and not access.shared:
        _branch.section(store, who, run, f"chart_{run_id}_epoch")
    st.caption(f"{points} points · run `{run.id}` · spec hash `{run.spec_hash[:12]}`")
    if run.kind == "predict" and status is RunStatus.SUCCEEDED:
        st.page_link("pages/predict.py", label="Open the predictions", query_params={"run": run.id})
    result = run.result
    if result.evaluation:
        cols = st.columns(min(4, len(result.evaluation)))
        for i, (name, value) in enumerate(sorted(result.evaluation.items())):
            cols[i % len(cols)].metric(name.replace("_", " "), f"{value:.4g}")
        _evaluations.job_overlap(run, who)
        st.caption(
            f"{result.params:,} parameters · rows: "
            + ", ".join(f"{k} {v}" for k, v in result.rows.items())
            + f" · model saved as `models/{run.id}{_estimators.model_suffix(run)}`"
        )
        if status is RunStatus.SUCCEEDED and result.has_model:
            c1, c2 = st.columns([1, 3])
            # Through a link, only if its owner allowed it (core refuses otherwise too).
            if not access.shared or (who.grant is not None and who.grant.allows_download(run.id)):
                c1.download_button(
                    "Download bundle",
                    data=lambda: export_bundle(store, run.id, viewer=who),
                    file_name=f"loom-model-{run.id[:8]}.zip",
                    mime="application/zip",
                    on_click="ignore",
                    key=f"bundle_{run.id}",
                    help="The model (.keras, or .skops for scikit-learn), the pipeline spec and its fitted "
                    "state, and the metrics as CSV.",
                )
            if not access.shared:
                c2.page_link(
                    "pages/predict.py", label="Predict with this model", query_params={"model": run.id}
                )
            if not access.shared and who.can_create and run.kind == "train":
                with c2:
                    _estimators.run_baselines_button(store, who, run.id)
        if result.confusion or result.pred_vs_actual:
            with st.expander("Results on the held-out split", expanded=True):
                if result.confusion:
                    left, right = st.columns(2)
                    left.plotly_chart(plot_confusion_matrix(result.confusion), key=f"confusion_{run_id}")
                    right.markdown(_ui.md_table([dict(p) for p in result.per_class]))
                else:
                    st.plotly_chart(plot_predicted_vs_actual(result.pred_vs_actual), key=f"pva_{run_id}")


def _view(
    run_id: str, keys: tuple[str, ...] | None, window: tuple[int | None, int | None] | None
) -> MetricView:
    """The curves to draw, read once per visit and then only appended to: each rerun (and each
    live tick) reads the rows written since the last one, never the history again."""
    slot = f"curves_{run_id}_{keys}"
    view = st.session_state.get(slot)
    if view is None or view.window != window:
        view = metric_view(store, run_id, viewer=who, keys=keys, window=window)
    else:
        new, last = metrics_since(store, run_id, view.last_id, viewer=who)
        if keys is not None:
            new = {k: v for k, v in new.items() if k in keys}
        view = extend_view(view, new, last)
    return _keep(run_id, slot, view)


def _keep(run_id: str, slot: str, view: MetricView) -> MetricView:
    """Keep ``view`` as this visitor's ``slot`` (session state, never a shared cache), forgetting
    other runs' curves: this visitor moved on."""
    for old in [k for k in st.session_state if str(k).startswith("curves_") and run_id not in str(k)]:
        del st.session_state[old]
    st.session_state[slot] = view
    return view


def _shared_view(frame: LiveFrame) -> MetricView:
    """The live feed's view of the run, kept as this visitor's too: when the run ends, the
    finished page appends to it what was written since, as :func:`_view` does."""
    return _keep(frame.run.id, f"curves_{frame.run.id}_None", frame.view)  # frozen: only ever replaced


def _smoothing(run_id: str) -> float:
    """TensorBoard's smoothing weight for this run's curves: a slider whose value lives in the
    URL (``?smooth=0.6``), so a reload or a shared link draws the same curves. The URL wins over
    the widget's remembered value (a link opened in the same session); a move of the slider
    writes the URL before the page reruns."""
    key = f"smooth_{run_id}"
    try:
        wanted = round(min(0.99, max(0.0, float(st.query_params.get("smooth", "0")))), 2)
    except ValueError:
        wanted = 0.0
    if st.session_state.get(key) != wanted:
        st.session_state[key] = wanted

    def moved() -> None:
        if weight := st.session_state[key]:
            st.query_params["smooth"] = f"{weight:g}"
        else:
            st.query_params.pop("smooth", None)

    return float(
        st.slider(
            "Smoothing",
            0.0,
            0.99,
            step=0.01,
            key=key,
            on_change=moved,
            help="A debiased exponential moving average, as TensorBoard draws it; the raw curve "
            "stays faded behind. 0: raw values only.",
        )
    )


def _zoomed(run_id: str, prefix: str, group: dict, view: MetricView) -> dict:
    """A long curve is drawn from a few thousand points that keep its extremes; a step window
    re-reads that window, every point once it holds under 20,000 (Plotly's own zoom is not
    reported back to the app)."""
    first = min(view.span[k][0] for k in group)
    last = max(view.span[k][1] for k in group)
    stored = max(view.stored[k] for k in group)
    c1, c2, c3 = st.columns([1, 1, 3])
    lo = c1.number_input(
        "From step", value=None, step=1, key=f"zoom_lo_{run_id}_{prefix}", placeholder=f"{first}"
    )
    hi = c2.number_input(
        "To step", value=None, step=1, key=f"zoom_hi_{run_id}_{prefix}", placeholder=f"{last} (latest)"
    )
    c3.caption(
        f"{stored:,} points per curve, drawn as {max(len(s.steps) for s in group.values()):,} that keep "
        "every peak and dip. Pick a step window to read it in full detail (every point under 20,000)."
    )
    if lo is None and hi is None:
        return group
    window = (None if lo is None else int(lo), None if hi is None else int(hi))
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        _ui.error(f"`From step <= To step` must hold, but got {window[0]} > {window[1]}.")
        return group
    return dict(_view(run_id, tuple(sorted(group)), window).series)


def _resume(run: RunRecord) -> None:
    epoch = last_checkpoint(store, run.id)
    trained = read_training_run(run)
    if epoch is None or trained.spec is None:
        return
    total = trained.spec.epochs
    more = st.number_input(
        "Train until epoch", epoch + 1, 100_000, max(total, epoch + 1), key=f"until_{run.id}"
    )
    if st.button(f"Resume from epoch {epoch}", key=f"resume_run_{run.id}", type="primary"):
        try:
            new_id = submit_run(
                _ui.client(),
                store,
                "train",
                resume_spec(trained, int(more)).to_dict(),
                viewer=who,
                name=f"{run.name} (resumed)",
                dataset_id=run.dataset_id,
                parent_id=run.id,
                parent_kind="resumed",
                team=run.team,
            )
        except AppError as exc:
            _ui.error(exc)
        else:
            st.query_params["run"] = new_id
            st.rerun()


def _send(run_id: str, action: str) -> None:
    """A control button's ``on_click``. Streamlit runs it before the page's next run, so the
    request is in the store before anything redraws. The buttons sit outside the live fragment:
    a click that lands while the fragment redraws reruns the page and is never dropped (a click
    inside a fragment that was just replaced was lost: "The fragment with id ... does not exist
    anymore")."""
    value = float(st.session_state[f"lr_{run_id}"]) if action == "set_lr" else None
    # Streamlit carries a click over into the next run when the run it started is interrupted
    # (by the live view's timer, or the next click), so the callback can run twice for one
    # click: the same request within a second is that click again, not a second request.
    now = time.monotonic()
    last = st.session_state.get("last_control")
    if last is not None and last[:3] == (run_id, action, value) and now - last[3] < 1.0:
        return
    st.session_state["last_control"] = (run_id, action, value, now)
    try:
        if action == "stop":
            decision = stop_run(store, run_id, _ui.client(), viewer=who)
            if not decision.actions:  # nothing changed: say why rather than stay silent
                status = decision.state.status
                st.session_state["control_notice"] = (
                    f"Run {run_id[:8]} had already ended ({status}) when the Stop arrived: "
                    "there was nothing to stop."
                    if RunStatus(status) in TERMINAL
                    else "Stop was already requested; the run takes it before its next batch."
                )
        else:
            request_control(store, run_id, action, value, viewer=who)
    except AppError as exc:  # a run that has just ended, a bad rate: said above the buttons
        st.session_state["control_notice"] = str(exc)


def _controls(run: RunRecord) -> None:
    """Stop, Pause, Resume and Set learning rate for a live run, drawn once per page run."""
    steer = run.kind in ("train", EXTERNAL_KIND)
    cols = st.columns([1, 1, 1, 2, 1] if steer else [1, 6], vertical_alignment="bottom")
    cols[0].button("Stop", key=f"stop_{run.id}", type="primary", on_click=_send, args=(run.id, "stop"))
    if not steer:
        return
    cols[1].button("Pause", key=f"pause_{run.id}", on_click=_send, args=(run.id, "pause"))
    cols[2].button("Resume", key=f"resume_{run.id}", on_click=_send, args=(run.id, "resume"))
    cols[3].number_input(
        "New learning rate", value=1e-3, min_value=1e-9, format="%.6f", step=1e-4, key=f"lr_{run.id}"
    )
    cols[4].button("Set", key=f"set_lr_{run.id}", on_click=_send, args=(run.id, "set_lr"))


_ICONS = {
    "requested": ":material/hourglass_top:",
    "taken": ":material/check_circle:",
    "answered": ":material/info:",
    "missed": ":material/warning:",
}
_ACTIONS = {"stop": "Stop", "pause": "Pause", "resume": "Resume", "set_lr": "Set learning rate"}


def _control_feed(requests: list[ControlRequest]) -> None:
    """The last few requests: shown as requested the moment they are stored, then as taken."""
    for req in requests[-3:][::-1]:
        what = _ACTIONS.get(req.action, req.action) + (f" {req.value:g}" if req.value is not None else "")
        when = f"{req.requested_at:%H:%M:%S}"
        took = req.seconds_to_take
        lag = f" ({took:.1f} s after the request)" if took is not None and req.state == "taken" else ""
        st.caption(
            f"{_ICONS.get(req.state, '')} **{what}** requested at {when}"
            + (f" by {_ui.md_escape(req.by)}" if req.by and req.by != "user" else "")
            + f" · {_ui.md_escape(req.outcome)}{lag}"
        )


def _details(run: RunRecord) -> None:
    """Specs, lineage, notes and tags, events, sharing: everything about a run beside its curves."""
    # The events table is drawn only while its tab is open (the tabs rerun the page when
    # switched), as are the pipeline graph and the spec's JSON: each is a JavaScript bundle
    # (data grid and Arrow, Graphviz, JSON viewer) that a cold browser loads before it draws
    # the charts. The other tabs are text and small widgets, drawn always.
    _ui.project_box("run", run.id, run.project_id, run.author, who)
    tabs = st.tabs(
        ["Specs", "Lineage", "Notes and tags", "Events", "Share"], key="run_tabs", on_change="rerun"
    )
    with tabs[0]:
        if run.kind == "train":
            if access.can_fork:  # a fork link carries its token to Train, which reads the source with it
                fork = {"from_run": run.id} | ({"share": st.query_params["share"]} if access.shared else {})
                st.page_link(
                    "pages/train.py",
                    label="Tweak and rerun (opens Train pre-filled)",
                    query_params=fork,
                    icon=":material/call_split:",
                )
            trained = read_training_run(run)
            if trained.spec is None:
                # A spec from another version of Loom, or edited by hand: say so, show the JSON.
                _ui.error(f"This run's spec cannot be drawn ({trained.problem}); its JSON is below.")
            else:
                _train_specs(trained)
        whole = st.expander("The whole spec (JSON)", key="run_spec_json", on_change="rerun")
        if whole.open:
            whole.json(thaw(run.spec))
    with tabs[1]:
        if access.shared:
            st.caption("A share link shows this run only, not the runs it came from or led to.")
        else:
            _lineage(run)
    with tabs[2]:
        _ui.notes_and_tags("run", run.id, who, access.can_note)
    with tabs[3]:
        if tabs[3].open:
            _events_table(run)
    with tabs[4]:
        _share_tab(run)


def _events_table(run: RunRecord) -> None:
    st.dataframe(
        [
            {"time": e.ts, "kind": e.kind, "from": e.from_status, "to": e.to_status, "message": e.message}
            for e in get_events(store, run.id, viewer=who)
        ],
        hide_index=True,
        key="events_table",
    )


def _share_tab(run: RunRecord) -> None:
    if _ui.may_change(who, run.author, run.project_id):
        _ui.team_box("run", run.id, run.team, who)
        _ui.share_box("run", run.id, {}, who)
    elif access.shared:
        st.caption("You opened this run through a share link.")
    else:
        st.caption(f"Only its owner ({_ui.md_escape(run.author)}) can share this run.")


def _dataset_label(dataset_id: str) -> str:
    """A dataset's name and short ID, or its short ID alone where the viewer cannot see it."""
    try:
        return f"{get_dataset(store, dataset_id, viewer=who).name} ({dataset_id[:8]})"
    except NotFoundError:
        return f"{dataset_id[:8]} (not available to you)"


def _train_specs(trained: TrainingRun) -> None:
    run, spec = trained.run, trained.spec
    assert spec is not None and trained.pipeline is not None and trained.model is not None  # noqa: S101
    pipeline = trained.pipeline
    steps = " → ".join(_ui.md_escape(n.step.title) for n in pipeline.nodes)
    st.markdown(f"**Pipeline**: dataset (target {_ui.md_escape(pipeline.target)}) → {steps}")
    graph = st.expander("Pipeline graph", key=f"pipeline_graph_{run.id}", on_change="rerun")
    if graph.open:  # drawn on demand: the graph's bundle is large for a cold page
        graph.graphviz_chart(to_dot(pipeline))
    c1, c2 = st.columns(2)
    if is_estimator(trained.model):  # scikit-learn: its kind and hyperparameters
        c1.markdown(f"**Model**: {trained.model.label} (scikit-learn)")  # type: ignore[union-attr]
        c1.markdown(_ui.md_pairs(dict(trained.model.params)))  # type: ignore[union-attr]
    else:
        c1.markdown("**Model**")
        c1.markdown(_ui.md_table(layer_rows(trained.model)))
    c2.markdown("**Optimizer**")
    c2.markdown(_ui.md_pairs(dict(spec.optimizer)))
    c2.markdown("**Settings**")
    c2.markdown(
        _ui.md_pairs(
            {
                "epochs": spec.epochs,
                "batch_size": spec.batch_size,
                "seed": spec.seed,
                "early_stopping": spec.early_stopping,
                "workers": spec.workers,
                "backend": spec.backend,
                # As Keras's validation_data: every row of the run's dataset trained, this one validated.
                "validation_dataset": _dataset_label(spec.validation_dataset)
                if spec.validation_dataset
                else "none (the split's held-out rows)",
            }
        )
    )
    env = run.result.environment
    if env:
        st.caption("Ran with " + ", ".join(f"{k} {v}" for k, v in env.items() if v not in (None, "")))


def _lineage(run: RunRecord) -> None:
    if run.parent_id:
        st.page_link(
            "pages/jobs.py",
            label=f"{run.parent_kind or 'derived'} from run {run.parent_id[:8]}",
            query_params={"run": run.parent_id},
        )
    trial = run.trial
    if trial:
        st.page_link(
            "pages/tune.py",
            label=f"trial {trial.get('number')} of a study",
            query_params={"study": trial["study"]},
        )
    _branch.lineage(store, who, run)
    children = child_runs(store, run.id, viewer=who)
    for child_id, name, how in children:
        st.page_link(
            "pages/jobs.py",
            label=f"{how}: {_ui.md_escape(name or child_id[:8])}",
            query_params={"run": child_id},
        )
    if not (run.parent_id or trial or children):
        st.caption(
            "No parent or children: this run was launched from scratch and nothing derives from it yet."
        )


# Twice a second, so a point is on screen within a second of being logged (bench/live_latency.py);
# each tick reads only what was written since the last (the job writes every quarter second).
@st.fragment(run_every=0.5)
def _live(run_id: str) -> None:
    try:
        frame = live_frame(store, run_id, viewer=who)  # the viewer's check, then the shared feed
        run = frame.run
        if RunStatus(run.status) in TERMINAL:
            # The page draws the finished view, once (which also stops the polling): drawn
            # here too, its buttons and captions would show twice until the page's rerun ends.
            st.rerun()
        _render(run, frame)
    except AppError as exc:
        _ui.error(exc)


try:
    current = get_run(store, selected, viewer=who)
except NotFoundError:
    _ui.not_found("run")
except AppError as exc:
    _ui.fail(exc)
# What a control's callback had to say (a Stop that arrived as the run ended): shown whatever
# the run's state now, since the buttons it came from are gone once the run has ended.
if notice := st.session_state.pop("control_notice", None):
    _ui.error(notice)
if RunStatus(current.status) in TERMINAL:
    _render(current)
else:
    if _ui.may_change(who, current.author, current.project_id):
        _controls(current)
    _live(selected)

_evaluations.section(current, who, can_submit=not access.shared and who.can_create)
if not access.shared:
    _groups.run_group_link(store, who, current.id)
_alerts.section(
    store,
    who,
    "run",
    current.id,
    editable=not access.shared and _ui.may_change(who, current.author, current.project_id),
)
_details(current)
