"""The Train page's Keras backend choice: a selectbox, and when the cluster has no worker with
the chosen backend, an error naming it and its install command (Launch then refuses too)."""

from __future__ import annotations

import streamlit as st

from core.errors import AppError
from core.training import BACKENDS
from core.training import check_backend
from pages import _ui


def backend_choice(container, key: str) -> str:  # type: ignore[no-untyped-def]
    """Draw the backend selectbox in ``container``; returns the chosen backend's name."""
    backend = str(
        container.selectbox(
            "Backend",
            list(BACKENDS),
            format_func=BACKENDS.__getitem__,
            key=key,
            help="The Keras backend the run trains on. JAX and PyTorch runs train in a process "
            "of their own on a worker; data-parallel runs need TensorFlow.",
        )
    )
    if backend != "tensorflow":
        problem = backend_problem(backend)
        if problem:
            st.error(problem, icon=":material/extension_off:")
    return backend


def backend_problem(backend: str) -> str | None:
    """Why ``backend`` cannot run on the cluster now (no worker has it), or None."""
    try:
        check_backend(_ui.client(), backend)
    except AppError as exc:
        return str(exc)
    return None
