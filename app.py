"""Loom: the server, page config and navigation only. Logic lives in core/, pages in pages/.

``streamlit run app.py`` finds ``app`` below and serves it: Streamlit plus Loom's two sign-in
routes (pages/_web.py). Each script run executes this file as ``__main__``.
"""

import streamlit as st

from pages._web import ROUTES

if __name__ != "__main__":  # uvicorn imports this module as `app`; script runs skip this
    app = st.App(__file__, routes=ROUTES)
else:
    st.set_page_config(page_title="Loom", page_icon="assets/loom.svg", layout="wide")
    from pages import _ui

    _ui.serve_metrics()  # once per process: LOOM_METRICS_PORT, LOOM_LOG_FORMAT

    pages = st.navigation(
        {
            "Loom": [
                st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
                st.Page("pages/projects.py", title="Projects", icon=":material/folder_shared:"),
                st.Page("pages/data.py", title="Data", icon=":material/table:"),
                st.Page("pages/pipeline.py", title="Pipeline", icon=":material/account_tree:"),
                st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
                st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
                st.Page("pages/predict.py", title="Predict", icon=":material/batch_prediction:"),
                st.Page("pages/optimizer_lab.py", title="Optimizer Lab", icon=":material/science:"),
            ],
            "Experiments": [
                st.Page("pages/experiments.py", title="Experiments", icon=":material/lab_profile:"),
                st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
                st.Page("pages/share.py", title="Share", icon=":material/share:"),
                st.Page("pages/reports.py", title="Reports", icon=":material/article:"),
            ],
            "Compute": [
                st.Page("pages/jobs.py", title="Jobs", icon=":material/monitoring:"),
                st.Page("pages/cluster.py", title="Cluster", icon=":material/hub:"),
                st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
            ],
        },
        expanded=True,  # every page in the sidebar: over 12 pages, Streamlit hides some under "View more"
    )
    _ui.run_page(pages)  # pages.run(), timed for the metrics
