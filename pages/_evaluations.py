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
from core.store import RunRecord
from core.store import Viewer
from core.store import get_run
from core.training import EvaluateSpec
from core.training import list_evaluations
from pages import _ui

__all__ = ["section"]


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
        for e in evaluations:
            with st.expander(f"On {e.dataset_name} ({e.created_at:%Y-%m-%d %H:%M})"):
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
        _form(run, who)


def _form(run: RunRecord, who: Viewer) -> None:
    store = _ui.store()
    if failure := st.session_state.get(f"evaluate_error_{run.id}"):
        _ui.error(failure)
    if st.session_state.get(f"evaluating_{run.id}"):
        _pending(run.id)
    datasets = list_datasets(store, viewer=who)
    with st.form(f"evaluate_{run.id}", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        by_id = {d.id: d for d in datasets}
        labels = _ui.distinct({d.id: f"{d.name} ({d.n_rows:,} rows)" for d in datasets})
        chosen = c1.selectbox(
            "Evaluate on a dataset",
            list(labels),
            index=None if not labels else 0,
            format_func=labels.__getitem__,
            help="The run's fitted pipeline is applied unchanged; the dataset needs its columns and target.",
            key=f"evaluate_dataset_{run.id}",
        )
        file = st.file_uploader(
            "…or upload a file to evaluate on (it is added to your datasets)",
            type=[s.lstrip(".") for ss in FORMATS.values() for s in ss],
            key=f"evaluate_file_{run.id}",
        )
        if c2.form_submit_button("Evaluate"):
            try:
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
                    st.session_state[f"evaluating_{run.id}"] = {
                        "evaluate": _submit(run, choice.id, choice.name, who)
                    }
                else:
                    raise AppError("Choose a dataset or upload a file to evaluate the run on.")
            except AppError as exc:
                _ui.error(exc)
            else:
                st.session_state.pop(f"evaluate_error_{run.id}", None)
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
            st.session_state[key] = {"evaluate": _submit(run, dataset.id, dataset.name, who)}
            return
    except AppError as exc:
        st.session_state.pop(key, None)
        _ui.error(exc)
        return
    if RunStatus(job.status) in TERMINAL:
        st.session_state.pop(key, None)
        if job.status != "succeeded":
            what = "The file could not be read" if stage == "ingest" else "The evaluation failed"
            st.session_state[f"evaluate_error_{run_id}"] = f"{what}: {job.status_reason or job.status}"
        st.rerun()
    doing = "Reading the file" if stage == "ingest" else "Evaluating"
    st.info(f"{doing}… ({job.status}, {job.progress:.0%})")
