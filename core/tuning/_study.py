"""Studies: Optuna searches whose trials are Loom training runs on the Dask cluster.

One *driver* job per study (kind ``study``) holds the study's only sampler and asks Optuna for
parameters, one trial at a time (ask-and-tell), so no two tasks draw from copies of one seeded
sampler. Each trial is an ordinary training run (kind ``train``, ``TrainSpec.trial`` set) on
any worker; it reports per-epoch values to Optuna and asks the study's pruner whether to stop
(the worker loads the study *with* its pruner: ``load_study`` alone would use the default). The
driver tells Optuna how each trial ended, keeps ``parallelism`` trials in flight, retries a trial
whose worker died, and picks up the newest search-space phase for every new trial.

Storage: Optuna's RDB storage on the store's own database URL (SQLite in WAL mode with a busy
timeout, or PostgreSQL), so a study lives beside its runs and a teammate's Loom sees it. Only the
driver writes trials' states; trials write their intermediate values; the UI enqueues trials.
``bench/tuning.py`` measures this against Optuna's journal storage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from core.errors import JobStopped
from core.errors import NotFoundError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import Viewer
from core.tuning._space import SearchSpace
from core.tuning._space import apply

if TYPE_CHECKING:
    from core.compute._jobs import JobContext
    from core.config import AppConfig
    from core.store import Store

__all__ = [
    "METRICS",
    "PRUNERS",
    "SAMPLERS",
    "Objective",
    "StudySpec",
    "TrialReporter",
    "create_study",
    "current_space",
    "driver_run",
    "enqueue_trial",
    "load_optuna_study",
    "study_trials",
    "new_phase",
    "get_study",
    "run_study",
    "start_study",
    "study_runs",
    "validate_study_spec",
]

_log = logging.getLogger(__name__)

# Objective name -> (where it comes from, natural direction).
METRICS: dict[str, str] = {
    "val_loss": "minimize",
    "val_accuracy": "maximize",
    "val_auc": "maximize",
    "val_rmse": "minimize",
    "val_mae": "minimize",
    "loss": "minimize",
    "params": "minimize",
    "train_seconds": "minimize",
}
SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2", "grid")
PRUNERS = ("none", "median", "successive_halving", "hyperband")
_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Objective:
    metric: str = "val_loss"
    direction: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise SpecError(f"Unknown objective {self.metric!r}. Valid objectives are: {', '.join(METRICS)}.")
        if not self.direction:
            object.__setattr__(self, "direction", METRICS[self.metric])
        if self.direction not in ("minimize", "maximize"):
            raise SpecError(f"direction must be minimize or maximize, but got {self.direction!r}.")

    @property
    def per_epoch(self) -> bool:
        return self.metric not in ("params", "train_seconds")


@dataclass(frozen=True)
class StudySpec:
    """A study: which training to vary, how, and for how long.

    Args:
        base: The training spec (dict) every trial starts from.
        space: The first search space (a :class:`SearchSpace` dict); later phases live on the study.
        objectives: One objective, or two for a Pareto front.
        sampler: One of :data:`SAMPLERS`. Defaults to "tpe".
        pruner: One of :data:`PRUNERS` (single objective only). Defaults to "none".
        n_trials: Trials to run, >= 1 (retries of trials whose worker died not counted).
            Defaults to 20.
        timeout_s: Stop asking for new trials after this many seconds; 0 is none. Defaults to 0.
        parallelism: Trials in flight at once, >= 1. Defaults to 2.
        seed: Seeds the sampler, or None. Defaults to None.
        retries: How often a trial whose worker died is run again. Defaults to 1.
        gpu: Each trial takes one GPU (workers declaring ``GPU``). Defaults to False.
    """

    base: dict[str, Any]
    space: dict[str, Any]
    objectives: tuple[Objective, ...] = (Objective(),)
    sampler: str = "tpe"
    pruner: str = "none"
    n_trials: int = 20
    timeout_s: float = 0.0
    parallelism: int = 2
    seed: int | None = None
    retries: int = 1
    gpu: bool = False

    def __post_init__(self) -> None:
        import importlib.util

        from core.training import TrainSpec

        if not isinstance(self.base, dict) or not isinstance(self.space, dict):
            raise SpecError("A study needs `base` (a training spec) and `space` (a search space) as objects.")
        TrainSpec.from_dict(self.base)
        if self.seed is not None and not isinstance(self.seed, int):
            raise SpecError(f"`seed` must be a whole number or null, but got seed={self.seed!r}.")
        needs = {
            "gp": (
                "torch",
                "Optuna's GP sampler needs PyTorch: pip install torch (CPU build), or choose TPE.",
            ),
            "cmaes": ("cmaes", "The CMA-ES sampler needs the `cmaes` package: pip install cmaes."),
        }
        if self.sampler in needs and importlib.util.find_spec(needs[self.sampler][0]) is None:
            raise SpecError(needs[self.sampler][1])
        objectives = tuple(o if isinstance(o, Objective) else Objective(**o) for o in self.objectives)
        object.__setattr__(self, "objectives", objectives)
        space = SearchSpace.from_dict(self.space)
        if not 1 <= len(objectives) <= 2:
            raise SpecError(f"Give one or two objectives, but got {len(objectives)}.")
        if len({o.metric for o in objectives}) != len(objectives):
            raise SpecError("The two objectives must differ.")
        if self.sampler not in SAMPLERS:
            raise SpecError(f"Unknown sampler {self.sampler!r}. Valid samplers are: {', '.join(SAMPLERS)}.")
        if self.pruner not in PRUNERS:
            raise SpecError(f"Unknown pruner {self.pruner!r}. Valid pruners are: {', '.join(PRUNERS)}.")
        if len(objectives) > 1 and self.sampler == "cmaes":
            raise SpecError("CMA-ES optimizes one objective: choose NSGA-II, TPE or random for two.")
        if len(objectives) == 1 and self.sampler == "nsga2":
            raise SpecError("NSGA-II is for two objectives: choose TPE, random, CMA-ES, GP or grid for one.")
        if len(objectives) > 1 and self.pruner != "none":
            raise SpecError("Optuna cannot prune a study with two objectives: set the pruner to none.")
        if self.pruner != "none" and not objectives[0].per_epoch:
            raise SpecError(
                f"Pruning needs a per-epoch objective; {objectives[0].metric} is known only at the end."
            )
        for name in ("n_trials", "parallelism"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name} >= 1` must hold, but got {name}={value!r}.")
        if not (isinstance(self.timeout_s, int | float) and self.timeout_s >= 0):
            raise SpecError(f"`timeout_s >= 0` must hold, but got timeout_s={self.timeout_s!r}.")
        if self.retries < 0:
            raise SpecError(f"`retries >= 0` must hold, but got retries={self.retries}.")
        if self.sampler == "grid":
            _grid(space)  # raises for a continuous parameter
        apply(self.base, _midpoint(space))  # the space fits the base spec

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["objectives"] = [asdict(o) for o in self.objectives]
        return {"type": "study", **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySpec:
        try:
            params = {k: v for k, v in data.items() if k != "type"}
            params["objectives"] = tuple(Objective(**o) for o in params.get("objectives", [{}]))
            return cls(**params)
        except TypeError as exc:
            raise SpecError(f"Invalid study spec: {exc}.") from None


def validate_study_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The driver job's spec: ``{"study": <id>}`` (the study itself is in the store)."""
    if set(data) - {"type", "study"} or not isinstance(data.get("study"), str):
        raise SpecError("A study job's spec is {'study': <study ID>}.")
    return {"type": "study_driver", "study": data["study"]}


def _midpoint(space: SearchSpace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space.params:
        if p.kind == "categorical":
            out[p.path] = p.choices[0]
        elif p.kind == "int":
            out[p.path] = int(p.low)  # type: ignore[arg-type]
        else:
            out[p.path] = float(p.low)  # type: ignore[arg-type]
    return out


def _grid(space: SearchSpace) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for p in space.params:
        if p.kind == "categorical":
            grid[p.path] = list(p.choices)
        elif p.kind == "int" and not p.log:
            grid[p.path] = list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))  # type: ignore[arg-type]
        elif p.kind == "float" and p.step:
            n = round((float(p.high) - float(p.low)) / p.step)  # type: ignore[arg-type]
            grid[p.path] = [round(float(p.low) + i * p.step, 12) for i in range(n + 1)]  # type: ignore[arg-type]
        else:
            raise SpecError(
                f"The grid sampler needs a finite grid, but {p.path} is continuous: give it a step "
                "or choices, or use another sampler."
            )
    size = math.prod(len(v) for v in grid.values())
    if size > 100_000:
        raise SpecError(f"The grid has {size:,} points; keep it under 100,000.")
    return grid


def build_sampler(spec: StudySpec, space: SearchSpace, offset: int = 0):  # type: ignore[no-untyped-def]
    """The study's sampler. ``offset`` (trials so far) moves a seed on when a driver restarts,
    so a restarted seeded sampler does not replay the draws it already made."""
    import optuna

    seed = None if spec.seed is None else spec.seed + offset
    match spec.sampler:
        case "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, spec.n_trials // 4)))
        case "random":
            return optuna.samplers.RandomSampler(seed=seed)
        case "cmaes":
            try:
                import cmaes  # noqa: F401
            except ImportError:
                raise SpecError("The CMA-ES sampler needs the `cmaes` package: pip install cmaes.") from None
            return optuna.samplers.CmaEsSampler(seed=seed)
        case "gp":
            try:
                import torch  # noqa: F401
            except ImportError:
                raise SpecError(
                    "Optuna's GP sampler needs PyTorch, which Loom does not install: pip install torch "
                    "(CPU build), or choose TPE."
                ) from None
            return optuna.samplers.GPSampler(seed=seed)
        case "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        case "grid":
            return optuna.samplers.GridSampler(_grid(space), seed=seed)
    raise SpecError(f"Unknown sampler {spec.sampler!r}.")  # pragma: no cover - validated


def build_pruner(spec: StudySpec):  # type: ignore[no-untyped-def]
    import optuna

    match spec.pruner:
        case "median":
            return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        case "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner()
        case "hyperband":
            epochs = int(spec.base.get("epochs", 10))
            return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 3))
    return optuna.pruners.NopPruner()


_STORAGES: dict[str, Any] = {}


def optuna_storage(config: AppConfig):  # type: ignore[no-untyped-def]
    """Optuna's RDB storage on the store's database (one per process and URL)."""
    import optuna

    url = config.database_url
    if url not in _STORAGES:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            # The store set WAL on this file; wait for a writer instead of failing at once.
            kwargs["connect_args"] = {"timeout": 60}
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        if url.startswith("sqlite"):
            # The store's pragmas (WAL, busy timeout, synchronous=NORMAL) on Optuna's connections
            # too: each trial is several small commits, and a full fsync per commit costs ~20 ms.
            from sqlalchemy import event

            from core.store._db import _sqlite_on_connect

            event.listen(storage.engine, "connect", _sqlite_on_connect)
            storage.engine.dispose()  # reconnect with them
        _STORAGES[url] = storage
    return _STORAGES[url]


def load_optuna_study(config: AppConfig, study_id: str, spec: StudySpec | None = None):  # type: ignore[no-untyped-def]
    """The Optuna study of a Loom study, with its pruner (and no sampler: only the driver asks)."""
    import optuna

    pruner = build_pruner(spec) if spec is not None else None
    return optuna.load_study(study_name=study_id, storage=optuna_storage(config), pruner=pruner)


# --- the store side ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_study(store: Store, spec: StudySpec, name: str = "", *, viewer: Viewer, team: str = "") -> str:
    """Record a study owned by ``viewer`` and create its Optuna study; returns the study ID (also
    the Optuna name).

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
    dataset_id = _dataset_of(spec.base)
    if dataset_id:
        with store.session() as s:
            fetch_visible(s, Dataset, dataset_id, viewer)

    study_id = new_id()
    optuna.create_study(
        study_name=study_id,
        storage=optuna_storage(store.config),
        directions=spec.directions,
    )
    with store.session() as s:
        s.add(
            Study(
                id=study_id,
                name=name or f"study {study_id[:8]}",
                optuna_study_name=study_id,
                status="queued",
                spec_json=spec.to_dict(),
                phases_json=[{"phase": 1, "space": spec.space, "at": _now(), "why": "initial space"}],
                author=viewer.name[:100],
                team=team,
            )
        )
    return study_id


def get_study(store: Store, study_id: str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """The study row, if ``viewer`` may see it.

    Raises:
        NotFoundError: Missing or not visible (the same answer).
    """
    from core.store import Study
    from core.store import fetch_visible

    try:
        with store.session() as s:
            return fetch_visible(s, Study, study_id, viewer)
    except NotFoundError as exc:
        raise NotFoundError(
            f"There is no study {str(study_id)[:64]!r}. It may have been deleted, or it is not "
            "shared with you."
        ) from exc


def _owned_study(store: Store, study_id: str, viewer: Viewer, action: str):  # type: ignore[no-untyped-def]
    from core.store import Study
    from core.store import fetch_owned

    get_study(store, study_id, viewer=viewer)  # the not-found message of a study
    with store.session() as s:
        return fetch_owned(s, Study, study_id, viewer, action)


def current_space(store: Store, study_id: str, *, viewer: Viewer) -> tuple[int, SearchSpace]:
    """The newest phase of a study's search space: (phase number, space)."""
    phase = get_study(store, study_id, viewer=viewer).phases_json[-1]
    return int(phase["phase"]), SearchSpace.from_dict(phase["space"])


def study_trials(store: Store, study_id: str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """The Optuna study behind a Loom study ``viewer`` may see (for its charts and trials).

    Raises:
        NotFoundError: Missing or not visible.
    """
    get_study(store, study_id, viewer=viewer)
    return load_optuna_study(store.config, study_id)


def new_phase(store: Store, study_id: str, space: SearchSpace, why: str = "", *, viewer: Viewer) -> int:
    """Narrow or widen a study's search space: later trials draw from ``space``. Owner only.

    Raises:
        SpecError: The space does not fit the study's base training spec, or a parameter's type
            changed (Optuna keeps one distribution type per name within a study).
        NotFoundError: Missing or not visible.
        PermissionDeniedError: Not the viewer's own study.
    """
    from core.store import Study

    study = _owned_study(store, study_id, viewer, "steer")
    spec = StudySpec.from_dict(study.spec_json)
    apply(spec.base, _midpoint(space))
    _, old = current_space(store, study_id, viewer=viewer)
    for p in space.params:
        if p.path in old.paths:
            before = old.param(p.path)
            if before.kind != p.kind or before.log != p.log:
                raise SpecError(
                    f"{p.path} was {before.kind}{' (log)' if before.log else ''} and must stay so "
                    "within a study; start a new study to change its type or scale."
                )
            if p.kind == "categorical" and set(p.choices) - set(before.choices):
                raise SpecError(
                    f"{p.path}: Optuna keeps one set of choices per parameter in a study; new "
                    "choices need a new study. Narrow the choices instead."
                )
    phases = list(study.phases_json) + [
        {"phase": len(study.phases_json) + 1, "space": space.to_dict(), "at": _now(), "why": why}
    ]
    with store.session() as s:
        s.execute(update(Study).where(Study.id == study_id).values(phases_json=phases))
    return len(phases)


def enqueue_trial(store: Store, study_id: str, values: dict[str, Any], *, viewer: Viewer) -> dict[str, Any]:
    """Queue a trial with hand-picked values (checked against the current space); the driver
    runs it next. Values left out are drawn by the sampler. Owner only."""
    study = _owned_study(store, study_id, viewer, "steer")
    _, space = current_space(store, study_id, viewer=viewer)
    checked = space.check(values)
    spec = StudySpec.from_dict(study.spec_json)
    apply(spec.base, {**_midpoint(space), **checked})
    load_optuna_study(store.config, study_id).enqueue_trial(checked, user_attrs={"enqueued_by": "a person"})
    return checked


def study_runs(store: Store, study_id: str, *, viewer: Viewer) -> list[Any]:
    """The study's trial runs and driver runs ``viewer`` may see, oldest first (a study's share
    link shows the study, not its runs)."""
    from core.store import Run
    from core.store import visible

    with store.session() as s:
        return list(
            s.scalars(
                select(Run).where(Run.study_id == study_id, visible(Run, viewer)).order_by(Run.created_at)
            )
        )


# --- trial side (on a worker, inside the training callback) ------------------------------------


@dataclass
class TrialReporter:
    """Reports a trial's per-epoch objective to Optuna and asks the pruner whether to stop."""

    config: AppConfig
    study_id: str
    trial_id: int
    _trial: Any = field(default=None, repr=False)
    _metric: str = "val_loss"
    _pruner: str = "none"

    def start(self, store: Store) -> TrialReporter:
        import optuna

        spec = StudySpec.from_dict(get_study(store, self.study_id, viewer=SYSTEM).spec_json)
        self._metric, self._pruner = spec.objectives[0].metric, spec.pruner
        if len(spec.objectives) == 1 and spec.objectives[0].per_epoch:
            study = load_optuna_study(self.config, self.study_id, spec)
            self._trial = optuna.trial.Trial(study, self.trial_id)
        return self

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> str | None:
        """Report; returns why the trial is pruned, or None to go on."""
        if self._trial is None or self._metric not in logs:
            return None
        value = logs[self._metric]
        if not math.isfinite(value):
            return None
        self._trial.report(value, epoch)
        if self._pruner != "none" and self._trial.should_prune():
            pruner = self._pruner.replace("_", " ")
            return f"pruned by the {pruner} pruner at epoch {epoch} ({self._metric}={value:.4g})"
        return None


# --- the driver (a job on the cluster) -------------------------------------------------------


def _objective_values(store: Store, run: Any, spec: StudySpec) -> list[float] | str:
    """The trial's objective values from its run's metric summary (written before the run's
    final status), or why there are none."""
    from sqlalchemy import select

    from core.store import RunSummary

    with store.session() as s:
        summary = {
            key: (low, high)
            for key, low, high in s.execute(
                select(RunSummary.key, RunSummary.min, RunSummary.max).where(RunSummary.run_id == run.id)
            )
        }
    values = []
    for obj in spec.objectives:
        if obj.metric == "params":
            value = (run.result_json or {}).get("params")
        elif obj.metric == "train_seconds":
            value = (
                (run.ended_at - run.started_at).total_seconds() if run.started_at and run.ended_at else None
            )
        else:
            low_high = summary.get(f"epoch/{obj.metric}")
            value = None if low_high is None else low_high[0] if obj.direction == "minimize" else low_high[1]
        if value is None:
            return f"the run produced no {obj.metric} (a validation split is needed for val_ metrics)"
        values.append(float(value))
    return values


_NOTICE_SECONDS = 0.05


def _wait_runs(store: Store, run_ids: list[str], timeout: float) -> None:
    """Return as soon as one of these runs has ended (checked every 50 ms with one small query),
    or after ``timeout`` so the driver can look for a stop request."""
    from core.compute import TERMINAL
    from core.store import Run

    ended = [s.value for s in TERMINAL]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_ids:
            with store.session() as s:
                if s.scalar(select(Run.id).where(Run.id.in_(run_ids), Run.status.in_(ended)).limit(1)):
                    return
        time.sleep(_NOTICE_SECONDS)


def run_study(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``study`` driver job body."""
    import optuna
    from optuna.trial import TrialState

    from core.compute import TERMINAL
    from core.compute import SubmitOptions
    from core.compute import stop_run
    from core.compute import submit_run
    from core.store import get_run

    store, study_id = ctx.store, data["study"]
    study_row = get_study(store, study_id, viewer=SYSTEM)
    spec = StudySpec.from_dict(study_row.spec_json)
    client = _client()
    _set_study_status(store, study_id, "running")
    storage = optuna_storage(store.config)
    done_before = len(storage.get_all_trials(storage.get_study_id_from_name(study_id), deepcopy=False))
    phase, space = current_space(store, study_id, viewer=SYSTEM)
    study = optuna.load_study(
        study_name=study_id,
        storage=storage,
        sampler=build_sampler(spec, space, done_before),
        pruner=build_pruner(spec),
    )
    started = time.monotonic()
    active: dict[str, Any] = {}  # run id -> optuna trial
    retried: dict[int, int] = {}  # trial number -> retries so far
    counted = _adopt(store, study, active)

    def finish(run: Any, trial: Any) -> None:
        nonlocal counted
        state, values, why = _outcome(store, run, spec)
        trial_retries = retried.get(trial.user_attrs.get("retry_of", trial.number), 0)
        if run.status == "interrupted" and trial_retries < spec.retries:
            origin = trial.user_attrs.get("retry_of", trial.number)
            retried[origin] = trial_retries + 1
            study.enqueue_trial(trial.params, user_attrs={"retry_of": origin})
            why += f"; retried ({trial_retries + 1} of {spec.retries})"
            counted -= 1  # the retry takes this trial's place
        trial.set_user_attr("outcome", why)
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)

    try:
        while True:
            for run_id, trial in list(active.items()):
                run = get_run(store, run_id, viewer=SYSTEM)
                if run.status in TERMINAL:
                    finish(run, trial)
                    del active[run_id]
            if ctx.should_stop():
                for run_id in active:
                    stop_run(store, run_id, client, viewer=SYSTEM)
                if active:
                    time.sleep(_POLL_SECONDS)
                    continue
                raise JobStopped("stopped on request; running trials were stopped")
            out_of_time = spec.timeout_s and time.monotonic() - started > spec.timeout_s
            if (counted >= spec.n_trials or out_of_time) and not active:
                break
            while not out_of_time and counted < spec.n_trials and len(active) < spec.parallelism:
                phase, space = current_space(store, study_id, viewer=SYSTEM)
                trial = study.ask()
                trial.set_user_attr("phase", phase)
                try:
                    values = space.suggest(trial)
                    train = apply(spec.base, values)
                except (SpecError, ValueError) as exc:
                    trial.set_user_attr("outcome", f"invalid parameters: {exc}")
                    study.tell(trial, state=TrialState.FAIL)
                    counted += 1
                    continue
                train["trial"] = {"study": study_id, "trial_id": trial._trial_id, "number": trial.number}
                run_id = submit_run(
                    client,
                    store,
                    "train",
                    train,
                    viewer=SYSTEM,
                    author=study_row.author,  # a trial belongs to the study's owner and team
                    team=study_row.team,
                    name=f"trial {trial.number}",
                    options=SubmitOptions(resources={"GPU": 1} if spec.gpu else None),
                    dataset_id=_dataset_of(train),
                    study_id=study_id,
                )
                trial.set_user_attr("loom_run", run_id)
                active[run_id] = trial
                counted += 1
            ctx.set_progress(min(1.0, (counted - len(active)) / spec.n_trials))
            ctx.log_metric("study/trials_finished", counted - len(active), float(counted - len(active)))
            _wait_runs(store, list(active), _POLL_SECONDS)
    except JobStopped:
        _set_study_status(store, study_id, "stopped")
        raise
    except BaseException:
        _set_study_status(store, study_id, "failed")
        raise
    _set_study_status(store, study_id, "finished")
    summary = {"trials": len(study.trials)}
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if complete and len(spec.objectives) == 1:
        best = study.best_trial
        summary |= {"best_number": best.number, "best_value": best.value, "best_params": best.params}
    elif complete:
        summary["pareto_numbers"] = [t.number for t in study.best_trials]
    return summary


def _outcome(store: Store, run: Any, spec: StudySpec):  # type: ignore[no-untyped-def]
    from optuna.trial import TrialState

    if run.status == "succeeded":
        values = _objective_values(store, run, spec)
        if isinstance(values, str):
            return TrialState.FAIL, None, values
        return TrialState.COMPLETE, values, "complete"
    if run.status == "stopped" and run.status_reason.startswith("pruned"):
        return TrialState.PRUNED, None, run.status_reason
    if run.status == "stopped":
        return TrialState.FAIL, None, f"stopped by a person ({run.status_reason})"
    return TrialState.FAIL, None, f"{run.status}: {run.status_reason}"


def _adopt(store: Store, study: Any, active: dict[str, Any]) -> int:
    """After a driver restart: trials still running keep running and are watched again; the
    count of trials so far is returned. Optuna trials with no run (the driver died between
    ask and submit) are failed."""
    from optuna.trial import TrialState

    counted = 0
    for frozen in study.get_trials(deepcopy=False):
        if frozen.state == TrialState.WAITING:
            continue
        if "retry_of" not in frozen.user_attrs:
            counted += 1
        if frozen.state != TrialState.RUNNING:
            continue
        run_id = frozen.user_attrs.get("loom_run")
        if run_id:
            import optuna

            active[run_id] = optuna.trial.Trial(study, frozen._trial_id)
        else:
            study.tell(frozen.number, state=TrialState.FAIL)
    return counted


def _dataset_of(train: dict[str, Any]) -> str | None:
    return train.get("pipeline", {}).get("dataset_id")


def _client():  # type: ignore[no-untyped-def]
    from distributed import get_client
    from distributed import secede

    client = get_client()
    try:
        # A driver mostly waits: leave the worker's thread pool so trials can use every thread.
        secede()
    except (ValueError, KeyError):  # not inside a task (tests driving it inline)
        pass
    return client


def _set_study_status(store: Store, study_id: str, status: str) -> None:
    from core.store import Study

    with store.session() as s:
        s.execute(update(Study).where(Study.id == study_id).values(status=status))


def start_study(
    client: Any, store: Store, spec: StudySpec, name: str = "", *, viewer: Viewer, team: str = ""
) -> tuple[str, str]:
    """Create a study owned by ``viewer`` (visible to ``team``) and submit its driver; returns
    (study ID, driver run ID)."""
    from core.compute import submit_run

    study_id = create_study(store, spec, name, viewer=viewer, team=team)
    run_id = submit_run(
        client,
        store,
        "study",
        {"study": study_id},
        viewer=viewer,
        team=team,
        name=name or "study",
        study_id=study_id,
    )
    return study_id, run_id


def driver_run(store: Store, study_id: str, *, viewer: Viewer):  # type: ignore[no-untyped-def]
    """The study's newest driver run ``viewer`` may see, or None."""
    runs = [r for r in study_runs(store, study_id, viewer=viewer) if r.kind == "study"]
    return runs[-1] if runs else None
