"""Experiments: every run and study; search, filter, sort and page in the database.

Every setting lives in the URL, so a link reproduces the list.
"""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.data import list_datasets
from core.errors import AppError
from core.experiments import SORTS
from core.experiments import STATUSES
from core.experiments import ExperimentQuery
from core.experiments import delete_runs
from core.experiments import list_experiments
from core.experiments import list_studies
from core.experiments import set_archived
from core.formatting import human_duration
from pages import _groups
from pages import _ui

st.title("Experiments")
store = _ui.store()
who = _ui.viewer()

try:
    query = ExperimentQuery.from_params(st.query_params.to_dict())
except AppError as exc:
    _ui.error(f"This link's filters are not valid: {exc} Showing all runs instead.")
    query = ExperimentQuery()


def _set(**changes: object) -> None:
    """Write changed filters to the URL (page back to 1 unless the page itself changed)."""
    params = {**query.to_params()}
    for name, value in changes.items():
        params[name] = (
            value if isinstance(value, str) else ",".join(value) if isinstance(value, list) else str(value)
        )
    if "page" not in changes:
        params.pop("page", None)
    try:
        clean = ExperimentQuery.from_params(params).to_params()
    except AppError as exc:
        _ui.error(exc)
        return
    st.query_params.clear()
    st.query_params.update(clean)


_groups.seed_group_panel(store, who, query.metric)
tab_runs, tab_studies = st.tabs(["Runs", "Studies"])
with tab_runs:
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    text = c1.text_input("Search names or ID", value=query.text, max_chars=200, key="exp_text")
    statuses = c2.multiselect("Status", STATUSES, default=list(query.statuses), key="exp_status")
    tag = c3.text_input("Tag", value=query.tag, max_chars=50, key="exp_tag")
    datasets = {"": "any"} | _ui.distinct({d.id: d.name for d in list_datasets(store, viewer=who)})
    dataset = c4.selectbox(
        "Dataset",
        list(datasets),
        index=list(datasets).index(query.dataset) if query.dataset in datasets else 0,
        format_func=datasets.get,
        key="exp_dataset",
    )
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    metric = c1.text_input("Key metric", value=query.metric, max_chars=100, key="exp_metric")
    low = c2.text_input(
        "min", value="" if query.metric_min is None else f"{query.metric_min:g}", key="exp_min"
    )
    high = c3.text_input(
        "max", value="" if query.metric_max is None else f"{query.metric_max:g}", key="exp_max"
    )
    sort = c4.selectbox("Sort by", SORTS, index=SORTS.index(query.sort), key="exp_sort")
    descending = c5.toggle("Descending", value=query.descending, key="exp_desc")
    archived = st.toggle("Show archived runs", value=query.archived, key="exp_archived")
    wanted = {
        "text": text.strip(),
        "statuses": statuses,
        "tag": tag.strip(),
        "dataset": dataset,
        "metric": metric.strip() or "epoch/val_loss",
        "metric_min": low.strip(),
        "metric_max": high.strip(),
        "sort": sort,
        "descending": str(descending),
        "archived": str(archived),
    }
    current = {
        "text": query.text,
        "statuses": list(query.statuses),
        "tag": query.tag,
        "dataset": query.dataset,
        "metric": query.metric,
        "metric_min": "" if query.metric_min is None else f"{query.metric_min:g}",
        "metric_max": "" if query.metric_max is None else f"{query.metric_max:g}",
        "sort": query.sort,
        "descending": str(query.descending),
        "archived": str(query.archived),
    }
    if wanted != current:
        _set(**{k: v for k, v in wanted.items() if v != current[k]})
        st.rerun()

    try:
        # Counted up to this page's last row (the page reads one more): an exact count reads
        # every match, seconds at 1,000,000 runs. Past it the caption says "more than", and the
        # exact count comes on request, in its own fragment.
        counted = query.page * query.page_size
        rows, total = list_experiments(store, query, viewer=who, count_limit=counted)
    except AppError as exc:
        _ui.fail(exc)
    capped = total > counted
    pages = max(1, -(-total // query.page_size))
    if capped:
        first = (query.page - 1) * query.page_size + 1
        st.caption(
            f"Runs {first:,}–{first + len(rows) - 1:,} of more than {counted:,} (not counted further) "
            f"· page {query.page}"
        )

        @st.fragment
        def _exact_count() -> None:
            """The exact count, on request: it reads every match."""
            if st.button("Count all matches", key="exp_count_all"):
                exact = list_experiments(store, replace(query, page=1, page_size=1), viewer=who)[1]
                st.caption(f"Exactly {exact:,} run(s) match.")

        _exact_count()
    else:
        st.caption(f"{total:,} run(s) · page {query.page} of {pages}")
    frame = pd.DataFrame(
        [
            {
                "select": False,
                "name": r.name or r.id[:8],
                "source": "external" if r.kind == "external" else "Loom",
                "status": r.status,
                "dataset": r.dataset,
                "backend": r.backend,
                "model": r.model,
                query.metric: r.metric,
                "duration": human_duration(r.duration_s),
                "author": r.author,
                "team": r.team,
                "tags": ", ".join(r.tags),
                "created": r.created_at,
                "id": r.id,
            }
            for r in rows
        ]
    )
    if frame.empty:
        st.info("No runs match. Loosen the filters, or train a model on the Train page.")
    else:
        edited = st.data_editor(
            frame,
            hide_index=True,
            disabled=[c for c in frame.columns if c != "select"],
            key=f"exp_table_{query.page}_{hash(tuple(frame['id']))}",
        )
        chosen = edited.loc[edited["select"], "id"].tolist()
        c1, c2, c3, c4, c5 = st.columns(5)
        if c1.button("◀ Previous", disabled=query.page <= 1, key="exp_prev"):
            _set(page=query.page - 1)
            st.rerun()
        last_page = len(rows) < query.page_size or (not capped and query.page >= pages)
        if c2.button("Next ▶", disabled=last_page, key="exp_next"):
            _set(page=query.page + 1)
            st.rerun()
        if len(chosen) == 1:
            c3.page_link("pages/jobs.py", label="Open run", query_params={"run": chosen[0]})
        if 2 <= len(chosen) <= 10:
            c3.page_link(
                "pages/compare.py",
                label=f"Compare {len(chosen)} runs",
                query_params={"runs": ",".join(chosen)},
            )
        elif len(chosen) > 10:
            c3.caption("Compare takes up to 10 runs.")
        if chosen and c4.button("Restore" if query.archived else "Archive", key="exp_archive"):
            set_archived(store, chosen, not query.archived, viewer=who)
            st.rerun()
        if chosen and c5.button("Delete…", key="exp_delete"):
            st.session_state["confirm_delete"] = chosen
        pending = st.session_state.get("confirm_delete")
        if pending:
            st.warning(
                f"Delete {len(pending)} run(s)? They go to the trash (Projects page): restorable for "
                f"{_ui.config().trash_days:g} days, then purged with their metrics, notes and files."
            )
            d1, d2 = st.columns(2)
            if d1.button("Delete", type="primary", key="exp_delete_yes"):
                try:
                    n = delete_runs(store, pending, viewer=who)
                except AppError as exc:
                    _ui.error(exc)
                else:
                    st.toast(f"Moved {n} run(s) to the trash; restore them on the Projects page.")
                st.session_state.pop("confirm_delete", None)
                st.rerun()
            if d2.button("Keep them", key="exp_delete_no"):
                st.session_state.pop("confirm_delete", None)
                st.rerun()
    _groups.group_section(store, who, [r.id for r in rows], query.metric)

with tab_studies:
    studies = list_studies(store, viewer=who)
    if not studies:
        st.info("No studies yet. Start one on the Tune page.")
    for study in studies:
        tags = ", ".join(study.tags)
        team = f" · team {study.team}" if study.team else ""
        st.page_link(
            "pages/tune.py",
            label=f"{_ui.md_escape(study.name)} · {study.status} · {_ui.md_escape(study.author or '-')}"
            f"{_ui.md_escape(team)} · {study.created_at:%Y-%m-%d %H:%M}"
            + (f" · tags: {_ui.md_escape(tags)}" if tags else ""),
            query_params={"study": study.id},
        )
