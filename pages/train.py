"""Train: pick data, pipeline, model and optimizer; launch a training run on the cluster.

The run is watched live on the Jobs page (``/jobs?run=<id>``).
"""

import pandas as pd
import streamlit as st

from core.compute import submit_run
from core.data import default_target
from core.data import list_datasets
from core.data import summarize_target
from core.errors import AppError
from core.experiments import fork_name
from core.models import ACTIVATIONS
from core.models import IMAGE_TEMPLATES
from core.models import LAYER_COLUMNS
from core.models import LAYERS
from core.models import TASKS
from core.models import TEMPLATES
from core.models import ModelSpec
from core.models import layer_rows
from core.models import layers_from_rows
from core.models import model_template
from core.optimizers import OPTIMIZERS
from core.optimizers import SCHEDULES
from core.optimizers import OptimizerSpec
from core.pipeline import list_pipeline_versions
from core.pipeline import load_version
from core.store import get_run
from core.training import TrainSpec
from core.training import check_backend
from core.training import check_validation_data
from core.training import default_pipeline
from core.training import describe_split
from core.training import placement
from core.training import probe_input
from core.training import read_training_run
from core.training import scale_warning
from core.tuning import get_study
from pages import _branch
from pages import _estimators
from pages import _groups
from pages import _handruns
from pages import _ranges
from pages import _ui
from pages._backend import backend_choice

st.title("Train")
store = _ui.store()
who = _ui.viewer()
if _ui.viewer_here(who, "training"):
    _ui.end_page()

# "Branch from epoch N" on a run's page: ?branch=<run>&epoch=<n> opens the branch form instead.
if branch_of := st.query_params.get("branch"):
    _branch.form(store, who, branch_of, st.query_params.get("epoch"))
    _ui.end_page()

# "Tweak and rerun" / "promote": ?from_run=<id> starts from that run's specs (the URL, not the
# session, says so; widgets are filled once per source run and stay editable).
source = None  # the run this one starts from, with its spec parsed


def _prefill(src) -> None:  # type: ignore[no-untyped-def]
    """Fill the form's widgets from a source run once per source (they stay editable)."""
    spec0, pipe0, opt0 = src.spec, src.pipeline, src.optimizer
    if st.session_state.get("_prefilled_from") != src.run.id:
        st.session_state["_prefilled_from"] = src.run.id
        st.query_params["dataset"] = pipe0.dataset_id
        st.session_state.update(
            {
                "train_pipeline": spec0.pipeline_id or "default",
                "train_target": pipe0.target,
                "train_opt": opt0.name,
                "train_lr": float(opt0.learning_rate),
                "train_schedule": opt0.schedule,
                "train_clip": float(opt0.clipnorm or 0.0),
                "train_epochs": spec0.epochs,
                "train_batch": spec0.batch_size,
                "train_seed": spec0.seed,
                "train_patience": spec0.early_stopping,
                "train_backend": spec0.backend,
                "train_validation": spec0.validation_dataset or "split",
            }
        )


# The study's next suggestion (?suggestion=<study>&trial=<n>, from the Tune page) fills the form the
# same way; its launch is told to the study.
if st.query_params.get("suggestion"):
    if (source := _handruns.source(store, who)) is not None:
        _prefill(source)
elif from_run := st.query_params.get("from_run"):
    try:
        # Whoever may fork the run reads it and the dataset and pipeline version it used (core's
        # fork grant; through a fork link, the link's); the new run is yours.
        who = _ui.fork_viewer(who, from_run)
        run0 = get_run(store, from_run, viewer=who)
        if run0.kind != "train":
            raise AppError(f"Run {from_run} is a {run0.kind} run, not a training run.")
        source = read_training_run(run0)
        if source.spec is None:
            raise AppError(f"Run {from_run}'s spec cannot be read ({source.problem}); start from scratch.")
    except AppError as exc:
        _ui.error(exc)
        source = None
    else:
        assert source.spec is not None  # noqa: S101 - checked above
        origin = "a tuning trial" if source.is_trial else "a run"
        st.info(
            f"Starting from {origin}: **{_ui.md_escape(source.run.label)}** (`{source.run.id}`). "
            "Change what you like; the new run records it as its parent."
        )
        _prefill(source)

# Data, pipeline and validation sit in one container, so that what they draw (a caption, an
# error) never moves the widgets below: while the pipeline's rerun probes it on the cluster, the
# last run's Optimizer stays on screen, and a choice made in it must be the one the new run keeps
# (a moved widget was drawn twice, and a pick in the old one was undone; stop 36 CI).
with st.container():
    datasets = list_datasets(store, viewer=who)
    if not datasets:
        st.info("Add a dataset on the Data page first.")
        _ui.end_page()
    dataset_id = _ui.url_selectbox(
        "Dataset", "dataset", {d.id: f"{d.name} · {d.n_rows} rows" for d in datasets}, what="dataset"
    )
    dataset = next(d for d in datasets if d.id == dataset_id)
    profile = dataset.profile
    columns = profile.names(images=False)

    # --- pipeline -------------------------------------------------------------------------------
    versions = list_pipeline_versions(store, viewer=who, dataset_id=dataset_id)
    choices = {"default": "Loom's default (split, fill, encode, scale)"} | _ui.distinct(
        {v.id: f"{v.name} v{v.version}" for v in versions}
    )
    if st.session_state.get("train_pipeline", "default") not in choices:
        st.session_state["train_pipeline"] = "default"  # another dataset's pipeline (a fork keeps its own)
    c1, c2, c3 = st.columns(3)
    pipe_choice = c1.selectbox(
        "Pipeline", list(choices), format_func=choices.__getitem__, key="train_pipeline"
    )
    if pipe_choice == "default":
        first = default_target(profile)
        target = c2.selectbox(
            "Target", columns, index=columns.index(first) if first in columns else 0, key="train_target"
        )
    else:
        saved = load_version(store, pipe_choice, viewer=who)
        target = saved.target
        c2.text_input("Target (from the pipeline)", value=target, disabled=True, key="train_target_fixed")
    try:
        inferred = summarize_target(profile, target).task
    except AppError as exc:
        _ui.fail(exc)
    task = c3.selectbox("Task", TASKS, index=TASKS.index(inferred), key=f"train_task_{target}")
    try:
        pipeline = default_pipeline(dataset_id, target, profile, task) if pipe_choice == "default" else saved
        probe = _ui.on_cluster(probe_input, store.config, pipeline.to_dict())
    except AppError as exc:
        _ui.fail(exc)
    # Which split the pipeline makes (the default's follows the file; a saved one's is its own).
    st.caption(describe_split(pipeline))

    # Beside the split, as Keras's validation_data: another dataset (a test file of the same source)
    # validates the run and gives its held-out results; every row of this one then trains.
    others = {d.id: f"{d.name} · {d.n_rows} rows" for d in datasets if d.id != dataset_id}
    validate_on = {"split": "The split's held-out rows"} | _ui.distinct(others)
    if st.session_state.get("train_validation", "split") not in validate_on:
        st.session_state["train_validation"] = "split"  # the source run's, gone or not yours
    c1, c2 = st.columns([1, 2])
    chosen = c1.selectbox(
        "Validate on",
        list(validate_on),
        format_func=validate_on.__getitem__,
        key="train_validation",
        help="Another dataset with the same columns and classes (e.g. the standard test file): the run "
        "trains on every row of this dataset (the split is skipped), validates on that one after the "
        "pipeline fitted on the training rows, and reports its results on it.",
    )
    validation_dataset = None if chosen == "split" else chosen
    refused: AppError | None = None  # a validation dataset that differs: shown here, refused at Launch
    if validation_dataset is not None:
        try:
            checked = _ui.on_cluster(
                check_validation_data, store.config, pipeline.to_dict(), validation_dataset, task
            )
        except AppError as exc:
            refused = exc
            _ui.error(exc)
        else:
            c2.caption(
                f"Trains on all {checked['train_rows']:,} rows of {_ui.md_escape(dataset.name)} (the "
                f"split is skipped); validates on the {checked['rows']:,} rows of the other dataset."
            )
input_shape = tuple(probe["shape"])
n_classes = max(1, len(probe["classes"])) if task == "multiclass" else 1

# --- model ------------------------------------------------------------------------------------
st.subheader("Model")
if _estimators.family_choice(source) == _estimators.SKLEARN:  # its own form, settings and Launch
    _estimators.train_section(
        store,
        who,
        dataset=dataset,
        pipeline=pipeline,
        pipeline_id=None if pipe_choice == "default" else pipe_choice,
        task=task,
        inferred_task=inferred,
        source=source,
        validation_dataset=validation_dataset,
        refused=refused,
    )
images = len(input_shape) == 3
c1, c2, c3 = st.columns(3)
# Template IDs; the article's network first for images (the seed's MNIST as published).
templates = [*IMAGE_TEMPLATES, "mlp"] if images else ["mlp"]
if source is not None and not _estimators.from_estimator(source):
    templates.insert(0, "From the source run")
template = c1.selectbox(
    "Template",
    templates,
    format_func=lambda t: TEMPLATES.get(t, t),
    key=f"train_template_{images}_{bool(source)}",
)
ranges = _ranges.Ranges()  # bounded number fields, checked at Launch (a typed 3000 epochs is read)
if template == "From the source run":
    try:
        model = source.model  # type: ignore[union-attr, assignment]
        if model.task != task:
            model = ModelSpec(model.layers, task)
    except AppError as exc:
        _ui.fail(exc)
elif template == "mlp":
    hidden = c2.text_input("Hidden layer widths", value="64, 32", key="train_hidden")
    dropout = ranges.number(c3, "Dropout", 0.0, 0.9, 0.1, step=0.05, key="train_dropout")
    try:
        widths = tuple(int(w) for w in hidden.replace(" ", "").split(",") if w)
        model = model_template("mlp", task, hidden=widths, dropout=dropout, images=images)
    except (ValueError, AppError) as exc:
        _ui.error(exc if isinstance(exc, AppError) else f"Widths must be whole numbers, e.g. 64, 32 ({exc}).")
        _ui.end_page()
else:
    model = model_template(template, task)

# Every template opens in the layer editor: add, remove, reorder or change layers. The output
# layer is added by Loom from the task. Checked (shapes, parameters) before anything runs.
with st.expander("Edit the layers", expanded=False):
    edited = st.data_editor(
        pd.DataFrame(layer_rows(model), columns=list(LAYER_COLUMNS)),
        num_rows="dynamic",
        hide_index=True,
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=list(LAYERS), required=True),
            "activation": st.column_config.SelectboxColumn("activation", options=list(ACTIVATIONS)),
            "padding": st.column_config.SelectboxColumn("padding", options=["valid", "same"]),
            "rate": st.column_config.NumberColumn("rate", min_value=0.0, max_value=0.99, step=0.05),
        },
        key=f"layer_editor_{model.hash[:12]}_{images}",
    )
    try:
        model = ModelSpec.from_dict(
            {"type": "model", "task": task, "layers": layers_from_rows(edited.to_dict("records"))}
        )
    except AppError as exc:
        _ui.error(exc)
        _ui.end_page()
try:
    shapes = model.shapes(input_shape, n_classes)
except AppError as exc:
    _ui.fail(exc)
st.dataframe(
    [{"layer": n, "output shape": str(s), "parameters": p} for n, s, p in shapes],
    hide_index=True,
    key="layers",
)
st.caption(f"Input {input_shape} · {sum(p for *_, p in shapes):,} parameters")

# --- optimizer and settings -------------------------------------------------------------------
st.subheader("Optimizer and settings")
c1, c2, c3, c4 = st.columns(4)
opt_name = c1.selectbox("Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index("adam"), key="train_opt")
lr = c2.number_input("Learning rate", value=1e-3, format="%.5f", step=1e-4, key="train_lr")
schedule = c3.selectbox("Schedule", SCHEDULES, key="train_schedule")
clip = ranges.number(c4, "Clip gradient norm (0: off)", 0.0, 100.0, 0.0, key="train_clip")
c1, c2, c3, c4 = st.columns(4)
epochs = ranges.number(c1, "Epochs", 1, 1000, 10, key="train_epochs")
batch = ranges.number(c2, "Batch size", 1, 65536, 32, key="train_batch")
seed = ranges.number(c3, "Seed", 0, 2**31 - 1, 0, key="train_seed")
patience = ranges.number(c4, "Early stopping patience (0: off)", 0, 100, 0, key="train_patience")
c1, c2, c3 = st.columns([1, 1, 2])
workers = ranges.number(
    c1,
    "Workers (data-parallel)",
    1,
    64,
    1,
    key="train_workers",
    help="Above 1, one run trains synchronously across that many Dask workers, splitting each batch.",
)
backend = backend_choice(c2, "train_backend")
gpu = c3.checkbox("One GPU per worker (workers started with --resources GPU=1)", key="train_gpu")
team = _ui.team_choice("train_team", who)


def _run_name(template: str, dataset_name: str, optimizer: str, source) -> str:  # type: ignore[no-untyped-def]
    if _handruns.is_suggestion(source):  # "<study> · suggestion <n> · <id>"
        return f"{source.run.name} · {{id}}"
    if source is not None and source.run.trial is not None:  # a promoted trial: its study and trial
        trial = source.run.trial
        try:
            study = get_study(store, str(trial["study"]), viewer=who).name
        except AppError:
            study = "a study"
        return f"{study} · trial {trial.get('number')} · {{id}}"
    if template == "From the source run" and source is not None:  # "<source> · fork <id>", once
        return fork_name(source.run.name or source.run.id[:8])
    model = TEMPLATES.get(template, template).split(":")[0]  # "CNN (TensorFlow MNIST article)", "MLP"
    return f"{dataset_name} · {model} · {optimizer} · {{id}}"


if (unscaled := scale_warning(probe)) and not images:
    st.warning(unscaled, icon=":material/straighten:")
repeats = _groups.seeds_input(st, ranges)
if st.button("Launch", type="primary", key="train_launch"):
    try:
        if refused is not None:  # refused before anything is stored, naming what differs
            raise refused
        ranges.check()  # a field out of range launches nothing, and says which
        optimizer = OptimizerSpec(opt_name, float(lr), schedule=schedule, clipnorm=float(clip) or None)
        spec = TrainSpec(
            pipeline=pipeline.to_dict(),
            model=model.to_dict(),
            optimizer=optimizer.to_dict(),
            epochs=int(epochs),
            batch_size=int(batch),
            seed=int(seed),
            early_stopping=int(patience),
            multi_worker=int(workers) > 1,
            workers=int(workers),
            gpu=bool(gpu),
            pipeline_id=None if pipe_choice == "default" else pipe_choice,
            backend=backend,
            validation_dataset=validation_dataset,
        )
        if backend != "tensorflow":  # refused here, before anything is stored, if no worker has it
            check_backend(_ui.client(), backend)
        if repeats > 1:  # a seed group: opens Experiments on the group
            group = _groups.launch(
                store,
                who,
                spec,
                repeats,
                name=_run_name(template, dataset.name, opt_name, source),
                team=team,
                dataset_id=dataset_id,
                parent_id=_handruns.parent(source)[0],
                parent_kind=_handruns.parent(source)[1],
            )
            first, *others = group.run_ids
            _handruns.launched(store, who, source, first, spec.to_dict(), others)  # the first has spec.seed
            _groups.open_group(group)
        run_id = submit_run(
            _ui.client(),
            store,
            "train",
            spec.to_dict(),
            # Distinguishable by default: dataset, model, optimizer and the run's short ID.
            name=_run_name(template, dataset.name, opt_name, source),
            options=placement(spec),
            dataset_id=dataset_id,
            pipeline_id=spec.pipeline_id,
            parent_id=_handruns.parent(source)[0],
            parent_kind=_handruns.parent(source)[1],
            viewer=who,
            team=team,
        )
        _handruns.launched(store, who, source, run_id, spec.to_dict())
    except AppError as exc:
        _ui.error(exc)
    else:
        st.switch_page("pages/jobs.py", query_params={"run": run_id})
_estimators.baselines_button(
    store,
    who,
    dataset=dataset,
    pipeline=pipeline,
    pipeline_id=None if pipe_choice == "default" else pipe_choice,
    task=task,
    validation_dataset=validation_dataset,
    refused=refused,
)
