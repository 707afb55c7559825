"""Predict: apply a trained model (a run of this Loom, or a bundle file) to new rows.

The prediction is a job on the cluster (the UI never loads TensorFlow); its result lives in the
store and the URL (``?model=<train run>`` chooses the model, ``?run=<prediction>`` shows one).
"""

import pandas as pd
import streamlit as st

from core.compute import TERMINAL
from core.compute import RunStatus
from core.compute import submit_run
from core.data import FORMATS
from core.data import detect_format
from core.data import list_datasets
from core.data import save_upload
from core.errors import AppError
from core.formatting import csv_bytes
from core.store import get_run
from core.store import list_runs
from core.training import PredictSpec
from core.training import read_bundle
from core.training import read_training_run
from core.training import save_bundle
from pages import _ui

st.title("Predict")
store = _ui.store()
who = _ui.viewer()
st.caption(
    "Apply a trained model to new rows. The rows go through the run's pipeline with the state it "
    "learned in training (medians, categories, scales); nothing is refitted."
)


def _show_prediction(run_id: str) -> None:
    try:
        run = get_run(store, run_id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    status = RunStatus(run.status)
    st.markdown(f"**{_ui.status_label(run.status)}** {_ui.md_escape(run.status_reason)}")
    if status not in TERMINAL:
        st.progress(min(1.0, run.progress))
        return
    if status is not RunStatus.SUCCEEDED:
        return
    path = store.path_for("predictions", run.id, ".parquet")
    if not path.exists():
        _ui.error("The prediction file is gone from the data directory. Predict again.")
        return
    result = run.result.prediction
    if result is None:
        _ui.error("This run is not a prediction Loom can show. Predict again.")
        return
    frame = pd.read_parquet(path)
    st.caption(
        f"{result.predicted:,} of {result.rows:,} rows predicted · target "
        f"`{result.target}` ({result.task}) · model run `{result.model_run}`"
    )
    for reason, count in result.removed.items():
        st.warning(_ui.md_escape(f"{count} row(s) {reason}: no prediction for them."))
    st.dataframe(frame.head(1000), hide_index=True, key=f"predictions_{run.id}")
    st.download_button(
        "Download predictions (CSV)",
        data=lambda: csv_bytes(frame),
        file_name=f"predictions-{run.id[:8]}.csv",
        mime="text/csv",
        on_click="ignore",
        key=f"download_predictions_{run.id}",
    )


@st.fragment(run_every="1s")
def _watch(run_id: str) -> None:
    _show_prediction(run_id)
    if RunStatus(get_run(store, run_id, viewer=who).status) in TERMINAL:
        st.rerun()


# --- the model --------------------------------------------------------------------------------
st.subheader("Model")
source = st.radio("Model from", ["A training run", "A bundle file"], horizontal=True, key="predict_source")
model_run = bundle_bytes = None
if source == "A training run":
    runs = list_runs(store, kind="train", statuses=["succeeded"], limit=500, viewer=who)
    runs = [r for r in runs if r.result.has_model]
    if not runs:
        st.info("No finished training run yet. Train a model on the Train page, or upload a bundle.")
        _ui.end_page()
    labels = {r.id: f"{r.name or r.id[:8]} · {r.created_at:%Y-%m-%d %H:%M}" for r in runs}
    model_run = _ui.url_selectbox("Training run", "model", labels, what="training run")
    chosen = next(r for r in runs if r.id == model_run)
    trained = read_training_run(chosen)
    if trained.pipeline is not None and trained.model is not None:
        st.caption(f"Predicts `{trained.pipeline.target}` · {trained.model.task}")
else:
    upload = st.file_uploader("Bundle (.zip downloaded from a run on the Jobs page)", type=["zip"])
    if upload is None:
        _ui.end_page()
    bundle_bytes = upload.getvalue()
    try:
        bundle = read_bundle(bundle_bytes)[0]
    except AppError as exc:
        _ui.fail(exc)
    st.caption(f"Predicts `{bundle.pipeline.target}` · {bundle.task} · from run `{bundle.run_id}`")

# --- the rows ---------------------------------------------------------------------------------
st.subheader("Rows")
rows_from = st.radio("Rows from", ["Upload a file", "A dataset in Loom"], horizontal=True, key="predict_rows")
rows_upload = rows_format = rows_dataset = None
if rows_from == "Upload a file":
    file = st.file_uploader(
        "New rows (the training data's columns; the target may be left out)",
        # Every format the Data page takes (images and .npz included).
        type=sorted({ext.lstrip(".") for exts in FORMATS.values() for ext in exts}),
        key="predict_upload",
    )
else:
    datasets = list_datasets(store, viewer=who)
    if not datasets:
        st.info("No datasets yet.")
        _ui.end_page()
    rows_dataset = st.selectbox(
        "Dataset",
        [d.id for d in datasets],
        format_func=_ui.distinct({d.id: d.name for d in datasets}).get,
        key="predict_ds",
    )

if st.button("Predict", type="primary", key="predict_go"):
    try:
        if rows_from == "Upload a file":
            if file is None:
                raise AppError("Choose a file of rows first.")
            rows_format = detect_format(file.name)
            rows_upload = save_upload(store, file, file.name, viewer=who)
        bundle_id = save_bundle(store, bundle_bytes, viewer=who) if bundle_bytes is not None else None
        spec = PredictSpec(model_run, bundle_id, rows_upload, rows_format or "csv", rows_dataset)
        run_id = submit_run(
            _ui.client(),
            store,
            "predict",
            spec.to_dict(),
            viewer=who,
            name="prediction",
            dataset_id=rows_dataset,
            parent_id=model_run,
            parent_kind="predicted",
        )
    except AppError as exc:
        _ui.error(exc)
    else:
        st.query_params["run"] = run_id
        st.rerun()

wanted = st.query_params.get("run")
if wanted:
    st.subheader("Prediction")
    try:
        current = get_run(store, wanted, viewer=who)
    except AppError:
        st.warning("The prediction in the link no longer exists. Predict again.")
    else:
        if current.kind != "predict":
            st.warning("The run in the link is not a prediction.")
        elif RunStatus(current.status) in TERMINAL:
            _show_prediction(wanted)
        else:
            _watch(wanted)
