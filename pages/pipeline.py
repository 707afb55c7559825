"""Pipeline: draw how a dataset becomes model input, preview any step, save versions.

The draft lives in the store (``?pipeline=<id>``); the canvas is streamlit-flow-component.
Previews run the pipeline on the first rows of the dataset, in this process (see ``_preview``).
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
    _ui.end_page()

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
    _ui.end_page()

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
    _ui.end_page()
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


def _flow_state(draft, spec, problems, order) -> StreamlitFlowState:  # type: ignore[no-untyped-def]
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
    # The canvas redraws from these only when the timestamp is newer than its own last change, and
    # each redraw reports back (a rerun). An edit that leaves the canvas as drawn (a parameter
    # applied) keeps the timestamp this browser's canvas already has, so it neither redraws nor
    # reports. Transient: a new session starts from the draft's rev.
    drawn = json.dumps(
        [[n.id, n.data, n.style, n.type] for n in nodes] + [[e.source, e.target] for e in edges], default=str
    )
    seen = st.session_state.setdefault("_pipeline_canvas", {})
    if seen.get(draft.id, ("", 0))[0] != drawn:
        seen[draft.id] = (drawn, draft.rev)
    timestamp = seen[draft.id][1]
    return StreamlitFlowState(nodes, edges, selected_id=st.query_params.get("node"), timestamp=timestamp)


# A fragment: the canvas reports its state back after each redraw (and after a move), and that
# report reruns only the canvas, not the whole page (it was one or two more full runs per edit).
# A change on the canvas (connect, delete, select) still reruns the page, which shows it.
@st.fragment
def _canvas(draft, spec, problems, order) -> None:  # type: ignore[no-untyped-def]
    flow = streamlit_flow(
        f"flow_{draft.id}",
        _flow_state(draft, spec, problems, order),
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
    saved = st.session_state.setdefault("_pipeline_layout", {})
    if fresh and (flow_nodes != {n.id for n in spec.nodes} or flow_edges != sorted(spec.edges)):
        try:
            spec = spec.on_canvas(flow_nodes, flow_edges)
            # Redraw the canvas from the draft (bump), so what the change broke or fixed shows at
            # once: a node left unconnected is outlined in red without a reload.
            update_draft(store, draft.id, spec, layout, viewer=who, after=flow.timestamp)
            st.rerun()
        except AppError as exc:
            _ui.error(exc)
    elif fresh and layout and layout != draft.layout and layout != saved.get(draft.id):
        # Positions only (no redraw). The canvas reports them twice after a redraw, and this
        # fragment's `draft` is the page's: remember what was saved rather than save it twice.
        update_draft(store, draft.id, spec, layout, bump=False, viewer=who)
        saved[draft.id] = layout
    if fresh and flow.selected_id and flow.selected_id != st.query_params.get("node"):
        st.query_params["node"] = flow.selected_id
        st.rerun()


_canvas(draft, spec, problems, order)

for node_id, message in problems.items():
    _ui.error(f"Node {node_id!r}: {message}")

# --- add a step -----------------------------------------------------------------------------
c1, c2 = st.columns([3, 1])
step_types = sorted(REGISTRY, key=lambda t: REGISTRY[t].title)
new_type = c1.selectbox("Add a step", step_types, format_func=lambda t: REGISTRY[t].title, key="add_type")


# Edits from buttons run as callbacks, before the script reruns: one run draws their result
# (a rerun after the edit drew the page twice per click).
def _edit(change, select: str | None = None, error_at: str = "_pipeline_error") -> None:  # type: ignore[no-untyped-def]
    try:
        new_spec, new_id = change()
        update_draft(store, draft.id, new_spec, viewer=who)
    except AppError as exc:
        st.session_state[error_at] = str(exc)
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


def _json_or_text(raw: str):  # type: ignore[no-untyped-def]
    try:
        return json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError:
        return raw


def _step_from(step_type: str, read):  # type: ignore[no-untyped-def]
    """The step Apply makes: each field's widget value (from its key), converted."""
    values = {name: convert(st.session_state[key]) for name, (key, convert) in read.items()}
    return get_step({"type": step_type, **values})


# The preview is the pipeline on the first 2,000 rows (pandas, tens of milliseconds): computed here,
# not on the cluster, where it queued behind training runs holding every worker thread (a busy
# machine's page waited for a run to end). Cached like any pure function of a spec: a dataset's
# Parquet never changes under its ID, and the caller checked the viewer may read it.
@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _preview(config, spec_dict, upto):  # type: ignore[no-untyped-def]
    return preview_pipeline(config, spec_dict, upto)


# --- side panel: the selected node ---------------------------------------------------------
selected = st.query_params.get("node")
by_id = {n.id: n for n in spec.nodes}
left, right = st.columns([1, 2])
with left:
    if selected in by_id:
        node = by_id[selected]
        st.subheader(f"{node.step.title} ({node.id})")
        with st.form(f"params_{draft.id}_{node.id}_{draft.rev}", border=False):
            # What Apply reads, by field: the widget's key and how its value becomes the step's.
            # Apply is a callback (one run draws its result; an edit then a rerun drew it twice).
            read: dict[str, tuple[str, object]] = {}
            for f in fields(node.step):
                current = getattr(node.step, f.name)
                key = f"param_{node.id}_{f.name}_{draft.rev}"
                options = CHOICES.get(f.name)
                if isinstance(options, dict):
                    options = options.get(node.step.type)
                if f.name == "columns":
                    st.multiselect(
                        "columns",
                        profile_cols + [c for c in current or [] if c not in profile_cols],
                        default=current or [],
                        key=key,
                    )
                    read[f.name] = (key, list)
                elif f.name in ("column", "time_column", "label_column"):
                    opts = ["", *profile_cols]
                    st.selectbox(f.name, opts, index=opts.index(current) if current in opts else 0, key=key)
                    read[f.name] = (key, lambda v: v or None)
                elif options:
                    st.selectbox(
                        f.name, options, index=options.index(current) if current in options else 0, key=key
                    )
                    read[f.name] = (key, lambda v: v)
                elif isinstance(current, bool):
                    st.checkbox(f.name, value=current, key=key)
                    read[f.name] = (key, bool)
                elif isinstance(current, int):
                    st.number_input(f.name, value=current, step=1, key=key)
                    read[f.name] = (key, int)
                elif isinstance(current, float):
                    st.number_input(f.name, value=current, format="%.4f", key=key)
                    read[f.name] = (key, float)
                else:
                    st.text_input(f'{f.name} (JSON: 3, "a", [1, 2])', value=json.dumps(current), key=key)
                    read[f.name] = (key, _json_or_text)
            st.form_submit_button(
                "Apply",
                type="primary",
                on_click=_edit,
                args=(lambda n=node, r=read: (spec.with_step(n.id, _step_from(n.step.type, r)), n.id),),
                kwargs={"error_at": "_pipeline_apply_error"},
            )
            if error := st.session_state.pop("_pipeline_apply_error", None):
                _ui.error(error)
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
        result = _preview(store.config, spec.to_dict(), upto)
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
