"""Home: what Loom is, what the store holds, and the latest runs."""

import streamlit as st

from core.errors import AppError
from core.store import count_rows
from core.store import list_runs
from core.store import redact_url
from pages import _ui

st.title("Loom")
st.caption(
    "Build models together: upload data, draw a pipeline, train on a Dask cluster, watch it "
    "live, tune with Optuna and share the experiment with a link."
)

store = _ui.store()
who = _ui.viewer()
cfg = store.config
try:
    counts = count_rows(store, viewer=who)
    runs = list_runs(store, limit=10, viewer=who)
except AppError as exc:
    _ui.fail(exc)

c1, c2, c3 = st.columns(3)
c1.metric("Datasets", counts["datasets"])
c2.metric("Runs", counts["runs"])
c3.metric("Studies", counts["studies"])

st.subheader("Latest runs")
if not runs:
    st.info("No runs yet. Open **Jobs** and launch the smoke job to check that the cluster works.")
    st.page_link("pages/jobs.py", label="Go to Jobs", icon=":material/monitoring:")
else:
    for run in runs:
        st.page_link(
            "pages/jobs.py",
            label=f"{_ui.status_label(run.status)} · {run.kind} · {_ui.md_escape(run.name or run.id[:8])} · "
            f"{run.created_at:%Y-%m-%d %H:%M:%S}",
            query_params={"run": run.id},
        )

with st.expander("Where Loom keeps things"):
    st.markdown(
        f"- **Store:** `{redact_url(cfg.database_url)}`\n"
        f"- **Data directory:** `{cfg.data_dir}`\n"
        f"- **Cluster:** "
        + (f"`{cfg.scheduler_address}`" if cfg.scheduler_address else "local, started by the app")
    )
