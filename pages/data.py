"""Data: add datasets (upload, samples, server files), see their profile, pick a target.

Reading and profiling run as an ``ingest`` job on the Dask cluster; this page only saves the
upload and watches the job. The URL holds the state: ``?dataset=<id>`` and ``?ingest=<run id>``.
"""

import base64
from pathlib import Path

import streamlit as st

from core.charts import plot_class_balance
from core.charts import plot_column_distribution
from core.charts import plot_correlation
from core.compute import TERMINAL
from core.compute import RunStatus
from core.compute import submit_run
from core.data import DELIMITERS
from core.data import ENCODINGS
from core.data import FORMATS
from core.data import IngestSpec
from core.data import default_target
from core.data import delete_dataset
from core.data import detect_format
from core.data import get_dataset
from core.data import list_datasets
from core.data import rename_dataset
from core.data import save_upload
from core.data import set_dataset_team
from core.data import summarize_target
from core.errors import AppError
from core.formatting import human_bytes
from core.store import ColumnProfile
from core.store import get_run
from pages import _ui

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLES = {
    "Iris flowers (classification, 150 rows)": "iris.csv",
    "Housing prices (regression with missing values, 1,000 rows)": "housing.csv",
    "Handwritten digits 8x8 (image classification, 1,797 images)": "digits_8x8.npz",
}
_DELIM_LABELS = {"detect": None, "comma ,": ",", "tab": "\t", "semicolon ;": ";", "pipe |": "|"}
assert set(_DELIM_LABELS.values()) - {None} == set(DELIMITERS)  # noqa: S101 - kept in step with core

st.title("Data")
store = _ui.store()
who = _ui.viewer()


def _start_ingest(spec: IngestSpec, team: str = "") -> None:
    run_id = submit_run(
        _ui.client(), store, "ingest", spec.to_dict(), viewer=who, team=team, name=f"ingest {spec.name}"
    )
    st.query_params["ingest"] = run_id
    st.rerun()


try:
    datasets = list_datasets(store, viewer=who)
except AppError as exc:
    _ui.fail(exc)

# Open while there is nothing to show; the argument must not change between reruns of one
# visit, or Streamlit folds the expander under the user's hands. Its state is tracked (key) so a
# finished ingest can fold it, and the uploader's key changes then so it lets go of the file.
if st.session_state.pop("_data_ingested", False):
    st.session_state["add_dataset"] = False
    st.session_state["upload_gen"] = st.session_state.get("upload_gen", 0) + 1
upload_gen = st.session_state.get("upload_gen", 0)
_ui.viewer_here(who, "adding a dataset")  # the form stays: core refuses the upload, saying why
with st.expander("Add a dataset", expanded=not datasets, key="add_dataset", on_change="rerun"):
    team = _ui.team_choice("data_team", who, label="New datasets are visible to")
    upload_tab, sample_tab, server_tab = st.tabs(["Upload", "Samples", "File on the server"])
    with upload_tab:
        suffixes = [s.lstrip(".") for ss in FORMATS.values() for s in ss]
        file = st.file_uploader(
            "CSV/TSV, Parquet, JSON Lines, NumPy .npz, or a ZIP of images (one folder per class)",
            type=suffixes,
            key=f"upload_file_{upload_gen}",
        )
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.text_input(
            "Name", value=file.name if file else "", max_chars=200, key=f"upload_name_{upload_gen}"
        )
        delim = c2.selectbox("Delimiter (CSV)", list(_DELIM_LABELS), key="upload_delimiter")
        enc = c3.selectbox("Encoding (CSV)", ["detect", *ENCODINGS], key="upload_encoding")
        if st.button("Ingest", type="primary", key="upload_go", disabled=file is None):
            try:
                fmt = detect_format(file.name)
                upload_id = save_upload(store, file, file.name, viewer=who)
                _start_ingest(
                    IngestSpec(
                        name=name or file.name,
                        fmt=fmt,
                        upload_id=upload_id,
                        delimiter=_DELIM_LABELS[delim],
                        encoding=None if enc == "detect" else enc,
                    ),
                    team,
                )
            except AppError as exc:
                _ui.error(exc)
    with sample_tab:
        st.caption("Small datasets shipped with Loom (see the README for sources and licences).")
        sample = st.selectbox("Sample", list(SAMPLES), key="sample_pick")
        if st.button("Add sample", type="primary", key="sample_go"):
            filename = SAMPLES[sample]
            try:
                with open(ASSETS / filename, "rb") as fh:
                    upload_id = save_upload(store, fh, filename, viewer=who)
                _start_ingest(
                    IngestSpec(name=filename, fmt=detect_format(filename), upload_id=upload_id), team
                )
            except AppError as exc:
                _ui.error(exc)
    with server_tab:
        root = store.config.import_root
        if root is None:
            st.info(
                "For files too large to upload: set `LOOM_IMPORT_ROOT` to a folder on the server and "
                "restart Loom; files under it can then be registered here without uploading."
            )
        else:
            st.caption(f"Files under `{root}` (the import root).")
            rel = st.text_input("Path relative to the import root", key="server_path")
            if st.button("Register", type="primary", key="server_go", disabled=not rel):
                try:
                    _start_ingest(
                        IngestSpec(name=Path(rel).name, fmt=detect_format(rel), server_path=rel), team
                    )
                except AppError as exc:
                    _ui.error(exc)


@st.fragment(run_every="1s")
def _watch_ingest(run_id: str) -> None:
    try:
        run = get_run(store, run_id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    status = RunStatus(run.status)
    if status not in TERMINAL:
        st.progress(min(1.0, run.progress), text=f"Reading {_ui.md_escape(run.name)}… {run.progress:.0%}")
        return
    if status is RunStatus.SUCCEEDED:
        del st.query_params["ingest"]
        st.query_params["dataset"] = run.result.dataset_id
        st.session_state["_data_ingested"] = True  # fold "Add a dataset", empty the uploader
        st.rerun()
    _ui.error(f"{run.status_reason} Nothing was stored. Fix the file and upload it again.")
    if st.button("Dismiss", key="ingest_dismiss"):
        del st.query_params["ingest"]
        st.rerun(scope="app")


if ingest_id := st.query_params.get("ingest"):
    _watch_ingest(ingest_id)

if not datasets:
    st.info("No datasets yet. Upload a file or add a sample above.")
    _ui.end_page()

st.subheader("Datasets")
st.dataframe(
    [
        {
            "name": d.name,
            "rows": d.n_rows,
            "columns": d.n_cols,
            "size": human_bytes(d.size_bytes),
            "format": d.source_format,
            "sha256": d.content_hash[:12],
            "created": d.created_at,
        }
        for d in datasets
    ],
    hide_index=True,
    key="datasets_table",
)
names = {d.id: f"{d.name} · {d.n_rows} rows · {d.created_at:%Y-%m-%d %H:%M}" for d in datasets}
selected = _ui.url_selectbox("Dataset", "dataset", names, what="dataset")
dataset = get_dataset(store, selected, viewer=who)
profile = dataset.profile
columns = profile.columns

with st.popover("Rename or delete", icon=":material/edit:"):
    new_name = st.text_input("New name", value=dataset.name, max_chars=200, key="rename_value")
    if st.button("Rename", key="rename_go"):
        try:
            rename_dataset(store, dataset.id, new_name, viewer=who)
            st.rerun()
        except AppError as exc:
            _ui.error(exc)
    sure = st.checkbox("Yes, put this dataset in the trash (restorable on Projects)", key="delete_sure")
    if st.button("Delete", type="primary", key="delete_go", disabled=not sure):
        try:
            delete_dataset(store, dataset.id, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            del st.query_params["dataset"]
            st.rerun()

_ui.project_box("dataset", dataset.id, dataset.project_id, dataset.author, who)
if who.owns(dataset.author):  # who sees it can change after upload (owner only; core checks)
    _ui.visibility_box(
        "dataset",
        dataset.id,
        dataset.team,
        who,
        lambda team: set_dataset_team(store, dataset.id, team, viewer=who),
    )
elif dataset.team:
    st.caption(f"{_ui.md_escape(dataset.author)}'s dataset, visible to team {_ui.md_escape(dataset.team)}.")

m = st.columns(4)
m[0].metric("Rows", f"{dataset.n_rows:,}")
m[1].metric("Columns", dataset.n_cols)
m[2].metric("Parquet size", human_bytes(dataset.size_bytes))
m[3].metric("Format", dataset.source_format)
read_as = ", ".join(f"{k} `{v!r}`" for k, v in dataset.read_options.items())
st.caption(
    f"SHA-256 of the source: `{dataset.content_hash}` · ID `{dataset.id}`"
    + (f" · read with {read_as}" if read_as else "")
)

for column in columns:
    for flag in column.flags:
        st.warning(f"Column {_ui.md_escape(column.name)} is {flag}.", icon="⚠️")
# A profile that failed leaves the dataset usable: say what is missing and why.
for problem in profile.errors:
    st.warning(f"{_ui.md_escape(problem)} The dataset is stored and usable.", icon="⚠️")
for column in columns:
    if column.error:
        st.warning(
            f"The profile of column {_ui.md_escape(column.name)} failed: {_ui.md_escape(column.error)}. "
            "The data is stored and usable; only this column's figures are missing.",
            icon="⚠️",
        )


def _stat(column: ColumnProfile, key: str) -> str:
    value = column.stats.get(key)
    if value is None:
        return ""
    bounds = column.bounds(key)  # an estimate is never shown as exact
    if bounds is not None and isinstance(value, float):
        return f"≈ {value:.4g} ± {max(value - bounds[0], bounds[1] - value):.2g}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _unique(column: ColumnProfile) -> str:
    bounds = column.bounds("unique")
    if bounds is None:
        return str(column.unique)
    plusminus = max(column.unique - bounds[0], bounds[1] - column.unique)
    return f"≈ {column.unique:,} ± {plusminus:,}"


preview_tab, columns_tab, charts_tab, target_tab = st.tabs(["Preview", "Columns", "Charts", "Target"])
with preview_tab:
    if profile.images:  # thumbnails of the first rows, stored with the profile at ingest
        st.caption(
            f"The first {len(profile.images)} of {dataset.n_rows:,} images, each captioned with its label."
        )
        st.image(
            [base64.b64decode(png) for png, _ in profile.images],
            caption=[str(label) for _, label in profile.images],
            width=64,
        )
    if profile.preview_columns:
        st.dataframe(
            [dict(zip(profile.preview_columns, row, strict=True)) for row in profile.preview_rows],
            hide_index=True,
            key="preview_table",
        )
with columns_tab:
    st.dataframe(
        [
            {
                "column": c.name,
                "kind": c.kind,
                "type": c.dtype,
                "missing": c.missing,
                "unique": _unique(c),
                # Text: numbers and dates share these columns.
                **{k: _stat(c, k) for k in ("mean", "std", "min", "max")},
                "median": _stat(c, "50%"),
                "flags": ", ".join(c.flags),
            }
            for c in columns
        ],
        hide_index=True,
        key="columns_table",
    )
with charts_tab:
    chartable = profile.names(images=False)
    if chartable:
        pick = st.selectbox("Column", chartable, key="chart_column")
        entry = profile.column(pick)
        if entry is not None:
            st.plotly_chart(plot_column_distribution(entry.raw), key="column_chart")
            if "top" in entry.estimates:
                st.caption(
                    "≈ These counts are estimates (Apache DataSketches' frequent items): each value's "
                    "count lies within its bounds, "
                    + ", ".join(
                        f"{_ui.md_escape(str(v))} {lo:,}–{hi:,}"
                        for (v, _), (lo, hi) in zip(
                            entry.raw.get("top") or (), entry.estimates["top"]["bounds"], strict=False
                        )
                    )
                    + "."
                )
    st.markdown("**Correlation of numeric columns**")
    st.plotly_chart(plot_correlation(profile.raw), key="correlation_chart")
with target_tab:
    candidates = profile.names(images=False)
    default = default_target(profile)
    if candidates:
        target = st.selectbox(
            "Target column", candidates, index=candidates.index(default), key="target_column"
        )
        try:
            summary = summarize_target(profile, target)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.markdown(
                f"Task: **{summary.task}**"
                + (f" · {len(summary.classes)} classes" if summary.classes else "")
            )
            if summary.warning:
                st.warning(_ui.md_escape_message(summary.warning), icon="⚠️")
            if summary.classes:
                st.plotly_chart(plot_class_balance(summary.classes, target), key="balance_chart")
            else:
                column = profile.column(target)
                if column is not None:
                    st.plotly_chart(plot_column_distribution(column.raw), key="target_chart")
