"""The ``study`` driver job and the ``trial`` job.

One *driver* job per study holds the study's only sampler and asks Optuna for parameters, one
trial at a time (ask-and-tell), so no two tasks draw from copies of one seeded sampler. Each trial
is a training run (job kind ``trial``, recorded as ``train``) on any worker; it reports per-epoch
values to Optuna through training's per-epoch hook and asks the study's pruner whether to stop.
The driver tells Optuna how each trial ended, keeps ``parallelism`` trials in flight, retries a
trial whose worker died, and picks up the newest search-space phase for every new trial.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from sqlalchemy import select

from core.errors import JobStopped
from core.errors import SpecError
from core.store import SYSTEM
from core.tuning._outcome import _outcome
from core.tuning._paths import apply
from core.tuning._steering import dataset_of
from core.tuning._steering import get_study
from core.tuning._steering import latest_phase
from core.tuning._steering import parse_study
from core.tuning._steering import set_study_status
from core.tuning._storage import build_pruner
from core.tuning._storage import build_sampler
from core.tuning._storage import load_optuna_study
from core.tuning._storage import optuna_storage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.compute import JobContext
    from core.config import AppConfig
    from core.store import Store

__all__ = ["TrialCount", "TrialReporter", "count_trials", "run_study", "run_trial"]

_log = logging.getLogger(__name__)

_Summary = dict[str, tuple[float, float]]  # a run's metric summary: key -> (min, max)


# How often the driver reads the store when Dask reports nothing (a stop request, a run the
# reaper marked): a trial's end wakes it at once.
_POLL_SECONDS = 0.5
_LABEL_AFTER_SECONDS = 0.02
# How often a running driver brings in hand runs and launched suggestions.
_SYNC_SECONDS = 5.0


@dataclass
class TrialReporter:
    """Reports a trial's per-epoch objective to Optuna and asks the pruner whether to stop."""

    config: AppConfig
    study_id: str
    trial_id: int
    last_epoch: int | None = None  # no pruning there: the trial has its final value
    _trial: Any = field(default=None, repr=False)
    _metric: str = "val_loss"
    _pruner: str = "none"

    def start(self, store: Store) -> TrialReporter:
        import optuna

        spec = parse_study(get_study(store, self.study_id, viewer=SYSTEM))
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
        if self._pruner != "none" and epoch != self.last_epoch and self._trial.should_prune():
            pruner = self._pruner.replace("_", " ")
            return f"pruned by the {pruner} pruner at epoch {epoch} ({self._metric}={value:.4g})"
        return None


def run_trial(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``trial`` job body (on a worker): a training run whose epochs a
    :class:`TrialReporter` observes through training's generic per-epoch hook."""
    from core.training import TrainSpec
    from core.training import process_backend
    from core.training import run_in_backend_process
    from core.training import run_training

    backend = TrainSpec.from_dict(data).backend
    if backend != process_backend():  # the whole trial (its reporter too) in a process of its own
        return run_in_backend_process(ctx, data, "core.tuning._driver:run_trial", backend)
    trial = data.get("trial") or {}
    epochs = data.get("epochs")
    reporter = TrialReporter(
        ctx.store.config,
        trial["study"],
        trial["trial_id"],
        last_epoch=epochs if isinstance(epochs, int) else None,
    ).start(ctx.store)
    return run_training(ctx, data, on_epoch=reporter.epoch_end)


def _ended(store: Store, run_ids: list[str]) -> list[tuple[Any, _Summary]]:
    """The runs among ``run_ids`` that have ended, each with its metric summary, read in one
    transaction."""
    from core.compute import TERMINAL
    from core.store import Run
    from core.store import RunRecord
    from core.store import RunSummary

    if not run_ids:
        return []
    with store.session(SYSTEM) as s:
        runs = [
            RunRecord.from_row(r)
            for r in s.scalars(
                select(Run).where(Run.id.in_(run_ids), Run.status.in_([t.value for t in TERMINAL]))
            )
        ]
        summaries: dict[str, _Summary] = {r.id: {} for r in runs}
        if runs:
            for run_id, key, low, high in s.execute(
                select(RunSummary.run_id, RunSummary.key, RunSummary.min, RunSummary.max).where(
                    RunSummary.run_id.in_(list(summaries))
                )
            ):
                summaries[run_id][key] = (low, high)
    return [(r, summaries[r.id]) for r in runs]


class _Tasks:
    """The Dask futures of the trials in flight: the driver learns that a trial ended from Dask
    (a done callback) rather than by polling the store. The store stays the source of truth:
    after each wake-up, or every ``_POLL_SECONDS`` at the latest (a run the reaper marked, a
    trial adopted after a restart, a task Dask lost), the driver reads which runs ended."""

    def __init__(self) -> None:
        self._futures: dict[str, Any] = {}  # task key -> future (held: Dask reports its end)
        self._wake = threading.Event()

    def watch(self, future: Any) -> None:
        self._futures[future.key] = future
        future.add_done_callback(self._done)

    def _done(self, _future: Any) -> None:
        self._wake.set()

    def forget(self, run_id: str) -> None:
        from core.compute import run_key

        self._futures.pop(run_key(run_id), None)

    def arm(self) -> None:
        """Called before the store is read, so an end reported after the read wakes the next wait."""
        self._wake.clear()

    def wait(self, timeout: float) -> None:
        self._wake.wait(timeout)


def run_study(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``study`` driver job body."""
    import optuna
    from optuna.trial import TrialState

    from core.compute import SubmitOptions
    from core.compute import stop_run
    from core.compute import submit_run

    store, study_id = ctx.store, data["study"]
    study_row = get_study(store, study_id, viewer=SYSTEM)
    spec = parse_study(study_row)
    client = _client()
    set_study_status(store, study_id, "running")
    storage = optuna_storage(store.config)
    done_before = len(storage.get_all_trials(storage.get_study_id_from_name(study_id), deepcopy=False))
    phase = latest_phase(store, study_id)
    study = optuna.load_study(
        study_name=study_id,
        storage=storage,
        sampler=build_sampler(spec, phase[1], done_before),
        pruner=build_pruner(spec),
    )
    options = SubmitOptions(resources={"GPU": 1} if spec.gpu else None)
    started = time.monotonic()
    active: dict[str, Any] = {}  # run id -> optuna trial
    tasks = _Tasks()
    retried: dict[int, int] = {}  # trial number -> retries so far
    counted, people = _adopt(store, study, active)
    unlabelled: list[tuple[Any, str | None, int]] = []  # (trial, run id, phase) submitted, not yet labelled

    def finish(run: Any, summary: _Summary, trial: Any) -> None:
        nonlocal counted
        state, values, why = _outcome(run, summary, spec)
        trial_retries = retried.get(trial.user_attrs.get("retry_of", trial.number), 0)
        if run.status == "interrupted" and trial_retries < spec.retries:
            origin = trial.user_attrs.get("retry_of", trial.number)
            retried[origin] = trial_retries + 1
            attrs = {"retry_of": origin}
            if "phase" in trial.user_attrs:  # a retry re-runs the values of the phase they came from
                attrs["phase"] = trial.user_attrs["phase"]
            study.enqueue_trial(trial.params, user_attrs=attrs)
            why += f"; retried ({trial_retries + 1} of {spec.retries})"
            counted -= 1  # the retry takes this trial's place
        trial.set_user_attr("outcome", why)
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)

    synced = 0.0  # when people's runs were last brought in (core.tuning._handruns)
    try:
        while True:
            tasks.arm()
            if time.monotonic() - synced > _SYNC_SECONDS:
                synced = time.monotonic()
                _sync_hand_runs(store, study_id)
                # Trials people added meanwhile (hand runs, launched suggestions; here or from the
                # Tune page) count toward n_trials, as Optuna's MaxTrialsCallback counts a trial
                # added with add_trial: the driver asks that many fewer.
                now = count_trials(study.get_trials(deepcopy=False)).by_people
                counted, people = counted + now - people, now
            _label(unlabelled)  # before any of them is told (a finished trial takes no attributes)
            for run, metrics in _ended(store, list(active)):
                tasks.forget(run.id)
                finish(run, metrics, active.pop(run.id))
            if ctx.should_stop():
                for run_id in active:
                    stop_run(store, run_id, client, viewer=SYSTEM)
                if active:
                    tasks.wait(_POLL_SECONDS)
                    continue
                raise JobStopped("stopped on request; running trials were stopped")
            out_of_time = spec.timeout_s and time.monotonic() - started > spec.timeout_s
            if (counted >= spec.n_trials or out_of_time) and not active:
                break
            while not out_of_time and counted < spec.n_trials and len(active) < spec.parallelism:
                trial = study.ask()
                # Read after ask: a trial asked once a new phase is stored draws from that phase.
                phase = latest_phase(store, study_id, phase)
                try:
                    values = phase[1].suggest(trial)
                    train = apply(spec.base, values)
                except (SpecError, ValueError) as exc:
                    _label([(trial, None, phase[0])])
                    trial.set_user_attr("outcome", f"invalid parameters: {exc}")
                    study.tell(trial, state=TrialState.FAIL)
                    counted += 1
                    continue
                train["trial"] = {"study": study_id, "trial_id": trial._trial_id, "number": trial.number}
                run_id = submit_run(
                    client,
                    store,
                    "trial",  # recorded as a training run; its epochs report to the study
                    train,
                    viewer=SYSTEM,
                    author=study_row.author,  # a trial belongs to the study's owner and team
                    team=study_row.team,
                    name=f"trial {trial.number}",
                    options=options,
                    on_submitted=tasks.watch,
                    dataset_id=dataset_of(train),
                    study_id=study_id,
                )
                unlabelled.append((trial, run_id, phase[0]))
                active[run_id] = trial
                counted += 1
            ctx.set_progress(min(1.0, (counted - len(active)) / spec.n_trials))
            ctx.log_metric("study/trials_finished", counted - len(active), float(counted - len(active)))
            if unlabelled:
                # The trials' labels are written once Dask has had a moment to start their tasks:
                # off the path from one trial's end to the next one's start, and not competing
                # with the task's start (the driver may share the worker's process). A driver
                # restarted before this fails the trial (_adopt).
                tasks.wait(_LABEL_AFTER_SECONDS)
                _label(unlabelled)
            tasks.wait(_POLL_SECONDS)
    except JobStopped:
        set_study_status(store, study_id, "stopped")
        raise
    except BaseException:
        set_study_status(store, study_id, "failed")
        raise
    set_study_status(store, study_id, "finished")
    summary: dict[str, Any] = {"trials": len(study.trials)}
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if complete and len(spec.objectives) == 1:
        best = study.best_trial
        summary |= {"best_number": best.number, "best_value": best.value, "best_params": best.params}
    elif complete:
        summary["pareto_numbers"] = [t.number for t in study.best_trials]
    return summary


def _sync_hand_runs(store: Store, study_id: str) -> None:
    from core.errors import AppError
    from core.tuning._handruns import sync_hand_runs

    try:
        sync_hand_runs(store, study_id)
    except AppError as exc:  # a person's run never stops the study's own trials
        _log.warning("study %s: hand runs not brought in: %s", study_id, exc)


def _label(unlabelled: list[tuple[Any, str | None, int]]) -> None:
    """Label each trial with its run and the phase its values come from (a retry brings its own)."""
    while unlabelled:
        trial, run_id, phase = unlabelled.pop(0)
        if run_id is not None:
            trial.set_user_attr("loom_run", run_id)
        if "phase" not in trial.user_attrs:
            trial.set_user_attr("phase", phase)


class TrialCount(NamedTuple):
    """A study's trials that count toward its ``n_trials``, and how many of them people added."""

    counted: int
    by_people: int


def _counts(frozen: Any) -> bool:
    from optuna.trial import TrialState

    attrs = frozen.user_attrs
    if frozen.state == TrialState.WAITING or "retry_of" in attrs:
        return False  # queued, or a retry taking its interrupted trial's place
    # A suggestion that never became its run is no trial of the study's: not launched yet, or
    # failed as launched with changes (that run joins as a hand run, and counts then), or as
    # values that make no valid spec.
    return not (attrs.get("suggested") and not attrs.get("loom_run"))


def count_trials(trials: Sequence[Any]) -> TrialCount:
    """How many of a study's Optuna trials count toward its ``n_trials``: every trial asked or
    added, hand runs included (Optuna's ``MaxTrialsCallback`` counts a trial added with
    ``add_trial`` like one it ran), except a retry (it takes its interrupted trial's place), a
    trial waiting in the queue and a suggestion that never became its run (not launched yet, or
    launched with changes: its run counts once, as the hand run it joins as); and how many people
    added (hand runs, launched suggestions). The driver counts so when it starts and as people
    add trials while it runs; the Tune page's caption shows it.

    Args:
        trials: The study's trials (``study.get_trials(deepcopy=False)``).

    Returns:
        The counts.
    """
    counted = [t for t in trials if _counts(t)]
    people = [t for t in counted if t.user_attrs.get("hand_run") or t.user_attrs.get("suggested")]
    return TrialCount(len(counted), len(people))


def _adopt(store: Store, study: Any, active: dict[str, Any]) -> TrialCount:
    """After a driver restart: trials still running keep running and are watched again; the
    count of trials so far is returned (:func:`count_trials`). Optuna trials with no run (the
    driver died between ask and submit) are failed."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    for frozen in trials:
        if frozen.state != TrialState.RUNNING:
            continue
        run_id = frozen.user_attrs.get("loom_run")
        if frozen.user_attrs.get("suggested"):
            continue  # a person launches it from the Train form; core.tuning._handruns tells it
        if run_id:
            import optuna

            active[run_id] = optuna.trial.Trial(study, frozen._trial_id)
        else:
            study.tell(frozen.number, state=TrialState.FAIL)
    return count_trials(trials)


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
