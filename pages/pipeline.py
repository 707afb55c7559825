"""Pipeline: draw how a dataset becomes model input, preview any step, save versions.

The draft lives in the store (``?pipeline=<id>``); the canvas is streamlit-flow-component.
Previews run as a Dask task on the first rows of the dataset.
"""

import json
from dataclasses import fields

import streamlit as st
from streamlit_flow import streamlit_flow
from streamlit_flow.elements import StreamlitFlowEdge
from streamlit_flow.elements import StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from core.data import default_target
from core.data import get_dataset
from core.data import list_datasets
from core.errors import AppError
from core.errors import NotFoundError
from core.pipeline import REGISTRY
from core.pipeline import SOURCE
from core.pipeline import SPLIT_METHODS
from core.pipeline import PipelineSpec
from core.pipeline import check_readable
from core.pipeline import create_draft
from core.pipeline import default_step
from core.pipeline import diff_specs
from core.pipeline import get_draft
from core.pipeline import get_step
from core.pipeline import list_drafts
from core.pipeline import list_versions
from core.pipeline import load_version
from core.pipeline import preview_pipeline
from core.pipeline import save_version
from core.pipeline import set_pipeline_team
from core.pipeline import to_dot
from core.pipeline import to_mermaid
from core.pipeline import update_draft
from pages import _ui

st.title("Pipeline")
store = _ui.store()
who = _ui.viewer()

CHOICES = {
    "strategy": ["mean", "median", "most_frequent", "constant"],
    "method": {"clip_outliers": ["iqr", "zscore"], "split": list(SPLIT_METHODS)},
    "op": ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is missing", "is not missing"],
}

datasets = list_datasets(store, viewer=who)
if not datasets:
    st.info("Add a dataset on the Data page first: a pipeline starts from one.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table:")
    st.stop()

drafts = list_drafts(store, viewer=who)
with st.expander("New pipeline", expanded=not drafts):
    c1, c2 = st.columns(2)
    new_name = c1.text_input("Name", max_chars=200, key="new_name")
    ds_names = _ui.distinct({d.id: f"{d.name} · {d.n_rows} rows" for d in datasets})
    new_ds = c2.selectbox("Dataset", list(ds_names), format_func=ds_names.__getitem__, key="new_dataset")
    new_team = _ui.team_choice("new_team", who)
    if st.button("Create", type="primary", key="new_go", disabled=not new_name.strip()):
        target = default_target(get_dataset(store, new_ds, viewer=who).profile) or ""
        try:
            draft = create_draft(
                store, new_name, PipelineSpec.chain(new_ds, target, ["split"]), viewer=who, team=new_team
            )
        except AppError as exc:
            _ui.error(exc)
        else:
            st.query_params["pipeline"] = draft.id
            st.rerun()

if not drafts:
    st.stop()

draft_id = _ui.url_selectbox("Pipeline", "pipeline", dict(drafts), clears=("node",), what="pipeline")
try:
    draft = get_draft(store, draft_id, viewer=who)
except NotFoundError:
    _ui.not_found("pipeline")
except AppError as exc:
    _ui.fail(exc)
spec = draft.spec
if not who.owns(draft.author):
    # A teammate's pipeline: read it, or fork it into your own to change it.
    st.info(
        f"{_ui.md_escape(draft.name)} belongs to {_ui.md_escape(draft.author)} (team "
        f"{_ui.md_escape(draft.team)}): read only here. Fork it to change it."
    )
    st.graphviz_chart(to_dot(spec))
    if st.button("Fork into my pipelines", type="primary", key="fork_pipeline"):
        try:
            mine = create_draft(store, f"{draft.name} (fork)", spec, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.query_params["pipeline"] = mine.id
            st.rerun()
    st.stop()
_ui.project_box("pipeline", draft.id, draft.project_id, draft.author, who)
_ui.visibility_box(
    "pipeline", draft.id, draft.team, who, lambda team: set_pipeline_team(store, draft.id, team, viewer=who)
)

# --- source: dataset and target -------------------------------------------------------------
c1, c2 = st.columns(2)
ds_ids = [d.id for d in datasets]
ds_label = _ui.distinct({d.id: f"{d.name} · {d.n_rows} rows" for d in datasets})
if spec.dataset_id not in ds_label:
    ds_ids.insert(0, spec.dataset_id)
    ds_label[spec.dataset_id] = "(deleted dataset)"
chosen_ds = c1.selectbox(
    "Source dataset",
    ds_ids,
    index=ds_ids.index(spec.dataset_id),
    format_func=ds_label.__getitem__,
    key=f"source_ds_{draft.id}",
)
profile_cols: list[str] = []
numeric_cols: list[str] = []
if chosen_ds in {d.id for d in datasets}:
    source_profile = get_dataset(store, chosen_ds, viewer=who).profile
    profile_cols = [c for c in source_profile.names() if c != "image"]
    numeric_cols = [c.name for c in source_profile.columns if c.kind == "numeric"]
target_options = profile_cols or [spec.target]
chosen_target = c2.selectbox(
    "Target column",
    target_options,
    index=target_options.index(spec.target) if spec.target in target_options else 0,
    key=f"source_target_{draft.id}",
)
if (chosen_ds, chosen_target) != (spec.dataset_id, spec.target):
    spec = PipelineSpec(chosen_ds, chosen_target, spec.nodes, spec.edges)
    draft = update_draft(store, draft.id, spec, viewer=who)

# --- the canvas ---------------------------------------------------------------------------
problems = {p.node: p.message for p in spec.problems()}
order = []
try:
    order = [n.id for n in spec.ordered()]
except AppError:
    pass


def _flow_state() -> StreamlitFlowState:
    nodes = [
        StreamlitFlowNode(
            SOURCE,
            tuple(draft.layout.get(SOURCE, (0, 0))),
            {"content": f"Dataset → target {spec.target}"},
            node_type="input",
            source_position="right",
            deletable=False,
            selectable=True,
            style={"border": "2px solid #d33"} if SOURCE in problems else {},
        )
    ]
    for i, n in enumerate(spec.nodes, 1):
        pos = draft.layout.get(
            n.id, (260 * (order.index(n.id) + 1 if n.id in order else i), 120 * (n.id not in order))
        )
        label = f"{n.step.title} ({n.id})" + (f" ⚠ {problems[n.id]}" if n.id in problems else "")
        nodes.append(
            StreamlitFlowNode(
                n.id,
                tuple(pos),
                {"content": label},
                source_position="right",
                target_position="left",
                deletable=True,
                selectable=True,
                connectable=True,
                style={"border": "2px solid #d33", "width": 220} if n.id in problems else {"width": 220},
            )
        )
    edges = [StreamlitFlowEdge(f"{a}-{b}", a, b, animated=False, deletable=True) for a, b in spec.edges]
    return StreamlitFlowState(nodes, edges, selected_id=st.query_params.get("node"), timestamp=draft.rev)


flow = streamlit_flow(
    f"flow_{draft.id}",
    _flow_state(),
    height=300,
    fit_view=True,
    allow_new_edges=True,
    get_node_on_click=True,
    enable_node_menu=True,
    enable_edge_menu=True,
    hide_watermark=True,
)
# What the user did on the canvas (connect, delete, move) becomes the draft. The component
# repeats its last value on every rerun: one older than the draft's last change is stale.
fresh = flow.timestamp > draft.rev
flow_nodes = {n.id for n in flow.nodes} - {SOURCE}
flow_edges = sorted({(e.source, e.target) for e in flow.edges})
layout = {n.id: [float(n.position["x"]), float(n.position["y"])] for n in flow.nodes}
if fresh and (flow_nodes != {n.id for n in spec.nodes} or flow_edges != sorted(spec.edges)):
    try:
        spec = spec.on_canvas(flow_nodes, flow_edges)
        # Redraw the canvas from the draft (bump), so what the change broke or fixed shows at
        # once: a node left unconnected is outlined in red without a reload.
        draft = update_draft(store, draft.id, spec, layout, viewer=who, after=flow.timestamp)
        st.rerun()
    except AppError as exc:
        _ui.error(exc)
elif fresh and layout and layout != draft.layout:
    draft = update_draft(store, draft.id, spec, layout, bump=False, viewer=who)
if fresh and flow.selected_id and flow.selected_id != st.query_params.get("node"):
    st.query_params["node"] = flow.selected_id
    st.rerun()

for node_id, message in problems.items():
    _ui.error(f"Node {node_id!r}: {message}")

# --- add a step -----------------------------------------------------------------------------
c1, c2 = st.columns([3, 1])
step_types = sorted(REGISTRY, key=lambda t: REGISTRY[t].title)
new_type = c1.selectbox("Add a step", step_types, format_func=lambda t: REGISTRY[t].title, key="add_type")


# Edits from buttons run as callbacks, before the script reruns: one run draws their result
# (a rerun after the edit drew the page twice per click).
def _edit(change, select: str | None = None) -> None:  # type: ignore[no-untyped-def]
    try:
        new_spec, new_id = change()
        update_draft(store, draft.id, new_spec, viewer=who)
    except AppError as exc:
        st.session_state["_pipeline_error"] = str(exc)
        return
    if select == "new":
        st.query_params["node"] = new_id
    elif select == "none":
        st.query_params.pop("node", None)


c2.button(
    "Add step",
    key="add_go",
    type="primary",
    on_click=_edit,
    args=(
        lambda: spec.appended(
            default_step(st.session_state["add_type"], profile_cols, spec.target, numeric_cols)
        ),
    ),
    kwargs={"select": "new"},
)
if error := st.session_state.pop("_pipeline_error", None):
    _ui.error(error)

# --- side panel: the selected node ---------------------------------------------------------
selected = st.query_params.get("node")
by_id = {n.id: n for n in spec.nodes}
left, right = st.columns([1, 2])
with left:
    if selected in by_id:
        node = by_id[selected]
        st.subheader(f"{node.step.title} ({node.id})")
        with st.form(f"params_{draft.id}_{node.id}_{draft.rev}", border=False):
            values = {}
            for f in fields(node.step):
                current = getattr(node.step, f.name)
                key = f"param_{node.id}_{f.name}_{draft.rev}"
                options = CHOICES.get(f.name)
                if isinstance(options, dict):
                    options = options.get(node.step.type)
                if f.name == "columns":
                    values[f.name] = st.multiselect(
                        "columns",
                        profile_cols + [c for c in current or [] if c not in profile_cols],
                        default=current or [],
                        key=key,
                    )
                elif f.name in ("column", "time_column", "label_column"):
                    opts = ["", *profile_cols]
                    values[f.name] = (
                        st.selectbox(
                            f.name, opts, index=opts.index(current) if current in opts else 0, key=key
                        )
                        or None
                    )
                elif options:
                    values[f.name] = st.selectbox(
                        f.name, options, index=options.index(current) if current in options else 0, key=key
                    )
                elif isinstance(current, bool):
                    values[f.name] = st.checkbox(f.name, value=current, key=key)
                elif isinstance(current, int):
                    values[f.name] = int(st.number_input(f.name, value=current, step=1, key=key))
                elif isinstance(current, float):
                    values[f.name] = float(st.number_input(f.name, value=current, format="%.4f", key=key))
                else:
                    raw = st.text_input(
                        f'{f.name} (JSON: 3, "a", [1, 2])', value=json.dumps(current), key=key
                    )
                    try:
                        values[f.name] = json.loads(raw) if raw.strip() else None
                    except json.JSONDecodeError:
                        values[f.name] = raw
            if st.form_submit_button("Apply", type="primary"):
                try:
                    new_step = get_step({"type": node.step.type, **values})
                    update_draft(store, draft.id, spec.with_step(node.id, new_step), viewer=who)
                    st.rerun()
                except AppError as exc:
                    _ui.error(exc)
        b1, b2, b3 = st.columns(3)
        idx = order.index(node.id) if node.id in order else -1
        b1.button(
            "Move up",
            key=f"up_{node.id}",
            disabled=idx < 1,
            on_click=_edit,
            args=(lambda n=node.id: (spec.moved(n, -1), n),),
        )
        b2.button(
            "Move down",
            key=f"down_{node.id}",
            disabled=idx < 0 or idx >= len(order) - 1,
            on_click=_edit,
            args=(lambda n=node.id: (spec.moved(n, 1), n),),
        )
        b3.button(
            "Delete",
            key=f"del_{node.id}",
            on_click=_edit,
            args=(lambda n=node.id: (spec.without(n), n),),
            kwargs={"select": "none"},
        )
    else:
        st.caption("Select a node on the canvas to edit it and preview the data after it.")

with right:
    upto = selected if selected in by_id else (order[-1] if order else None)
    st.subheader(f"Preview after {upto or 'the source'}")
    try:
        check_readable(store, spec, who)
        result = _ui.on_cluster(preview_pipeline, store.config, spec.to_dict(), upto)
    except AppError as exc:
        _ui.error(exc)
    else:
        if result["failed"]:
            _ui.error(result["failed"][1])
        if result["reports"]:
            st.dataframe(
                [
                    {"node": n, "step": t, "rows before": a, "rows after": b}
                    for n, t, a, b in result["reports"]
                ],
                hide_index=True,
                key="preview_counts",
            )
        cols = [c for c, _ in result["columns"]]
        st.dataframe(
            [dict(zip(cols, r, strict=True)) for r in result["rows"]], hide_index=True, key="preview_rows"
        )
        st.caption(
            f"On the first {result['sample_rows']} rows · schema: "
            + ", ".join(f"{c}: {t}" for c, t in result["columns"])
        )

# --- versions, import, export ---------------------------------------------------------------
st.divider()
v1, v2, v3 = st.columns(3)
with v1:
    st.markdown("**Versions**")
    if st.button("Save version", key="save_version", type="primary"):
        try:
            row = save_version(store, draft.id, viewer=who)
            st.toast(f"Saved version {row.version}.")
        except AppError as exc:
            _ui.error(exc)
    versions = list_versions(store, draft.id, viewer=who)
    for row in versions[:10]:
        st.caption(f"v{row.version} · {row.created_at:%Y-%m-%d %H:%M} · `{row.spec_hash[:12]}`")
    if len(versions) >= 2:
        labels = {r.id: f"v{r.version}" for r in versions}
        a = st.selectbox("Compare", list(labels), index=1, format_func=labels.__getitem__, key="diff_a")
        b = st.selectbox("with", list(labels), index=0, format_func=labels.__getitem__, key="diff_b")
        changes = diff_specs(load_version(store, a, viewer=who), load_version(store, b, viewer=who))
        st.code("\n".join(changes) or "no differences", language=None)
with v2:
    st.markdown("**Export**")
    st.download_button(
        "Download JSON", json.dumps(spec.to_dict(), indent=2), f"{draft.name}.json", key="export_json"
    )
    st.download_button("Download Mermaid", to_mermaid(spec), f"{draft.name}.mmd", key="export_mermaid")
    with st.popover("Show Mermaid"):
        st.code(to_mermaid(spec), language=None)
with v3:
    st.markdown("**Import JSON**")
    text = st.text_area("Paste a pipeline exported from Loom", key="import_text", height=100)
    if st.button("Import into this draft", key="import_go", disabled=not text.strip()):
        try:
            imported = PipelineSpec.from_json(text)
            update_draft(store, draft.id, imported, viewer=who)
            st.rerun()
        except AppError as exc:
            _ui.error(exc)
