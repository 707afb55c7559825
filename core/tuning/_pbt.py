"""Population-based training in the store: start a population (a study of kind ``pbt``), read it
back as members, segments and events for the live view, and a person's actions on it (kill a
member, clone one with their own settings, freeze a setting). Owners (and their project's
admins) act; teammates and links look.

Every segment a member trains between two exploit steps is a training run tied to the study; a
segment that continues another run's checkpoint is a branch of it. Events (the population's own
exploit steps and a person's actions) are the driver run's ``pbt`` events, JSON, in order.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select

from core.errors import SpecError
from core.store import SYSTEM
from core.store import StudyRecord
from core.store import Viewer
from core.store import thaw
from core.tuning._pbt_spec import PBTSpec
from core.tuning._steering import _owned_study
from core.tuning._steering import get_study
from core.tuning._steering import launch_study
from core.tuning._steering import record_study
from core.tuning._steering import study_runs

if TYPE_CHECKING:
    from core.store import Store

__all__ = [
    "PBT_ACTIONS",
    "create_pbt",
    "PBTEvent",
    "PBTSegment",
    "Population",
    "get_population",
    "is_pbt",
    "parse_pbt",
    "pbt_action",
    "population_curves",
    "read_pbt_events",
    "start_pbt",
]

PBT_ACTIONS = ("kill", "clone", "freeze")
_EVENT = "pbt"


def is_pbt(study: StudyRecord) -> bool:
    """Whether a stored study is a population (``type: pbt``) rather than an Optuna study."""
    return thaw(study.spec).get("type") == "pbt"


def parse_pbt(study: StudyRecord) -> PBTSpec:
    """A stored population's spec.

    Raises:
        SpecError: The study is no population.
    """
    if not is_pbt(study):
        raise SpecError(f"Study {study.id} is an Optuna study, not a population: open it as a study.")
    return PBTSpec.from_dict(thaw(study.spec))


def create_pbt(store: Store, spec: PBTSpec, name: str = "", *, viewer: Viewer, team: str = "") -> str:
    """Record a population owned by ``viewer``; returns its study ID (:func:`start_pbt` also
    submits its driver). The population itself lives in runs and events; its Optuna study is
    empty."""
    return record_study(
        store,
        spec.to_dict(),
        spec.base,
        spec.space,
        (spec.direction,),
        name,
        "population",
        viewer=viewer,
        team=team,
    )


def start_pbt(
    client: Any, store: Store, spec: PBTSpec, name: str = "", *, viewer: Viewer, team: str = ""
) -> tuple[str, str]:
    """Record a population owned by ``viewer`` (visible to ``team``) and submit its driver.

    Args:
        client: A connected Dask client.
        store: The store.
        spec: The population.
        name: Its name. Defaults to "population <id>".
        viewer: Its owner.
        team: The team that may view it; "" keeps it private. Defaults to "".

    Returns:
        (study ID, driver run ID).

    Raises:
        SpecError: The base spec's Keras backend is installed on no worker (nothing is stored).
        QuotaExceededError: The project's team uses all of its quota (nothing is stored).
        PermissionDeniedError: Not signed in, or not a member of ``team``.
        NotFoundError: The base spec's dataset is not visible to ``viewer``.
    """
    return launch_study(
        client,
        store,
        "pbt",
        spec.base,
        lambda: create_pbt(store, spec, name, viewer=viewer, team=team),
        name or "population",
        viewer=viewer,
        team=team,
    )


@dataclass(frozen=True)
class PBTEvent:
    """One event of a population: ``event`` is start, segment, exploit, retry, lost, end, or a
    person's kill, clone or freeze; ``who`` is "population" or the person."""

    id: int
    at: datetime
    event: str
    who: str
    member: int | None
    data: dict[str, Any]

    @property
    def text(self) -> str:
        d = self.data
        if self.event == "exploit":
            changed = ", ".join(f"{p} {_fmt(a)} → {_fmt(b)}" for p, (a, b) in d.get("changes", {}).items())
            return (
                f"member {self.member} copied member {d.get('from_member')} at epoch {d.get('from_epoch')}"
                + (f"; {changed}" if changed else "")
            )
        if self.event == "kill":
            return f"{self.who} killed member {self.member}"
        if self.event == "freeze":
            return f"{self.who} froze {d.get('path')}: explore leaves it as it is"
        if self.event == "clone":
            values = ", ".join(f"{p}={_fmt(v)}" for p, v in d.get("values", {}).items())
            return f"{self.who} cloned member {self.member}" + (f" with {values}" if values else "")
        if self.event == "retry":
            return f"member {self.member} resumed from epoch {d.get('from_epoch')} after its worker died"
        if self.event == "lost":
            return f"member {self.member} lost: {d.get('why', '')}"
        if self.event == "segment":
            return f"member {self.member} trains epochs {d.get('start', 0) + 1}-{d.get('end')}"
        return f"{self.event} {json.dumps(d, default=str)[:120]}"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class PBTSegment:
    """Epochs ``start + 1 ... end`` of one member: a training run (a branch of ``parent`` when it
    continues a checkpoint), with the settings it trained with."""

    member: int
    run_id: str
    start: int
    end: int
    status: str
    parent: str | None
    values: dict[str, Any]
    why: str = ""  # start, continue, exploit, clone or retry


@dataclass(frozen=True)
class Population:
    """A population as its live view draws it."""

    spec: PBTSpec
    status: str
    driver: str | None
    segments: tuple[PBTSegment, ...] = ()
    events: tuple[PBTEvent, ...] = ()
    killed: frozenset[int] = frozenset()
    frozen: tuple[str, ...] = ()
    members: tuple[int, ...] = field(default=())

    def last_segment(self, member: int) -> PBTSegment | None:
        own = [s for s in self.segments if s.member == member]
        return own[-1] if own else None


def _driver(store: Store, study_id: str) -> Any:
    """The population's newest driver run, or None."""
    runs = [r for r in study_runs(store, study_id, viewer=SYSTEM) if r.kind == "pbt"]
    return runs[-1] if runs else None


def read_pbt_events(store: Store, driver_id: str, after: int = 0) -> list[PBTEvent]:
    """The ``pbt`` events of a population's driver run with IDs above ``after``, oldest first."""
    from core.store import RunEvent

    with store.session(SYSTEM) as s:
        rows = s.execute(
            select(RunEvent.id, RunEvent.ts, RunEvent.message)
            .where(RunEvent.run_id == driver_id, RunEvent.kind == _EVENT, RunEvent.id > after)
            .order_by(RunEvent.id)
        ).all()
    out = []
    for event_id, ts, message in rows:
        try:
            data = json.loads(message)
        except ValueError:
            continue
        member = data.pop("member", None)
        out.append(
            PBTEvent(
                int(event_id),
                ts,
                str(data.pop("event", "")),
                str(data.pop("who", "population")),
                member if isinstance(member, int) else None,
                data,
            )
        )
    return out


def get_population(store: Store, study_id: str, *, viewer: Viewer) -> Population:
    """A population ``viewer`` may see: its members' segments and its events so far.

    Raises:
        NotFoundError: Missing or not visible.
        SpecError: The study is no population.
    """
    from core.store import Run

    study = get_study(store, study_id, viewer=viewer)
    spec = parse_pbt(study)
    driver = _driver(store, study_id)
    if driver is None:
        return Population(spec, study.status, None)
    events = read_pbt_events(store, driver.id)
    segs = [e for e in events if e.event in ("segment", "retry")]
    with store.session(SYSTEM) as s:
        ids = [str(e.data.get("run")) for e in segs]
        status = dict(s.execute(select(Run.id, Run.status).where(Run.id.in_(ids))).all()) if ids else {}
    segments = tuple(
        PBTSegment(
            e.member if e.member is not None else -1,
            str(e.data.get("run")),
            int(e.data.get("start", 0)),
            int(e.data.get("end", 0)),
            str(status.get(str(e.data.get("run")), "queued")),
            e.data.get("parent"),
            dict(e.data.get("values", {})),
            str(e.data.get("why", "")),
        )
        for e in segs
    )
    killed = frozenset(e.member for e in events if e.event in ("kill", "lost") and e.member is not None)
    frozen = tuple(dict.fromkeys(str(e.data.get("path")) for e in events if e.event == "freeze"))
    members = tuple(sorted({s.member for s in segments}))
    return Population(spec, study.status, driver.id, segments, tuple(events), killed, frozen, members)


def population_curves(
    store: Store, population: Population, key: str | None = None
) -> dict[int, list[tuple[int, float]]]:
    """Each member's ``epoch/<metric>`` points, (epoch, value), over all of its segments."""
    from core.store import get_metrics

    key = key or f"epoch/{population.spec.metric}"
    out: dict[int, list[tuple[int, float]]] = {}
    for seg in population.segments:
        series = get_metrics(store, seg.run_id, viewer=SYSTEM).get(key)
        if series is None:
            continue
        points = out.setdefault(seg.member, [])
        for epoch, value in zip(series.steps, series.values, strict=True):
            if seg.start < epoch <= seg.end and math.isfinite(value):
                points.append((int(epoch), float(value)))
    for member in out:
        # A resumed segment repeats none of its epochs, but keep one point per epoch all the same.
        out[member] = sorted(dict(out[member]).items())
    return out


def pbt_action(
    store: Store,
    study_id: str,
    action: str,
    member: int | None = None,
    *,
    viewer: Viewer,
    path: str = "",
    values: dict[str, Any] | None = None,
) -> int:
    """A person's action on a training population, recorded as one of its events; the driver
    applies it within a second: ``kill`` stops ``member`` for good, ``clone`` starts a new member
    from ``member``'s last checkpoint with ``values`` (checked against the space), ``freeze``
    keeps the setting ``path`` as every member has it (explore leaves it alone). Owner, or an
    admin of the study's project, only.

    Returns:
        The event's ID.

    Raises:
        SpecError: Unknown action, member or setting; bad values; the population has ended.
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's to change.
    """
    from core.compute import TERMINAL
    from core.compute import RunStatus
    from core.store import RunEvent

    if action not in PBT_ACTIONS:
        raise SpecError(f"Unknown action {action!r}. Valid actions are: {', '.join(PBT_ACTIONS)}.")
    study = _owned_study(store, study_id, viewer, "steer")
    population = get_population(store, study_id, viewer=SYSTEM)
    driver = _driver(store, study_id)
    if driver is None or RunStatus(driver.status) in TERMINAL:
        raise SpecError(f"This population has {study.status}: there is nothing to {action}. Start a new one.")
    data: dict[str, Any] = {"event": action, "who": viewer.name or "a person"}
    if action in ("kill", "clone"):
        alive = [m for m in population.members if m not in population.killed]
        if member not in alive:
            raise SpecError(
                f"There is no live member {member!r} to {action}; live members are "
                f"{', '.join(map(str, alive))}."
            )
        data["member"] = member
    if action == "freeze":
        paths = population.spec.search_space.paths
        if path not in paths:
            raise SpecError(
                f"{path!r} is not explored by this population; its settings are {', '.join(paths)}."
            )
        data["path"] = path
    if action == "clone":
        data["values"] = population.spec.search_space.check(dict(values or {}))
    with store.session(SYSTEM) as s:
        row = RunEvent(run_id=driver.id, kind=_EVENT, message=json.dumps(data))
        s.add(row)
        s.flush()
        return int(row.id)
