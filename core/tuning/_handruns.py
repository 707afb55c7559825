"""Studies that learn from people: hand-launched training runs join a study as completed trials,
and the study's next suggestion is launched by a person from the Train form.

A *hand run* is a training run a person launched (not a trial of any study) on the study's
dataset, with its model family and task, whose settings at every path of the study's space are
inside that space. It joins through Optuna's ``study.add_trial(create_trial(...))`` with the
space's distributions and its objective read as the driver reads a trial's; the trial carries
``hand_run`` and ``loom_run`` (the run) in its user attributes, and the run's event log says
which study it joined (``kind="hand_run"``). A run joins a study once.

The next suggestion is an Optuna trial *asked* from the study's sampler (``study.ask()``) and
kept RUNNING, marked ``suggested``, until a person launches it: the sampler's own bookkeeping
(its seed offset, TPE's view of running trials, a grid point taken) stays sound, which a
fixed-params ``enqueue_trial`` could not give (the values would come from no sampler). Launched
as suggested, the run is that trial and the trial is told its result when the run ends; launched
with changes, the trial is failed with the reason and the run joins as a hand run when it ends.
An open suggestion is reused until it is launched, so asking twice makes one trial.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from core.errors import NotFoundError
from core.errors import SpecError
from core.models import is_estimator
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import RunRecord
from core.store import Viewer
from core.store import thaw
from core.tuning._paths import apply
from core.tuning._space import SearchSpace
from core.tuning._steering import _owned_study
from core.tuning._steering import current_space
from core.tuning._steering import dataset_of
from core.tuning._steering import get_study
from core.tuning._steering import parse_study
from core.tuning._storage import load_optuna_study
from core.tuning._storage import optuna_storage
from core.tuning._studyspec import StudySpec

if TYPE_CHECKING:
    from core.store import Store

__all__ = [
    "HandRun",
    "Suggestion",
    "add_hand_runs",
    "claim_suggestion",
    "hand_run_candidates",
    "suggest_next",
    "suggestion_run",
    "sync_hand_runs",
]

_log = logging.getLogger(__name__)

_JOINED = "joined study {study} as a hand run"
_PENDING = "joins study {study} as a hand run when it ends"


@dataclass(frozen=True)
class HandRun:
    """A training run checked against a study: ``reason`` is "" when it may join."""

    run_id: str
    label: str
    values: dict[str, Any]
    objective: tuple[float, ...]
    reason: str = ""


@dataclass(frozen=True)
class Suggestion:
    """The study's next suggestion: Optuna trial ``number`` with ``values`` by path, and the
    training spec they make from the study's base."""

    study_id: str
    number: int
    values: dict[str, Any]
    train: dict[str, Any]


def _family(model: dict[str, Any]) -> str:
    if is_estimator(model):
        return f"scikit-learn {model.get('kind')}"
    return "Keras network"


def _value_at(spec: dict[str, Any], path: str) -> Any:
    """The setting at ``path`` of a training-spec dict (KeyError when it has none)."""
    parts = path.split(".")
    if len(parts) == 1:
        return spec[path]
    if parts[0] == "optimizer":
        return (spec.get("optimizer") or OptimizerSpec().to_dict())[parts[1]]
    if parts[1] == "params":
        return spec["model"].get("params", {})[parts[2]]
    return spec["model"]["layers"][int(parts[2])][parts[3]]


def _values(run_spec: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """The run's values at the space's paths, each checked against its range.

    Raises:
        SpecError: A setting is missing, or outside the space (named, with its range).
    """
    values = {}
    for p in space.params:
        try:
            value = _value_at(run_spec, p.path)
        except (KeyError, IndexError, TypeError, ValueError):
            raise SpecError(f"it has no {p.label} ({p.path}), which the study tunes") from None
        try:
            values[p.path] = p.check(value)
        except SpecError as exc:
            raise SpecError(f"its {p.label} is outside the study's space: {exc}") from None
    return values


def _objective(run: RunRecord, summary: dict[str, tuple[float, float]], spec: StudySpec) -> list[float] | str:
    from core.tuning._outcome import _objective_values

    return _objective_values(run, summary, spec)


def _summaries(store: Store, run_ids: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    from core.store import RunSummary

    out: dict[str, dict[str, tuple[float, float]]] = {r: {} for r in run_ids}
    if not run_ids:
        return out
    with store.session(SYSTEM) as s:
        for run_id, key, low, high in s.execute(
            select(RunSummary.run_id, RunSummary.key, RunSummary.min, RunSummary.max).where(
                RunSummary.run_id.in_(run_ids)
            )
        ):
            out[run_id][key] = (low, high)
    return out


def _check(
    run: RunRecord, spec: StudySpec, space: SearchSpace, summary: dict[str, tuple[float, float]]
) -> HandRun:
    label = run.name or run.id[:8]
    run_spec = thaw(run.spec)

    def refused(why: str) -> HandRun:
        return HandRun(run.id, label, {}, (), f"Run {label} cannot join this study: {why}.")

    if run.kind != "train" or run.trial is not None or run.study_id:
        return refused("it is not a hand-launched training run (a study's trials are in their own study)")
    if run.status != "succeeded":
        return refused(f"it has not finished ({run.status}); a run joins once it has succeeded")
    base = spec.base
    if dataset_of(run_spec) != dataset_of(base):
        return refused("it trained on another dataset than the study's")
    model, base_model = run_spec.get("model") or {}, base.get("model") or {}
    if _family(model) != _family(base_model):
        return refused(f"it is a {_family(model)}, and the study tunes a {_family(base_model)}")
    if model.get("task") != base_model.get("task"):
        return refused(f"its task is {model.get('task')}, and the study's is {base_model.get('task')}")
    try:
        values = _values(run_spec, space)
        apply(base, values)
    except SpecError as exc:
        return refused(str(exc).rstrip("."))
    objective = _objective(run, summary, spec)
    if isinstance(objective, str):
        return refused(objective)
    return HandRun(run.id, label, values, tuple(objective))


def _joined(
    store: Store, study_id: str, run_ids: list[str], *, pending: bool = True, s: Any = None
) -> set[str]:
    """The runs whose log says they joined the study (or, with ``pending``, will join it)."""
    from core.store import RunEvent

    messages = [_JOINED.format(study=study_id)] + ([_PENDING.format(study=study_id)] if pending else [])
    query = select(RunEvent.run_id).where(
        RunEvent.kind == "hand_run", RunEvent.message.in_(messages), RunEvent.run_id.in_(run_ids)
    )
    if s is not None:
        return set(s.scalars(query))
    with store.session(SYSTEM) as session:
        return set(session.scalars(query))


def hand_run_candidates(store: Store, study_id: str, *, viewer: Viewer, limit: int = 500) -> list[HandRun]:
    """The hand-launched training runs ``viewer`` may see on the study's dataset, newest first,
    each with its values and objective, or why it cannot join. Runs that joined already are left
    out.

    Raises:
        NotFoundError: The study is missing or not visible.
    """
    from core.store import list_runs

    study = get_study(store, study_id, viewer=viewer)
    spec = parse_study(study)
    _, space = current_space(store, study_id, viewer=viewer)
    dataset = dataset_of(spec.base)
    runs = [
        r
        for r in list_runs(store, kind="train", limit=limit, viewer=viewer)
        if r.trial is None and not r.study_id and (dataset is None or r.dataset_id in (None, dataset))
    ]
    joined = _joined(store, study_id, [r.id for r in runs])
    runs = [r for r in runs if r.id not in joined]
    summaries = _summaries(store, [r.id for r in runs])
    return [_check(r, spec, space, summaries[r.id]) for r in runs]


def _lock_study(s: Any, study_id: str) -> None:
    """Take the study's row until commit (a no-op write): two requests to add runs are applied
    one after the other, each seeing what the other added."""
    from core.store import Study

    s.execute(update(Study).where(Study.id == study_id).values(phases_json=Study.phases_json))


def _add(store: Store, study_id: str, spec: StudySpec, space: SearchSpace, phase: int, hand: HandRun) -> int:
    """Add one checked hand run as a completed trial; returns its trial number."""
    import optuna

    from core.store import RunEvent

    with store.session(SYSTEM) as s:
        _lock_study(s, study_id)
        if _joined(store, study_id, [hand.run_id], pending=False, s=s):
            raise SpecError(f"Run {hand.label} has joined this study already; a run joins once.")
        s.add(RunEvent(run_id=hand.run_id, kind="hand_run", message=_JOINED.format(study=study_id)))
    study = optuna.load_study(study_name=study_id, storage=optuna_storage(store.config))
    values = list(hand.objective)
    trial = optuna.trial.create_trial(
        params=hand.values,
        distributions={p: d for p, d in space.distributions().items() if p in hand.values},
        values=values,
        user_attrs={"hand_run": hand.run_id, "loom_run": hand.run_id, "phase": phase, "outcome": "hand run"},
    )
    try:
        study.add_trial(trial)
    except Exception:
        _forget(store, study_id, hand.run_id, _JOINED)
        raise
    numbers = [
        t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get("hand_run") == hand.run_id
    ]
    return numbers[-1]


def _forget(store: Store, study_id: str, run_id: str, template: str) -> None:
    from sqlalchemy import delete

    from core.store import RunEvent

    with store.session(SYSTEM) as s:
        s.execute(
            delete(RunEvent).where(
                RunEvent.run_id == run_id,
                RunEvent.kind == "hand_run",
                RunEvent.message == template.format(study=study_id),
            )
        )


def add_hand_runs(store: Store, study_id: str, run_ids: list[str], *, viewer: Viewer) -> dict[str, int]:
    """Add hand-launched runs ``viewer`` may see to their study as completed trials. Owner only.

    Returns:
        The new trial number of each run.

    Raises:
        SpecError: No run given; a run cannot join (the message names the setting outside the
            space, or what else differs); a run joined already. Runs before it in the list
            have joined.
        NotFoundError: The study or a run is missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    from core.store import get_run

    if not run_ids:
        raise SpecError("Please select at least one run to add.")
    study = _owned_study(store, study_id, viewer, "steer")
    spec = parse_study(study)
    phase, space = current_space(store, study_id, viewer=viewer)
    runs = [get_run(store, r, viewer=viewer) for r in run_ids]
    summaries = _summaries(store, [r.id for r in runs])
    added = {}
    for run in runs:
        hand = _check(run, spec, space, summaries[run.id])
        if hand.reason:
            raise SpecError(hand.reason)
        added[run.id] = _add(store, study_id, spec, space, phase, hand)
    return added


def _open_suggestion(study: Any) -> Any:
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("suggested") and not t.user_attrs.get("loom_run"):
            return t
    return None


def suggest_next(store: Store, study_id: str, *, viewer: Viewer) -> Suggestion:
    """The study's next suggestion for a person to launch from the Train form: asked from the
    study's sampler and kept as a RUNNING trial until launched (an open one is reused). Owner
    only.

    Raises:
        SpecError: The suggested values make no valid training spec (that trial is failed).
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    import optuna
    from optuna.trial import TrialState

    from core.tuning._storage import build_sampler

    study_row = _owned_study(store, study_id, viewer, "steer")
    spec = parse_study(study_row)
    phase, space = current_space(store, study_id, viewer=viewer)
    storage = optuna_storage(store.config)
    done = len(storage.get_all_trials(storage.get_study_id_from_name(study_id), deepcopy=False))
    study = optuna.load_study(study_name=study_id, storage=storage, sampler=build_sampler(spec, space, done))
    frozen = _open_suggestion(study)
    if frozen is not None:
        values = dict(frozen.params)
        return Suggestion(study_id, frozen.number, values, apply(spec.base, values))
    trial = study.ask()
    trial.set_user_attr("phase", phase)
    try:
        values = space.suggest(trial)
        train = apply(spec.base, values)
    except (SpecError, ValueError) as exc:
        trial.set_user_attr("outcome", f"invalid parameters: {exc}")
        study.tell(trial, state=TrialState.FAIL)
        raise SpecError(f"The study's suggestion makes no valid training run: {exc}") from exc
    trial.set_user_attr("suggested", "open in Train")
    return Suggestion(study_id, trial.number, values, train)


def suggestion_run(store: Store, study_id: str, number: int | str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """An open suggestion as the Train form reads a source run: a
    :class:`~core.training.TrainingRun` of kind ``suggestion`` (stored nowhere, so it is no
    run's parent) whose spec is the study's base with the suggested values. Owner only.

    Raises:
        SpecError: ``number`` is no open suggestion of the study (launched already, or none).
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    from datetime import UTC
    from datetime import datetime

    from core.store import RunResult
    from core.training import TrainingRun
    from core.training import TrainSpec

    study_row = _owned_study(store, study_id, viewer, "steer")
    frozen = _suggested_trial(store, study_id, number)
    train = apply(parse_study(study_row).base, dict(frozen.params))
    record = RunRecord(
        id=f"{study_id}-{frozen.number}",
        kind="suggestion",
        name=f"{study_row.name} · suggestion {frozen.number}",
        status="queued",
        status_reason="",
        stop_requested=False,
        spec=train,
        spec_hash="",
        dataset_id=dataset_of(train),
        pipeline_id=train.get("pipeline_id"),
        study_id=study_id,
        parent_id=None,
        parent_kind="",
        author=study_row.author,
        team=study_row.team,
        archived=False,
        worker="",
        attempts=0,
        created_at=datetime.now(UTC),
        started_at=None,
        ended_at=None,
        heartbeat_at=None,
        progress=0.0,
        result=RunResult.from_json({}),
    )
    return TrainingRun(record, TrainSpec.from_dict(train))


def _suggested_trial(store: Store, study_id: str, number: int | str) -> Any:
    from optuna.trial import TrialState

    try:
        wanted = int(number)
    except (TypeError, ValueError):
        raise SpecError(f"`trial` must be a trial number, but got trial={str(number)[:32]!r}.") from None
    study = load_optuna_study(store.config, study_id)
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}.get(wanted)
    if frozen is None or not frozen.user_attrs.get("suggested"):
        raise SpecError(f"Trial {wanted} is no suggestion of this study; open the next suggestion again.")
    if frozen.state != TrialState.RUNNING or frozen.user_attrs.get("loom_run"):
        raise SpecError(f"Suggestion {wanted} was launched already; open the next suggestion for another.")
    return frozen


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def claim_suggestion(
    store: Store,
    study_id: str,
    number: int,
    run_id: str,
    train: dict[str, Any],
    *,
    viewer: Viewer,
    seed_runs: Sequence[str] = (),
) -> str:
    """Tell the study that a person launched its suggestion ``number`` as run ``run_id`` with
    training spec ``train``. Owner only.

    Launched as suggested, the run is that trial (told its result when the run ends). Launched
    with other values in the space, the suggestion is failed with the reason and the run joins as
    a hand run when it ends.

    Launched as a seed group, ``run_id`` is the group's first run (``train``'s seed) and
    ``seed_runs`` the others: each joins as a hand run when it ends, so the study learns every
    seed's result, not one of them.

    Returns:
        What happened, for the person.

    Raises:
        SpecError: The suggestion was launched already, or is no open suggestion.
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    from optuna.trial import TrialState

    from core.store import RunEvent

    _owned_study(store, study_id, viewer, "steer")
    frozen = _suggested_trial(store, study_id, number)
    changed = []
    for path, value in frozen.params.items():
        try:
            mine = _value_at(train, path)
        except (KeyError, IndexError, TypeError, ValueError):
            mine = None
        if not _same(mine, value):
            changed.append(f"{path} {value!r} → {mine!r}")
    storage = optuna_storage(store.config)
    n = len(seed_runs)
    others = {
        0: "",
        1: " The seed group's other run joins as a hand run when it ends.",
    }.get(n, f" The seed group's other {n} runs join as hand runs when they end.")
    if not changed:
        storage.set_trial_user_attr(frozen._trial_id, "loom_run", run_id)
        storage.set_trial_user_attr(frozen._trial_id, "hand_run", run_id)
        storage.set_trial_user_attr(frozen._trial_id, "outcome", "launched from the Train form")
        with store.session(SYSTEM) as s:
            s.add(RunEvent(run_id=run_id, kind="hand_run", message=_JOINED.format(study=study_id)))
            s.add_all(_pending_events(study_id, seed_runs))
        return f"Trial {number} runs as suggested; the study learns its result when the run ends.{others}"
    why = f"launched with changes ({'; '.join(changed)}) as run {run_id}, which joins as a hand run"
    storage.set_trial_user_attr(frozen._trial_id, "outcome", why)
    storage.set_trial_state_values(frozen._trial_id, TrialState.FAIL)
    with store.session(SYSTEM) as s:
        s.add_all(_pending_events(study_id, [run_id, *seed_runs]))
    return f"Launched with changes: the run joins the study as a hand run when it ends ({why}).{others}"


def _pending_events(study_id: str, run_ids: Sequence[str]) -> list[Any]:
    from core.store import RunEvent

    message = _PENDING.format(study=study_id)
    return [RunEvent(run_id=r, kind="hand_run", message=message) for r in run_ids]


def sync_hand_runs(store: Store, study_id: str) -> list[int]:
    """Bring a study up to date with people's runs (the driver calls it while it runs, the Tune
    page when it shows the study): a launched suggestion whose run ended is told its result; a
    run launched from a suggestion with changes joins once it has succeeded; and, when the study
    learns from hand runs, every run of its owner that finished since the study began and fits
    joins. Returns the numbers of the trials added or told."""
    from optuna.trial import TrialState

    from core.compute import TERMINAL
    from core.store import Run
    from core.store import RunRecord as Record
    from core.tuning._outcome import _outcome

    try:
        study_row = get_study(store, study_id, viewer=SYSTEM)
    except NotFoundError:
        return []
    spec = parse_study(study_row)
    phase, space = current_space(store, study_id, viewer=SYSTEM)
    study = load_optuna_study(store.config, study_id)
    storage = optuna_storage(store.config)
    out: list[int] = []
    launched = {
        t.user_attrs["hand_run"]: t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get("suggested") and t.user_attrs.get("hand_run")
    }
    terminal = [t.value for t in TERMINAL]
    if launched:
        with store.session(SYSTEM) as s:
            ended = [
                Record.from_row(r)
                for r in s.scalars(select(Run).where(Run.id.in_(list(launched)), Run.status.in_(terminal)))
            ]
        summaries = _summaries(store, [r.id for r in ended])
        for run in ended:
            trial = launched[run.id]
            state, values, why = _outcome(run, summaries[run.id], spec)
            storage.set_trial_user_attr(trial._trial_id, "outcome", f"hand run: {why}")
            storage.set_trial_state_values(
                trial._trial_id, state, values if state == TrialState.COMPLETE else None
            )
            out.append(trial.number)
    pending = _pending_runs(store, study_id)
    if spec.learn_from_hand_runs:
        with store.session(SYSTEM) as s:
            pending |= set(
                s.scalars(
                    select(Run.id).where(
                        Run.kind == "train",
                        Run.status == "succeeded",
                        Run.study_id.is_(None),
                        Run.author == study_row.author,
                        Run.dataset_id == dataset_of(spec.base),
                        Run.created_at >= study_row.created_at,
                    )
                )
            )
    pending -= _joined(store, study_id, list(pending), pending=False)
    if not pending:
        return out
    with store.session(SYSTEM) as s:
        runs = [Record.from_row(r) for r in s.scalars(select(Run).where(Run.id.in_(list(pending))))]
    summaries = _summaries(store, [r.id for r in runs])
    for run in runs:
        if run.status not in terminal:
            continue
        hand = _check(run, spec, space, summaries[run.id])
        if hand.reason:
            _log.info("%s", hand.reason)
            _forget(store, study_id, run.id, _PENDING)  # ended without a result: nothing to add
            continue
        try:
            out.append(_add(store, study_id, spec, space, phase, hand))
        except SpecError:
            continue  # joined meanwhile
        _forget(store, study_id, run.id, _PENDING)
    return out


def _pending_runs(store: Store, study_id: str) -> set[str]:
    from core.store import RunEvent

    query = select(RunEvent.run_id).where(
        RunEvent.kind == "hand_run", RunEvent.message == _PENDING.format(study=study_id)
    )
    with store.session(SYSTEM) as s:
        return set(s.scalars(query))
