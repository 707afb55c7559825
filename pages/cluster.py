"""Cluster: the Dask workers Loom runs on, and the jobs running there now."""

import streamlit as st

from core.compute import RunStatus
from core.compute import get_cluster_info
from core.compute import worker_gpu_stats
from core.errors import AppError
from core.formatting import human_bytes
from core.store import list_runs
from pages import _ui

st.title("Cluster")
store = _ui.store()
who = _ui.viewer()
client = _ui.client()


@st.fragment(run_every="3s")
def _cluster() -> None:
    try:
        info = get_cluster_info(client)
        active = list_runs(store, statuses=[RunStatus.QUEUED, RunStatus.RUNNING], limit=500, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    if info.warning:
        st.warning(_ui.md_escape_message(info.warning), icon="⚠️")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Workers", len(info.workers))
    c2.metric("Threads", info.total_threads)
    c3.metric("Memory", human_bytes(info.total_memory))
    c4.metric("GPUs", f"{info.total_gpus:g}")
    st.markdown(f"Scheduler: `{info.scheduler_address}`")
    if info.dashboard_link:
        st.link_button("Open the Dask dashboard", info.dashboard_link, key="dashboard_link")
    if not info.workers:
        st.warning("The scheduler has no workers: jobs will wait in the queue. Start a worker.")
    st.dataframe(
        [
            {
                "worker": w.address,
                "name": w.name,
                "threads": w.nthreads,
                "memory used": human_bytes(w.memory_used),
                "memory limit": human_bytes(w.memory_limit),
                "GPUs": w.gpus,
                "executing": w.executing,
                "resources": ", ".join(f"{k}={v:g}" for k, v in w.resources.items()) or "–",
            }
            for w in info.workers
        ],
        hide_index=True,
        key="workers_table",
    )
    if info.total_gpus:
        stats = worker_gpu_stats(client)
        rows = [
            {
                "worker": address,
                "GPU": f"{g['index']}: {g['name']}",
                "memory": f"{human_bytes(g['memory_used'])} / {human_bytes(g['memory_total'])}",
                "utilisation %": g["utilization"],
            }
            for address, gpus in sorted(stats.items())
            if isinstance(gpus, list)
            for g in gpus
        ]
        if rows:
            st.dataframe(rows, hide_index=True, key="gpus_table")
        else:
            st.caption("Workers declare GPUs, but none reports memory or load (install nvidia-ml-py).")
    st.subheader("Running and queued jobs")
    if not active:
        st.caption("Nothing is running.")
    for run in active:
        st.page_link(
            "pages/jobs.py",
            label=f"{_ui.status_label(run.status)} · {run.kind} · "
            f"{_ui.md_escape(run.name or run.id[:8])} · {run.worker or 'waiting for a worker'}",
            query_params={"run": run.id},
        )


_cluster()
