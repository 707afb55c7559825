"""Studies in the store, and steering them: create and start, read (for who may see them), new
search-space phases, hand-picked trials. Owners steer; teammates and links look."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from core.errors import NotFoundError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import RunRecord
from core.store import StudyRecord
from core.store import Viewer
from core.store import thaw
from core.tuning._paths import apply
from core.tuning._space import SearchSpace
from core.tuning._storage import load_optuna_study
from core.tuning._storage import optuna_storage
from core.tuning._studyspec import StudySpec
from core.tuning._studyspec import midpoint

if TYPE_CHECKING:
    from core.store import Store

__all__ = [
    "study_base",
    "parse_study",
    "create_study",
    "current_space",
    "dataset_of",
    "driver_run",
    "enqueue_trial",
    "get_study",
    "latest_phase",
    "launch_study",
    "record_study",
    "new_phase",
    "set_study_status",
    "start_study",
    "study_runs",
    "study_trials",
]

_log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_study(store: Store, spec: StudySpec, name: str = "", *, viewer: Viewer, team: str = "") -> str:
    """Record a study owned by ``viewer`` and create its Optuna study; returns the study ID (also
    the Optuna name).

    Raises:
        PermissionDeniedError: Not signed in, or not a member of ``team``.
        NotFoundError: The base training spec's dataset is not visible to ``viewer``.
    """
    return record_study(
        store, spec.to_dict(), spec.base, spec.space, spec.directions, name, "study", viewer=viewer, team=team
    )


def record_study(
    store: Store,
    spec: dict[str, Any],
    base: Mapping[str, Any],
    space: Any,
    directions: Sequence[str],
    name: str,
    kind_word: str,
    *,
    viewer: Viewer,
    team: str = "",
) -> str:
    """The row of a new study of any kind (an Optuna study, a population) owned by ``viewer``,
    and its Optuna study (a population's is empty, so what reads every study's Optuna side,
    alerts and reports, finds one); returns its ID. Without a ``name``, it is named
    ``kind_word`` ("study", "population") and the ID's first characters.

    Raises:
        PermissionDeniedError: Not signed in, or not a member of ``team``.
        NotFoundError: The base training spec's dataset is not visible to ``viewer``.
    """
    import optuna

    from core.store import Dataset
    from core.store import Study
    from core.store import fetch_visible
    from core.store import new_id

    viewer.require_create(team)
    dataset_id = dataset_of(base)
    if dataset_id:
        with store.session(viewer) as s:
            fetch_visible(s, Dataset, dataset_id, viewer)

    study_id = new_id()
    optuna.create_study(
        study_name=study_id,
        storage=optuna_storage(store.config),
        directions=list(directions),  # type: ignore[arg-type]  # validated to these two words
    )
    with store.session(viewer) as s:
        s.add(
            Study(
                id=study_id,
                name=name or f"{kind_word} {study_id[:8]}",
                optuna_study_name=study_id,
                status="queued",
                spec_json=spec,
                phases_json=[{"phase": 1, "space": space, "at": _now(), "why": "initial space"}],
                author=viewer.name[:100],
                team=team,
                project_id=viewer.project or None,
            )
        )
    return study_id


def get_study(store: Store, study_id: str, *, viewer: Viewer) -> StudyRecord:
    """The study row, if ``viewer`` may see it.

    Raises:
        NotFoundError: Missing or not visible (the same answer).
    """
    from core.store import Study
    from core.store import fetch_visible

    try:
        with store.session(viewer) as s:
            return StudyRecord.from_row(fetch_visible(s, Study, study_id, viewer))
    except NotFoundError as exc:
        raise NotFoundError(
            f"There is no study {str(study_id)[:64]!r}. It may have been deleted, or it is not "
            "shared with you."
        ) from exc


def _owned_study(store: Store, study_id: str, viewer: Viewer, action: str) -> StudyRecord:
    from core.store import Study
    from core.store import fetch_owned

    get_study(store, study_id, viewer=viewer)  # the not-found message of a study
    with store.session(viewer) as s:
        return StudyRecord.from_row(fetch_owned(s, Study, study_id, viewer, action))


def study_base(run: RunRecord) -> dict[str, Any]:
    """A training run's spec as a study's base: the same training, started fresh (not resumed,
    not a trial of another study)."""
    base = {k: v for k, v in thaw(run.spec).items() if k not in ("resume_from", "trial")}
    return {**base, "resume_from": None}


def parse_study(study: StudyRecord) -> StudySpec:
    """A stored study's spec, as tuning (which owns its schema) reads it."""
    return StudySpec.from_dict(thaw(study.spec))


def current_space(store: Store, study_id: str, *, viewer: Viewer) -> tuple[int, SearchSpace]:
    """The newest phase of a study's search space: (phase number, space)."""
    phase = get_study(store, study_id, viewer=viewer).phases[-1]
    return int(phase["phase"]), SearchSpace.from_dict(thaw(phase["space"]))


def study_trials(store: Store, study_id: str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """The Optuna study behind a Loom study ``viewer`` may see (for its charts and trials).

    Raises:
        NotFoundError: Missing or not visible.
    """
    get_study(store, study_id, viewer=viewer)
    return load_optuna_study(store.config, study_id)


def latest_phase(
    store: Store, study_id: str, known: tuple[int, SearchSpace] | None = None
) -> tuple[int, SearchSpace]:
    """The newest phase of a study's space, (number, space), with one small read; ``known`` is
    returned as it is while it is still the newest (the driver asks before every trial).

    Raises:
        NotFoundError: No such study.
    """
    from core.store import Study

    with store.session(SYSTEM) as s:
        phases = s.scalar(select(Study.phases_json).where(Study.id == study_id))
    if not phases:
        raise NotFoundError(f"There is no study {str(study_id)[:64]!r}, or it has no search space.")
    number = int(phases[-1]["phase"])
    if known is not None and known[0] == number:
        return known
    return number, SearchSpace.from_dict(phases[-1]["space"])


def new_phase(store: Store, study_id: str, space: SearchSpace, why: str = "", *, viewer: Viewer) -> int:
    """Narrow or widen a study's search space: every trial asked from now on draws from
    ``space``. Owner only.

    Returns:
        The new phase's number.

    Raises:
        SpecError: Nothing would change (``space`` is the current one); the space does not fit
            the study's base training spec at the ends of its ranges; a parameter's type or
            scale changed, or a categorical parameter's choices did (Optuna keeps one
            distribution type, and one set of choices, per name within a study); or the study
            walks a grid fixed when it started.
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    from core.store import Study

    study = _owned_study(store, study_id, viewer, "steer")
    spec = parse_study(study)
    if spec.sampler == "grid":
        raise SpecError(
            "This study's grid sampler walks the grid fixed when the study started, so a new space "
            "would not change which trials run. Start a new study with the new ranges."
        )
    for values in (midpoint(space), _highest(space)):
        apply(spec.base, values)
    with store.session(viewer) as s:
        # A no-op write first takes the study's row (SQLite's write lock, PostgreSQL's row lock)
        # until commit: two requests to steer are applied one after the other, each checked
        # against the phase the other one made, and no phase is lost.
        s.execute(update(Study).where(Study.id == study_id).values(phases_json=Study.phases_json))
        phases = list(s.scalar(select(Study.phases_json).where(Study.id == study_id)) or [])
        number = int(phases[-1]["phase"])
        earlier = [SearchSpace.from_dict(p["space"]) for p in phases]
        _check_change(earlier, space, number)
        phases.append({"phase": number + 1, "space": space.to_dict(), "at": _now(), "why": why})
        s.execute(update(Study).where(Study.id == study_id).values(phases_json=phases))
    return number + 1


def _highest(space: SearchSpace) -> dict[str, Any]:
    """Each range's top (and each categorical's last choice): with :func:`midpoint`'s bottom,
    both ends of every range must make a valid training spec."""
    return {p.path: p.choices[-1] if p.kind == "categorical" else p.high for p in space.params}


def _check_change(earlier: list[SearchSpace], space: SearchSpace, number: int) -> None:
    current = earlier[-1]
    if sorted(current.params, key=lambda p: p.path) == sorted(space.params, key=lambda p: p.path):
        raise SpecError(
            f"This is phase {number}'s space already: nothing would change, so no phase was added. "
            "Change a range or the settings tuned, then try again."
        )
    for p in space.params:
        for old in earlier:
            if p.path not in old.paths:
                continue
            before = old.param(p.path)
            if before.kind != p.kind or before.log != p.log:
                raise SpecError(
                    f"{p.path} was {before.kind}{' (log)' if before.log else ''} and must stay so "
                    "within a study; start a new study to change its type or scale."
                )
            if p.kind == "categorical" and list(p.choices) != list(before.choices):
                # Optuna refuses another set of choices for a name it has seen in a study
                # ("does not support dynamic value space"): every later trial would fail.
                raise SpecError(
                    f"{p.path}: Optuna keeps one set of choices per parameter within a study, so its "
                    f"choices {list(before.choices)!r} cannot change to {list(p.choices)!r} mid-study. "
                    "Keep them (narrow the ranges instead), or start a new study with the new choices."
                )


def enqueue_trial(store: Store, study_id: str, values: dict[str, Any], *, viewer: Viewer) -> dict[str, Any]:
    """Queue a trial with hand-picked values (checked against the current space); the driver
    runs it next. Values left out are drawn by the sampler. Owner only."""
    study = _owned_study(store, study_id, viewer, "steer")
    if study.status in ("finished", "stopped", "failed"):
        # Only a running driver asks for trials: one enqueued now would wait forever.
        raise SpecError(
            f"This study has {study.status if study.status != 'failed' else 'failed and ended'}: a trial "
            "enqueued now would never run. Promote a trial, or start a new study from a run."
        )
    _, space = current_space(store, study_id, viewer=viewer)
    checked = space.check(values)
    spec = parse_study(study)
    apply(spec.base, {**midpoint(space), **checked})
    load_optuna_study(store.config, study_id).enqueue_trial(checked, user_attrs={"enqueued_by": "a person"})
    return checked


def study_runs(store: Store, study_id: str, *, viewer: Viewer) -> list[RunRecord]:
    """The study's trial runs and driver runs ``viewer`` may see, oldest first (a study's share
    link shows the study, not its runs)."""
    from core.store import Run
    from core.store import visible

    query = select(Run).where(Run.study_id == study_id, visible(Run, viewer)).order_by(Run.created_at)
    with store.session(viewer) as s:
        return [RunRecord.from_row(r) for r in s.scalars(query)]


def dataset_of(train: Mapping[str, Any]) -> str | None:
    return train.get("pipeline", {}).get("dataset_id")


def set_study_status(store: Store, study_id: str, status: str) -> None:
    from core.store import Study

    with store.session(SYSTEM) as s:
        s.execute(update(Study).where(Study.id == study_id).values(status=status))


def start_study(
    client: Any, store: Store, spec: StudySpec, name: str = "", *, viewer: Viewer, team: str = ""
) -> tuple[str, str]:
    """Create a study owned by ``viewer`` (visible to ``team``) and submit its driver; returns
    (study ID, driver run ID).

    Raises:
        SpecError: The base spec's Keras backend is installed on no worker (nothing is stored).
        QuotaExceededError: The project's team uses all of its quota (nothing is stored).
    """
    return launch_study(
        client,
        store,
        "study",
        spec.base,
        lambda: create_study(store, spec, name, viewer=viewer, team=team),
        name or "study",
        viewer=viewer,
        team=team,
    )


def launch_study(
    client: Any,
    store: Store,
    driver: str,
    base: Mapping[str, Any],
    create: Callable[[], str],
    name: str,
    *,
    viewer: Viewer,
    team: str = "",
) -> tuple[str, str]:
    """Check what would refuse a study of any kind before anything is stored (the base spec's
    backend on the workers, the team's quota), record it (``create``), then submit its
    ``driver`` job; returns (study ID, driver run ID)."""
    from core.compute import submit_run
    from core.store import check_quota
    from core.training import check_backend

    check_backend(client, str(base.get("backend") or "tensorflow"))
    check_quota(store, viewer.project or None)
    study_id = create()
    run_id = submit_run(
        client, store, driver, {"study": study_id}, viewer=viewer, team=team, name=name, study_id=study_id
    )
    return study_id, run_id


def driver_run(store: Store, study_id: str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """The study's newest driver run ``viewer`` may see, or None."""
    runs = [r for r in study_runs(store, study_id, viewer=viewer) if r.kind == "study"]
    return runs[-1] if runs else None
