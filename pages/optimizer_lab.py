"""Optimizer Lab: watch 1-4 optimizers walk a 2-D surface, with Keras's own update rules."""

import streamlit as st

from core.charts import plot_optimizer_losses
from core.charts import plot_optimizer_paths
from core.errors import AppError
from core.optimizers import OPTIMIZERS
from core.optimizers import SURFACES
from core.optimizers import walk
from pages import _ui

st.title("Optimizer Lab")
_ui.viewer()  # with accounts on, the cluster is for signed-in users
st.caption(
    "The same update rules as `keras.optimizers` (tested against Keras), on a 2-D surface. "
    "Press Play on the left chart to animate."
)


# cache_resource, not cache_data: the figures are read-only once drawn (st.plotly_chart copies
# them), and pickling them into the cache and out again on every hit cost more than the walk.
@st.cache_resource(show_spinner=False, max_entries=64)
def _figures(surface: str, chosen: tuple[str, ...], lr: float, momentum: float, steps: int):  # type: ignore[no-untyped-def]
    # At most 4 x 2,000 steps of a 2-D NumPy walk (tens of milliseconds): computed here, not on
    # the cluster, where it queued behind training runs holding every worker thread (a busy
    # machine's Lab waited for a run to end). The figures depend on nothing else, so a setting
    # tried before redraws at once.
    paths = walk(surface, list(chosen), lr, momentum, steps)
    return paths, plot_optimizer_paths(SURFACES[surface], paths), plot_optimizer_losses(paths)


# A fragment: a change reruns only the Lab below, not the app's navigation and the page's head.
@st.fragment
def _lab() -> None:
    c1, c2, c3, c4, c5 = st.columns([2, 3, 1, 1, 1])
    surface = c1.selectbox(
        "Surface", list(SURFACES), format_func=lambda s: SURFACES[s].title, key="lab_surface"
    )
    chosen = c2.multiselect(
        "Optimizers (1-4)", list(OPTIMIZERS), default=["sgd", "momentum", "adam"], key="lab_opts"
    )
    lr = c3.number_input(
        "Learning rate",
        value=0.01 if surface != "rosenbrock" else 0.001,
        format="%.4f",
        step=0.001,
        key=f"lab_lr_{surface}",
    )
    momentum = c4.number_input("Momentum", 0.0, 0.99, 0.9, step=0.05, key="lab_momentum")
    steps = c5.number_input("Steps", 10, 2000, 200, step=10, key="lab_steps")
    try:
        paths, paths_figure, losses_figure = _figures(
            surface, tuple(chosen), float(lr), float(momentum), int(steps)
        )
    except AppError as exc:
        _ui.error(exc)
        return
    left, right = st.columns(2)
    left.plotly_chart(paths_figure, key="lab_paths")
    right.plotly_chart(losses_figure, key="lab_losses")
    for p in paths:
        if p.diverged_at:
            st.warning(f"{p.optimizer} diverged at step {p.diverged_at}: lower the learning rate.")
    st.dataframe(
        [
            {"optimizer": p.optimizer, "final loss": p.losses[-1], "final x": p.xs[-1], "final y": p.ys[-1]}
            for p in paths
        ],
        hide_index=True,
        key="lab_table",
    )


_lab()
