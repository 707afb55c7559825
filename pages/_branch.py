"""Branch from here, in the browser: a finished run's kept checkpoints and the link that opens
Train on a branch (``/train?branch=<run>&epoch=<n>``), the Train page's branch form, a branch's
shared history and its lineage of branches."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import AppError
from core.formatting import human_bytes
from core.models import is_estimator
from core.optimizers import OPTIMIZERS
from core.optimizers import SCHEDULES
from core.store import RunRecord
from core.store import Store
from core.store import Viewer
from core.store import get_run
from core.training import BranchNode
from core.training import CheckpointRule
from core.training import branch_history
from core.training import branch_lineage
from core.training import branch_run
from core.training import checkpoint_bytes
from core.training import epoch_checkpoints
from core.training import estimator_branch_refusal
from core.training import read_training_run
from pages import _ui


def history(store: Store, who: Viewer, run: RunRecord) -> dict[str, Any]:
    """A branch's shared history (its ancestors' curves up to where it branched), read once per
    visit: it never changes."""
    if run.parent_kind != "branched":
        return {}
    slot = f"branch_history_{run.id}"
    if slot not in st.session_state:
        st.session_state[slot] = branch_history(store, run.id, viewer=who)
    return dict(st.session_state[slot])


def chart_options(run: RunRecord, prefix: str, finished: bool) -> dict[str, Any]:
    """``st.plotly_chart`` options: a finished training run's per-epoch chart reports a clicked
    point or a box (its epoch is then offered to branch from)."""
    if finished and run.kind == "train" and prefix == "epoch":
        return {"on_select": "rerun", "selection_mode": ("points", "box")}
    return {}


def _picked_epoch(chart_key: str) -> int | None:
    state = st.session_state.get(chart_key)
    try:
        points = state["selection"]["points"] if state else []
    except (KeyError, TypeError):
        return None
    xs = [p.get("x") for p in points if isinstance(p, dict) and isinstance(p.get("x"), int | float)]
    return int(round(max(xs))) if xs else None


def section(store: Store, who: Viewer, run: RunRecord, chart_key: str) -> None:
    """A finished training run's kept checkpoints (epochs, size) and "Branch from epoch N"."""
    trained = read_training_run(run)
    if run.kind != "train" or trained.spec is None:
        return
    if is_estimator(trained.spec.model):  # forests and boosting grow on with warm_start; others cannot
        why = estimator_branch_refusal(str(trained.spec.model.get("kind")))
        if why:
            st.caption(f"Branch from here: not for this model, as {why}. Fork it instead.")
            return
    kept = epoch_checkpoints(store, run.id)
    size = checkpoint_bytes(store, run.id)
    if not kept:
        if size:
            st.caption(f"Checkpoints: {human_bytes(size)} (from before per-epoch checkpoints: resume only).")
        return
    rule = CheckpointRule.from_dict(trained.spec.checkpoints)
    st.caption(
        f"Checkpoints: epochs {', '.join(str(c.epoch) for c in kept)} kept · {human_bytes(size)} "
        f"(the last {rule.last}"
        + (f", every multiple of {rule.every}" if rule.every else "")
        + f", the best {rule.best} by validation loss)."
    )
    if not who.can_create:
        return
    epochs = [c.epoch for c in kept]
    picked = _picked_epoch(chart_key)
    if picked is not None:  # a clicked point or a box: the nearest kept epoch
        st.session_state[f"branch_epoch_{run.id}"] = min(epochs, key=lambda e: (abs(e - picked), e))
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    epoch = c1.selectbox(
        "Branch from epoch",
        epochs,
        index=len(epochs) - 1,
        key=f"branch_epoch_{run.id}",
        help="Click a point (or draw a box) on the per-epoch chart to pick its epoch.",
    )
    c2.page_link(
        "pages/train.py",
        label=f"Branch from epoch {epoch}",
        query_params={"branch": run.id, "epoch": str(epoch)},
        icon=":material/fork_right:",
    )


def _tree_lines(node: BranchNode, current: str, depth: int = 0) -> list[str]:
    here = " (this run)" if node.run_id == current else ""
    at = f"@ epoch {node.epoch} · " if node.epoch is not None else ""
    line = f"{'  ' * depth}- {at}[{_ui.md_escape(node.name)}](/jobs?run={node.run_id}){here}"
    return [line] + [x for child in node.children for x in _tree_lines(child, current, depth + 1)]


def lineage(store: Store, who: Viewer, run: RunRecord) -> None:
    """The tree of branches this run belongs to (parent -> children, with their epochs)."""
    try:
        tree = branch_lineage(store, run.id, viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return
    if tree.children:
        st.markdown("**Branches**")
        st.markdown("\n".join(_tree_lines(tree, run.id)))


def form(store: Store, who: Viewer, run_id: str, epoch_text: str | None) -> None:
    """The Train page opened on ``?branch=<run>&epoch=<n>``: the run's settings, editable where
    a branch may change them; Launch starts the branch."""
    try:
        parent = get_run(store, run_id, viewer=who)
        trained = read_training_run(parent)
        if parent.kind != "train" or trained.spec is None:
            raise AppError(f"Run {run_id} is not a training run Loom can read: pick a training run.")
        epoch = int(epoch_text or "")
    except ValueError:
        _ui.fail(AppError(f"`epoch` must be a whole number, but got {epoch_text!r}."))  # type: ignore[arg-type]
    except AppError as exc:
        _ui.fail(exc)
    if trained.spec is not None and is_estimator(trained.spec.model):
        _estimator_form(store, who, parent, trained.spec.model, epoch)
        return
    spec, opt = trained.spec, trained.optimizer
    assert spec is not None and opt is not None  # noqa: S101 - checked above
    st.info(
        f"Branching **{_ui.md_escape(parent.label)}** (`{parent.id}`) from epoch {epoch}: the branch "
        "loads that epoch's checkpoint (weights and optimizer state) and continues its curves. The model "
        "and the data stay the parent's: a checkpoint's weights fit only them."
    )
    c1, c2, c3 = st.columns(3)
    names = list(OPTIMIZERS)
    name = c1.selectbox("Optimizer", names, index=names.index(opt.name), key=f"branch_opt_{run_id}")
    lr = c2.number_input(
        "Learning rate", value=float(opt.learning_rate), format="%.6f", step=1e-4, key=f"branch_lr_{run_id}"
    )
    schedule = c3.selectbox(
        "Schedule", SCHEDULES, index=list(SCHEDULES).index(opt.schedule), key=f"branch_schedule_{run_id}"
    )
    c1, c2, c3 = st.columns(3)
    epochs = c1.number_input(
        "Epochs (in all)", epoch + 1, 100_000, max(spec.epochs, epoch + 1), key=f"branch_epochs_{run_id}"
    )
    batch = c2.number_input("Batch size", 1, 65_536, spec.batch_size, key=f"branch_batch_{run_id}")
    patience = c3.number_input(
        "Early stopping patience (0: off)", 0, 100, spec.early_stopping, key=f"branch_patience_{run_id}"
    )
    if st.button("Launch the branch", type="primary", key="branch_launch"):
        changes = {
            "optimizer": {"name": name},
            "learning_rate": float(lr),
            "schedule": schedule,
            "epochs": int(epochs),
            "batch_size": int(batch),
            "early_stopping": int(patience),
        }
        try:
            new_id = branch_run(store, _ui.client(), run_id, epoch, changes, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.switch_page("pages/jobs.py", query_params={"run": new_id})


# What grows a scikit-learn model that branches (core.training._classic.GROWS): trees, iterations.
_GROWS = {
    "random_forest": ("n_estimators", "Trees (in all)"),
    "hist_gradient_boosting": ("max_iter", "Iterations (in all)"),
}


def _estimator_form(store: Store, who: Viewer, parent: RunRecord, model: Any, chunk: int) -> None:
    """A scikit-learn branch: the checkpoint's model at ``chunk`` grown on with warm_start."""
    kind = str(model.get("kind"))
    why = estimator_branch_refusal(kind)
    if why:
        _ui.fail(AppError(f"Run {parent.id} cannot branch: {why}. Fork it instead."))
    size, label = _GROWS[kind]
    params = dict(model.get("params") or {})
    st.info(
        f"Branching **{_ui.md_escape(parent.label)}** (`{parent.id}`) from chunk {chunk}: the branch loads "
        "that chunk's fitted model and grows it on (scikit-learn's warm_start), its curves continuing the "
        "parent's."
    )
    grown = st.number_input(label, 2, 100_000, int(params.get(size, 100)) * 2, key=f"branch_size_{parent.id}")
    if st.button("Launch the branch", type="primary", key="branch_launch"):
        try:
            new_id = branch_run(
                store, _ui.client(), parent.id, chunk, {"params": {size: int(grown)}}, viewer=who
            )
        except AppError as exc:
            _ui.error(exc)
        else:
            st.switch_page("pages/jobs.py", query_params={"run": new_id})
