"""The run page's Evaluations section: the run scored on other datasets, and a form that scores it
on one more (an ``evaluate`` job)."""

from __future__ import annotations

import streamlit as st

from core.charts import plot_confusion_matrix
from core.charts import plot_predicted_vs_actual
from core.compute import TERMINAL
from core.compute import RunStatus
from core.compute import submit_run
from core.data import FORMATS
from core.data import IngestSpec
from core.data import detect_format
from core.data import get_dataset
from core.data import list_datasets
from core.data import save_upload
from core.errors import AppError
from core.store import DatasetRecord
from core.store import RunRecord
from core.store import Viewer
from core.store import get_run
from core.training import EvaluateSpec
from core.training import check_evaluation_data
from core.training import list_evaluations
from pages import _ui

__all__ = ["job_overlap", "section"]


def job_overlap(run: RunRecord, who: Viewer) -> None:
    """On an ``evaluate`` job's own page, beside its metrics: the overlap label of the evaluation
    it stored (a score on rows the run trained on is never shown unlabelled)."""
    if run.kind != "evaluate" or run.status != "succeeded":
        return
    try:
        evaluations = list_evaluations(_ui.store(), str(run.spec.get("model_run")), viewer=who)
    except AppError:
        return
    for e in evaluations:
        if e.id == run.id and e.overlap_warning:
            st.warning(e.overlap_warning)


def section(run: RunRecord, who: Viewer, *, can_submit: bool) -> None:
    """Evaluations of a succeeded training run; the form when ``can_submit``."""
    if run.kind != "train" or run.status != "succeeded" or not run.result.has_model:
        return
    store = _ui.store()
    st.subheader("Evaluations")
    try:
        evaluations = list_evaluations(store, run.id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    if evaluations:
        st.dataframe(
            [
                {
                    "dataset": e.dataset_name,
                    "rows trained on": e.overlap_summary,
                    **{k: round(v, 4) for k, v in sorted(e.metrics.items())},
                    "rows": e.rows.get("scored", 0),
                    "by": e.author,
                    "when": e.created_at,
                }
                for e in evaluations
            ],
            hide_index=True,
            key=f"evaluations_{run.id}",
        )
        for e in evaluations:  # a score on rows the run trained on is never shown unlabelled
            if e.overlap_warning:
                st.warning(f"On {_ui.md_escape(e.dataset_name)}: {e.overlap_warning}")
        for e in evaluations:
            flag = " ⚠ not held out" if e.overlap_warning else ""
            with st.expander(f"On {e.dataset_name} ({e.created_at:%Y-%m-%d %H:%M}){flag}"):
                if e.overlap_warning:
                    st.warning(e.overlap_warning)
                for warning in e.warnings:
                    st.warning(warning)
                if e.confusion:
                    left, right = st.columns(2)
                    left.plotly_chart(plot_confusion_matrix(e.confusion), key=f"eval_confusion_{e.id}")
                    right.dataframe([dict(p) for p in e.per_class], hide_index=True, key=f"eval_pc_{e.id}")
                elif e.pred_vs_actual:
                    st.plotly_chart(plot_predicted_vs_actual(e.pred_vs_actual), key=f"eval_pva_{e.id}")
    else:
        st.caption("Not yet scored on another dataset.")
    if can_submit:
        _form(run, who, {e.dataset_id for e in evaluations if e.dataset_id})


def _preselected(run: RunRecord, datasets: list[DatasetRecord], evaluated: set[str]) -> int | None:
    """The newest dataset the run did not train on and was not yet scored on, with its target and
    the training data's columns the model reads as they are; None (nothing chosen) when there is
    none. Never the training dataset: a score on rows a model learned from flatters it."""
    pipeline = run.spec.get("pipeline") or {}
    trained_on = pipeline.get("dataset_id") or run.dataset_id
    training = next((d for d in datasets if d.id == trained_on), None)
    needed = {pipeline.get("target")} | (
        set(run.result.features) & {c.name for c in training.profile.columns} if training else set()
    )
    for i, d in enumerate(datasets):  # newest first
        if d.id != trained_on and d.id not in evaluated and needed <= {c.name for c in d.profile.columns}:
            return i
    return None


def _form(run: RunRecord, who: Viewer, evaluated: set[str]) -> None:
    store = _ui.store()
    if failure := st.session_state.get(f"evaluate_error_{run.id}"):
        _ui.error(failure)
    pending = bool(st.session_state.get(f"evaluating_{run.id}"))
    if pending:
        _pending(run.id)
    datasets = list_datasets(store, viewer=who)
    trained_on = (run.spec.get("pipeline") or {}).get("dataset_id") or run.dataset_id
    # A submitted form starts over with new widget keys: the uploader lets go of its file, so a
    # second press does not upload and score it again.
    n = st.session_state.get(f"evaluate_form_{run.id}", 0)
    with st.form(f"evaluate_{run.id}", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        by_id = {d.id: d for d in datasets}
        labels = _ui.distinct(
            {
                d.id: f"{d.name} ({d.n_rows:,} rows)"
                + (" · the run's training data" if d.id == trained_on else "")
                for d in datasets
            }
        )
        chosen = c1.selectbox(
            "Evaluate on a dataset",
            list(labels),
            index=_preselected(run, datasets, evaluated),
            format_func=labels.__getitem__,
            placeholder="Choose a dataset the run did not train on",
            help="The run's fitted pipeline is applied unchanged; the dataset needs its columns and target. "
            "A score on rows the run trained on is labelled: it is not a held-out score.",
            key=f"evaluate_dataset_{run.id}" + (f"_{n}" if n else ""),
        )
        file = st.file_uploader(
            "…or upload a file to evaluate on (it is added to your datasets)",
            type=[s.lstrip(".") for ss in FORMATS.values() for s in ss],
            key=f"evaluate_file_{run.id}" + (f"_{n}" if n else ""),
        )
        if c2.form_submit_button("Evaluate"):
            try:
                if pending:
                    raise AppError("An evaluation of this run is in progress: wait for it to finish.")
                if file is not None:
                    # Read as any upload is (an ingest job); the evaluation follows once it is stored.
                    upload_id = save_upload(store, file, file.name, viewer=who)
                    job = submit_run(
                        _ui.client(),
                        store,
                        "ingest",
                        IngestSpec(
                            name=file.name, fmt=detect_format(file.name), upload_id=upload_id
                        ).to_dict(),
                        viewer=who,
                        name=f"ingest {file.name}"[:200],
                    )
                    st.session_state[f"evaluating_{run.id}"] = {"ingest": job}
                elif chosen is not None:
                    choice = by_id[chosen]
                    check_evaluation_data(run, choice)  # a missing column is named before any job
                    st.session_state[f"evaluating_{run.id}"] = {
                        "evaluate": _submit(run, choice.id, choice.name, who)
                    }
                else:
                    raise AppError("Choose a dataset or upload a file to evaluate the run on.")
            except AppError as exc:
                _ui.error(exc)
            else:
                st.session_state.pop(f"evaluate_error_{run.id}", None)
                st.session_state[f"evaluate_form_{run.id}"] = n + 1
                st.rerun()


def _submit(run: RunRecord, dataset_id: str, dataset_name: str, who: Viewer) -> str:
    return submit_run(
        _ui.client(),
        _ui.store(),
        "evaluate",
        EvaluateSpec(run.id, dataset_id).to_dict(),
        viewer=who,
        name=f"evaluation on {dataset_name}"[:200],
        dataset_id=dataset_id,
        parent_id=run.id,
        parent_kind="evaluated",
    )


@st.fragment(run_every="1s")
def _pending(run_id: str) -> None:
    """The upload being read, then the evaluation being computed; the page redraws once it ends
    (its row, or why it failed, then shows). The stage is read on every tick: a fragment's
    arguments stay those of the page's run that drew it."""
    key = f"evaluating_{run_id}"
    pending = st.session_state.get(key)
    if not pending:
        return
    ((stage, job_id),) = pending.items()
    who = _ui.viewer()
    try:
        job = get_run(_ui.store(), job_id, viewer=who)
        if stage == "ingest" and job.status == "succeeded":
            dataset = get_dataset(_ui.store(), job.result.dataset_id, viewer=who)
            run = get_run(_ui.store(), run_id, viewer=who)
            check_evaluation_data(run, dataset)
            st.session_state[key] = {"evaluate": _submit(run, dataset.id, dataset.name, who)}
            return
    except AppError as exc:  # shown above the form, where it stays until the next submit
        st.session_state.pop(key, None)
        st.session_state[f"evaluate_error_{run_id}"] = str(exc)
        st.rerun()
    if RunStatus(job.status) in TERMINAL:
        st.session_state.pop(key, None)
        # The form starts over once more: its choice, preselected while the upload was being read,
        # must not stay on the dataset just scored.
        form = f"evaluate_form_{run_id}"
        st.session_state[form] = st.session_state.get(form, 0) + 1
        if job.status != "succeeded":
            what = "The file could not be read" if stage == "ingest" else "The evaluation failed"
            st.session_state[f"evaluate_error_{run_id}"] = f"{what}: {job.status_reason or job.status}"
        st.rerun()
    doing = "Reading the file" if stage == "ingest" else "Evaluating"
    st.info(f"{doing}… ({job.status}, {job.progress:.0%})")
