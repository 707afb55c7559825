"""Studies that learn from people, in the browser: the Tune page's "Add hand runs" and "Open next
suggestion in Train", and the Train form opened on a suggestion (``/train?suggestion=<study>&trial=<n>``),
whose launch is told to the study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from core.errors import AppError
from core.store import Store
from core.store import Viewer
from core.tuning import add_hand_runs
from core.tuning import claim_suggestion
from core.tuning import hand_run_candidates
from core.tuning import suggest_next
from core.tuning import suggestion_run
from core.tuning import sync_hand_runs
from pages import _ui


def sync(store: Store, study_id: str) -> None:
    """Bring in the study's hand runs and launched suggestions that ended (the driver does it
    while it runs; this covers a study whose driver has ended)."""
    try:
        sync_hand_runs(store, study_id)
    except AppError as exc:
        _ui.error(exc)


def section(store: Store, who: Viewer, study_id: str, trials: list[Any]) -> None:
    """The owner's controls: open the next suggestion in Train; add hand runs by selection."""
    if st.button("Open next suggestion in Train", key="open_suggestion"):
        try:
            suggestion = suggest_next(store, study_id, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            st.switch_page(
                "pages/train.py", query_params={"suggestion": study_id, "trial": str(suggestion.number)}
            )
    hand = [t for t in trials if t.user_attrs.get("hand_run")]
    with st.expander(f"Add hand runs ({len(hand)} joined)"):
        st.caption(
            "Training runs launched by hand on this study's dataset, with its model family, join as "
            "completed trials: the sampler learns from them. A run whose settings fall outside the "
            "space is refused, naming the setting."
        )
        for t in hand:
            st.page_link(
                "pages/jobs.py",
                label=f"Trial {t.number}: hand run {t.user_attrs['hand_run'][:8]}",
                query_params={"run": t.user_attrs["hand_run"]},
            )
        try:
            candidates = hand_run_candidates(store, study_id, viewer=who)
        except AppError as exc:
            _ui.error(exc)
            return
        if not candidates:
            st.caption("No other hand-launched run on this dataset.")
            return
        st.dataframe(
            [
                {
                    "run": c.label,
                    "objective": ", ".join(f"{v:.4g}" for v in c.objective),
                    **{k: v for k, v in c.values.items()},
                    "can join": "yes" if not c.reason else c.reason,
                }
                for c in candidates
            ],
            hide_index=True,
            key="hand_run_candidates",
        )
        eligible = {c.run_id: c.label for c in candidates if not c.reason}
        picked = st.multiselect(
            "Runs to add", list(eligible), format_func=eligible.__getitem__, key="hand_runs_pick"
        )
        if st.button("Add to the study", key="add_hand_runs"):
            try:
                added = add_hand_runs(store, study_id, picked, viewer=who)
            except AppError as exc:
                _ui.error(exc)
            else:
                st.toast(f"Added as trials {', '.join(str(n) for n in added.values())}.")
                st.rerun()


def source(store: Store, who: Viewer) -> Any:
    """The suggestion the Train form opens on (``?suggestion=&trial=``), as a source run, or None
    (a bad or launched suggestion is shown as an error)."""
    study_id = st.query_params.get("suggestion")
    if not study_id:
        return None
    try:
        found = suggestion_run(store, study_id, st.query_params.get("trial", ""), viewer=who)
    except AppError as exc:
        _ui.error(exc)
        return None
    st.info(
        f"The study's suggestion: **{_ui.md_escape(found.run.name)}**. Change what you like and "
        "launch; the study learns from the run (as its trial, or as a hand run if you changed a tuned "
        "setting)."
    )
    return found


def is_suggestion(src: Any) -> bool:
    return src is not None and src.run.kind == "suggestion"


def parent(src: Any) -> tuple[str | None, str | None]:
    """The launched run's parent: a source run's, none for a suggestion (stored nowhere)."""
    if src is None or is_suggestion(src):
        return None, None
    return src.run.id, "promoted" if src.is_trial else "forked"


def launched(
    store: Store, who: Viewer, src: Any, run_id: str, spec: dict[str, Any], seed_runs: Sequence[str] = ()
) -> None:
    """Tell the study that its suggestion was launched as ``run_id`` (with ``seed_runs``, the
    rest of the seed group it was launched as)."""
    if not is_suggestion(src):
        return
    try:
        message = claim_suggestion(
            store,
            str(src.run.study_id),
            int(st.query_params.get("trial", -1)),
            run_id,
            spec,
            viewer=who,
            seed_runs=seed_runs,
        )
    except AppError as exc:
        _ui.error(exc)
    else:
        st.toast(message)
