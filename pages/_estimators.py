"""scikit-learn on the Train page (model family, estimator kind and hyperparameters, launch) and
the "Baselines for this data" buttons on Train, a run's page and Compare.

Thin UI: the specs, checks and launches are core's (``core.models.EstimatorSpec``,
``core.training.launch_baselines``); scikit-learn itself is never imported here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.compute import TERMINAL
from core.compute import submit_run
from core.errors import AppError
from core.experiments import MAX_RUNS
from core.models import ESTIMATORS
from core.models import EstimatorSpec
from core.models import estimator_warnings
from core.models import is_estimator
from core.store import get_run
from core.training import TrainSpec
from core.training import baselines_for_run
from core.training import launch_baselines
from pages import _handruns
from pages import _ranges
from pages import _ui

KERAS = "Neural network (Keras)"
SKLEARN = "scikit-learn"
FAMILIES = (KERAS, SKLEARN)


def from_estimator(source: Any) -> bool:
    """Whether the run Train starts from (Tweak and rerun, a promoted trial) is scikit-learn."""
    return source is not None and source.spec is not None and is_estimator(source.spec.model)


def family_choice(source: Any) -> str:
    """The model family radio; a source run that is an estimator opens on scikit-learn."""
    return st.radio(
        "Model family",
        FAMILIES,
        index=1 if from_estimator(source) else 0,
        horizontal=True,
        key=f"train_family_{source.run.id if source is not None else ''}",
    )


def _param_widget(column: Any, kind: str, name: str, p: Any, value: Any, key: str) -> Any:
    label = name.replace("_", " ")
    if p.kind == "choice":
        choices = list(p.choices)
        return column.selectbox(
            label, choices, index=choices.index(value) if value in choices else 0, help=p.help, key=key
        )
    # No min/max on the widgets: the browser would keep the last valid value of one typed out of
    # range and Launch would use it (issue 27). EstimatorSpec checks each range, naming the field.
    if p.none_ok:  # e.g. max_depth: 0 means no limit
        number = column.number_input(f"{label} (0: no limit)", value=int(value or 0), help=p.help, key=key)
        return int(number) or None
    if p.kind == "int":
        return int(column.number_input(label, value=int(value), help=p.help, key=key))
    return float(
        column.number_input(
            label,
            value=float(value),
            format="%.6g",
            help=p.help,
            key=key,
        )
    )


def estimator_form(task: str, source: Any) -> EstimatorSpec:
    """The estimator kind and its hyperparameters (prefilled from an estimator source run);
    stops the page with the reason when they are invalid."""
    start = source.model if source is not None and isinstance(source.model, EstimatorSpec) else None
    kinds = list(ESTIMATORS)
    c1, c2 = st.columns([1, 2])
    kind = c1.selectbox(
        "Estimator",
        kinds,
        index=kinds.index(start.kind) if start else kinds.index("random_forest"),
        format_func=lambda k: ESTIMATORS[k][0],
        key=f"est_kind_{start.kind if start else ''}",
    )
    schema = ESTIMATORS[kind][2]
    values: dict[str, Any] = {}
    if not schema:
        c2.caption("No hyperparameters: predicts the majority class (classification) or the mean.")
    columns = st.columns(max(1, min(4, len(schema))))
    for i, (name, p) in enumerate(schema.items()):
        value = start.params.get(name, p.default) if start and start.kind == kind else p.default
        values[name] = _param_widget(
            columns[i % len(columns)], kind, name, p, value, key=f"est_{kind}_{name}"
        )
    try:
        return EstimatorSpec(kind, task, values)
    except AppError as exc:
        _ui.fail(exc)
        raise  # _ui.fail stops the page


def train_section(
    store: Any,
    who: Any,
    *,
    dataset: Any,
    pipeline: Any,
    pipeline_id: str | None,
    task: str,
    inferred_task: str | None,
    source: Any,
    validation_dataset: str | None = None,
    refused: AppError | None = None,
) -> None:
    """The scikit-learn half of the Model section, its settings and Launch; the page stops after.
    ``validation_dataset`` is the Train page's other dataset to validate on (None: the split's);
    ``refused`` the error that dataset was refused with, raised again at Launch."""
    model = estimator_form(task, source)
    for warning in estimator_warnings(model, int(dataset.n_rows or 0), inferred_task):
        st.warning(warning, icon=":material/warning:")
    st.caption(
        f"{model.label} on the pipeline's output and split, fitted on a Dask worker"
        + (" (grown in chunks: one live point each)" if len(model.chunks) > 1 else " (one fit: one point)")
        + ". Optimizer, epochs and batch size do not apply."
    )
    st.subheader("Settings")
    c1, c2 = st.columns([1, 3])
    ranges = _ranges.Ranges()
    seed = ranges.number(c1, "Seed", 0, 2**31 - 1, 0, key="est_seed")
    team = _ui.team_choice("est_team", who)
    left, right = st.columns([1, 3])
    if left.button("Launch", type="primary", key="est_launch"):
        try:
            if refused is not None:
                raise refused
            ranges.check()
            spec = TrainSpec(
                pipeline=pipeline.to_dict(),
                model=model.to_dict(),
                seed=int(seed),
                pipeline_id=pipeline_id,
                validation_dataset=validation_dataset,
            )
            run_id = submit_run(
                _ui.client(),
                store,
                "train",
                spec.to_dict(),
                name=f"{dataset.name} · {model.label} · {{id}}",
                dataset_id=dataset.id,
                pipeline_id=pipeline_id,
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
    with right:
        baselines_button(
            store,
            who,
            dataset=dataset,
            pipeline=pipeline,
            pipeline_id=pipeline_id,
            task=task,
            validation_dataset=validation_dataset,
            refused=refused,
        )
    _ui.end_page()


def baselines_button(
    store: Any,
    who: Any,
    *,
    dataset: Any,
    pipeline: Any,
    pipeline_id: str | None,
    task: str,
    validation_dataset: str | None = None,
    refused: AppError | None = None,
) -> None:
    """Train page: launch the dummy, linear and boosting baselines for this data (validated on
    the page's other dataset, if one is chosen); opens Compare."""
    if st.button(
        "Baselines for this data",
        key="train_baselines",
        help="A dummy (majority / mean), a linear model and histogram gradient boosting on this "
        "pipeline and target, launched together and opened in Compare.",
    ):
        try:
            if refused is not None:
                raise refused
            ids = launch_baselines(
                _ui.client(),
                store,
                pipeline.to_dict(),
                task,
                viewer=who,
                dataset_name=dataset.name,
                pipeline_id=pipeline_id,
                validation_dataset=validation_dataset,
            )
        except AppError as exc:
            _ui.error(exc)
        else:
            st.switch_page("pages/compare.py", query_params={"runs": ",".join(ids)})


def run_baselines_button(
    store: Any, who: Any, run_id: str, shown: list[str] | None = None, key: str = ""
) -> None:
    """On a training run's page or in Compare: baselines for that run's data, then Compare with
    the runs already shown and the baselines beside them."""
    if st.button(
        "Baselines for this data",
        key=f"run_baselines_{key or run_id}",
        help="A dummy (majority / mean), a linear model and histogram gradient boosting on this run's "
        "pipeline and target (reused if already launched), compared beside it.",
    ):
        try:
            ids = baselines_for_run(_ui.client(), store, run_id, viewer=who)
        except AppError as exc:
            _ui.error(exc)
        else:
            runs = list(dict.fromkeys([*(shown or [run_id]), *ids]))[:MAX_RUNS]
            st.switch_page("pages/compare.py", query_params={"runs": ",".join(runs)})


def refresh_while_running(store: Any, who: Any, run_ids: list[str]) -> None:
    """Compare: while a compared run is still queued or running, check every second and redraw
    the page once one ends (baselines just launched fill in as they finish)."""
    statuses = {i: _status(store, who, i) for i in run_ids}
    if all(s in TERMINAL for s in statuses.values()):
        return
    running = sum(s not in TERMINAL for s in statuses.values())
    st.caption(f"{running} run(s) still training: this comparison updates as they end.")

    @st.fragment(run_every="1s")
    def _watch() -> None:
        if any(_status(store, who, i) != statuses[i] for i in run_ids):
            st.rerun(scope="app")

    _watch()


def _status(store: Any, who: Any, run_id: str) -> str:
    try:
        return str(get_run(store, run_id, viewer=who).status)
    except AppError:
        return "gone"


def model_suffix(run: Any) -> str:
    """The suffix of a training run's model file: ``.skops`` for scikit-learn, else ``.keras``."""
    spec = run.spec if isinstance(run.spec, dict) else dict(run.spec)
    return ".skops" if is_estimator(dict(spec.get("model") or {})) else ".keras"
