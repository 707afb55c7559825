"""Jobs: submit a spec to Dask, run it on a worker, record its lifecycle in the store.

The pure decisions live in :mod:`core.compute._lifecycle`; this module carries them out.

* :func:`submit_run` (UI process) writes a ``queued`` run, then hands :func:`execute_run` to
  the cluster with ``fire_and_forget`` so that no page reload or garbage collection cancels it.
* :func:`execute_run` (worker) moves the run to ``running``, heartbeats, runs the job body, and
  records ``succeeded``/``failed``/``stopped``.
* :func:`stop_run` raises the stop flag; the job sees it within ``CONTROL_POLL_SECONDS``.
* :func:`reap` marks runs whose heartbeat stopped, or whose task the cluster forgot, as
  ``interrupted`` with the reason.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import update

from core.compute._context import JobContext
from core.compute._lifecycle import CancelTask
from core.compute._lifecycle import Decision
from core.compute._lifecycle import Event
from core.compute._lifecycle import Failed
from core.compute._lifecycle import RunStatus
from core.compute._lifecycle import Started
from core.compute._lifecycle import Stopped
from core.compute._lifecycle import StopRequested
from core.compute._lifecycle import Succeeded
from core.compute._transition import _record
from core.compute._transition import _summarize
from core.compute._transition import run_key
from core.compute._transition import transition
from core.config import AppConfig
from core.errors import AppError
from core.errors import ComputeError
from core.errors import JobStopped
from core.errors import SpecError
from core.store import SYSTEM
from core.store import Dataset
from core.store import Pipeline
from core.store import Run
from core.store import RunEvent
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import check_quota
from core.store import create_run
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import new_id
from core.store import open_store

if TYPE_CHECKING:
    from distributed import Client
    from distributed import Future

__all__ = [
    "JOB_KINDS",
    "JobKind",
    "execute_run",
    "request_control",
    "stop_run",
    "register_job_kind",
    "submit_run",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    """What runs a kind of job, registered by the package that owns it.

    Args:
        run: ``"module:function"`` called on a worker as ``function(ctx, spec) -> result``.
            Resolved there, so the UI process never imports the job's dependencies (TensorFlow).
        validate: ``"module:function"`` turning a spec dict into its normalised form (or raising
            SpecError) before anything is stored.
        recorded_as: The run's kind in the store, when it differs (a tuning trial is recorded
            as a training run). Defaults to the kind itself.
    """

    run: str
    validate: str
    recorded_as: str | None = None


# Kind -> JobKind. Compute knows only its own diagnostic job; every other package registers its
# kinds when imported (:func:`register_job_kind`). Only registered names are accepted: a kind
# is an ID, never code, and the worker is handed the registered reference.
JOB_KINDS: dict[str, JobKind] = {
    "smoke": JobKind("core.compute._smoke:run_smoke", "core.compute._smoke:validate_smoke_spec"),
}


def register_job_kind(kind: str, run: str, validate: str, recorded_as: str | None = None) -> None:
    """Make ``kind`` submittable; a package calls this for each job it owns, when imported.

    Raises:
        SpecError: A reference that is not ``"module:function"`` inside ``core``.
    """
    for ref in (run, validate):
        module, _, name = ref.partition(":")
        if not (module == "core" or module.startswith("core.")) or not name.isidentifier():
            raise SpecError(f"A job reference is 'core.module:function', but got {ref!r}.")
    JOB_KINDS[kind] = JobKind(run, validate, recorded_as)


def _resolve(ref: str) -> Callable[..., Any]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _check_kind(kind: str) -> None:
    if kind not in JOB_KINDS:
        raise SpecError(
            f"Unknown job kind {kind!r}. Valid kinds are: {', '.join(sorted(JOB_KINDS))} (a package "
            "registers its kinds when imported: import it first)."
        )


# --- the store adapter ----------------------------------------------------------------------


# --- worker side ----------------------------------------------------------------------------


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        import socket

        return socket.gethostname()


def _log_format() -> None:
    """The worker's Loom loggers as the app's (``LOOM_LOG_FORMAT``, inherited or set for the
    worker); a bad value was already refused where the app or CLI started."""
    from core.errors import ConfigError
    from core.logs import configure_logging

    try:
        configure_logging()
    except ConfigError:
        pass


def execute_run(config: AppConfig, run_id: str, job: str | None = None) -> str:
    """Run one job on this worker and record how it ended. Never raises.

    Args:
        config: Where the store is; the worker opens it itself.
        run_id: The run to execute; its kind and spec are read from the store.
        job: The registered ``"module:function"`` to run (from the submitting process's
            registry). Defaults to the one registered here for the run's kind.

    Returns:
        The run's final status (or ``"skipped"`` if it was not to run here).
    """
    _log_format()
    store = open_store(config)
    decision = transition(store, run_id, Started(worker=_worker_name()))
    if not decision.proceed:
        return decision.state.status.value
    with store.session(SYSTEM) as s:
        run = s.get(Run, run_id)
        assert run is not None  # noqa: S101 - it was just updated in the same store
        kind, spec = run.kind, dict(run.spec_json)

    ctx = JobContext(store, run_id, config.heartbeat_seconds)
    ctx.start()
    if kind == "train":  # training runs and tuning trials: CPU, memory and GPU beside the loss
        ctx.sample_system()
    outcome: Event
    result: dict[str, Any] | None = None
    try:
        if job is None and kind not in JOB_KINDS:
            raise SpecError(
                f"No job kind {kind!r} is registered in this process: import the package that owns "
                "it before executing its runs (submit_run hands workers the job itself)."
            )
        result = _resolve(job or JOB_KINDS[kind].run)(ctx, spec)
        outcome = Succeeded()
    except JobStopped as exc:
        outcome = Stopped(str(exc))
    except Exception as exc:  # noqa: BLE001 - the job boundary: every failure is recorded
        outcome = Failed(_explain(exc))
        _log.exception("run %s failed", run_id)
        _record(store, run_id, "log", traceback.format_exc()[-4000:])
    try:
        ctx.close()  # every metric is stored before the final status is
    except AppError as exc:
        first = f"{outcome.message}; also " if isinstance(outcome, Failed) else ""
        outcome = Failed(f"{first}could not store the last metrics: {exc}")
    if result:
        with store.session(SYSTEM) as s:
            s.execute(update(Run).where(Run.id == run_id).values(result_json=result))
    _summarize(store, run_id)
    return transition(store, run_id, outcome).state.status.value


def _explain(exc: BaseException) -> str:
    """A failure as the run's reason; running out of memory or disk says what to change."""
    import errno

    name = exc.__class__.__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"the disk is full on {_worker_name()} ({exc.strerror}) while writing "
            f"{exc.filename or 'a file'}. Free space in the data directory (or raise the quota), then "
            "launch the run again; its metrics so far are kept."
        )
    if (
        isinstance(exc, MemoryError)
        or name == "ResourceExhaustedError"
        or "out of memory" in str(exc).lower()
    ):
        text = str(exc).strip()
        where = "GPU" if "device:GPU" in text or "cuda" in text.lower() else "worker"
        found = re.search(r"OOM when allocating tensor with shape\[[^\]]*\]", text)
        first = found.group(0) if found else (text.splitlines()[0][:300] if text else name)
        return (
            f"out of memory on the {where} ({_worker_name()}): {first}. Lower the batch size, use a "
            "smaller model, or run it on a worker with more memory."
        )
    return f"{name}: {exc}"


# --- client side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitOptions:
    """How a run is placed on the cluster.

    Args:
        resources: Dask worker resources the run needs, e.g. ``{"GPU": 1}``. Defaults to none.
    """

    resources: dict[str, float] | None = None


def submit_run(
    client: Client,
    store: Store,
    kind: str,
    spec: dict,
    *,
    viewer: Viewer,
    name: str = "",
    options: SubmitOptions | None = None,
    team: str = "",
    author: str | None = None,
    on_submitted: Callable[[Future], None] | None = None,
    **links: str | None,
) -> str:
    """Validate ``spec``, record a queued run and start it on the cluster.

    Args:
        client: A connected Dask client.
        store: The store the workers write to.
        kind: A key of :data:`JOB_KINDS`.
        spec: The job's spec as a JSON-able dict; validated before anything is stored.
        viewer: Who launches it: its owner. The dataset, pipeline, study and parent it names
            must be visible to them.
        name: Shown in lists; ``{id}`` in it becomes the run's short ID. Defaults to "".
        options: Placement options. Defaults to none.
        team: The team that may view and fork it; "" keeps it private. Defaults to "".
        author: Its owner when Loom itself launches on someone's behalf (a study's trials);
            only for a viewer that sees everything. Defaults to the viewer's name.
        on_submitted: Called with the run's Dask future once the task is submitted, for a
            caller that waits on the task (a study's driver) rather than polling the store. The
            task runs whether or not the future is kept. Defaults to None.
        **links: ``dataset_id``, ``pipeline_id``, ``study_id`` the run uses, and its lineage:
            ``parent_id`` (the run it came from) with ``parent_kind`` (resumed, forked, promoted).

    Returns:
        The new run's ID.

    Raises:
        SpecError: Unknown kind or invalid spec; nothing is stored.
        NotFoundError: A linked dataset, pipeline, study or parent is missing or not visible.
        PermissionDeniedError: A visitor who is not signed in, or a team the viewer is not in.
        QuotaExceededError: The project's team uses all of its quota; nothing is stored.
        ComputeError: The cluster refused the task; the run is recorded as failed with why.
    """
    from distributed import fire_and_forget

    _check_kind(kind)
    viewer.require_create(team)
    job = JOB_KINDS[kind]
    spec = _resolve(job.validate)(spec)
    pipeline = spec.get("pipeline")
    used = pipeline.get("dataset_id") if isinstance(pipeline, dict) else None
    # The data a spec reads must be visible to whoever launches it, linked or not.
    _check_links(store, viewer, {**links, "dataset_id": links.get("dataset_id") or used})
    if isinstance(spec.get("validation_dataset"), str):  # a second dataset the run reads
        _check_links(store, viewer, {"dataset_id": spec["validation_dataset"]})
    owner = author if (author is not None and viewer.everything) else viewer.name
    if author is None:  # a person launches (Loom's own launches, a study's trials, are its own)
        check_quota(store, viewer.project or None)
    run_id = new_id()
    # "{id}" in a name is the run's short ID: names need not be unique, and this tells runs apart.
    name = name.replace("{id}", run_id[:6])
    run = create_run(
        store,
        job.recorded_as or kind,
        spec,
        name=name,
        author=owner,
        team=team,
        run_id=run_id,
        project_id=viewer.project or None,
        **links,
    )
    opts = options or SubmitOptions()
    try:
        future = client.submit(
            execute_run,
            store.config,
            run.id,
            job.run,
            key=run_key(run.id),
            pure=False,
            retries=0,
            resources=opts.resources,
        )
        # The scheduler keeps the task alive with no client holding the future: a page
        # reload, a closed browser or garbage collection cannot cancel the run.
        fire_and_forget(future)
    except (OSError, TimeoutError, RuntimeError) as exc:
        transition(store, run.id, Failed(f"could not submit to the cluster: {exc}"))
        raise ComputeError(
            f"The Dask cluster refused run {run.id}: {exc}. Check the Cluster page, then launch again."
        ) from exc
    if on_submitted is not None:
        on_submitted(future)
    return run.id


def _check_links(store: Store, viewer: Viewer, links: dict[str, str | None]) -> None:
    models = {"dataset_id": Dataset, "pipeline_id": Pipeline, "study_id": Study, "parent_id": Run}
    with store.session(viewer) as s:
        for field_name, model in models.items():
            if links.get(field_name):
                fetch_visible(s, model, str(links[field_name]), viewer)


def stop_run(
    store: Store, run_id: str, client: Client | None = None, by: str = "user", *, viewer: Viewer
) -> Decision:
    """Ask a run to stop. A queued run stops at once; a running one within a second.

    Args:
        store: The store.
        run_id: The run to stop.
        client: Used to cancel the task of a run that has not started. Defaults to None.
        by: Who asked, recorded in the run's events. Defaults to "user".
        viewer: Who asks; only the run's owner may stop it.

    Raises:
        NotFoundError: No such run, or not visible to ``viewer``.
        PermissionDeniedError: A teammate's run.
    """
    with store.session(viewer) as s:
        fetch_owned(s, Run, run_id, viewer, "stop")
    decision = transition(store, run_id, StopRequested(by=by))
    if client is not None and any(isinstance(a, CancelTask) for a in decision.actions):
        try:
            client.cancel([run_key(run_id)], force=True)
        except (OSError, TimeoutError, RuntimeError) as exc:
            # Harmless: the worker sees the run is stopped and does not start it.
            _log.warning("could not cancel task of run %s: %s", run_id, exc)
    return decision


CONTROLS = ("pause", "resume", "set_lr")


def request_control(
    store: Store,
    run_id: str,
    action: str,
    value: float | None = None,
    by: str = "user",
    *,
    viewer: Viewer,
) -> None:
    """Ask a running run to pause, resume or change its learning rate; it acts within a batch.

    Raises:
        SpecError: Unknown action, or a learning rate that is not > 0.
        NotFoundError: No such run, or not visible to ``viewer``.
        PermissionDeniedError: Not the viewer's own run.
        InvalidTransition: The run is not running.
    """
    from core.errors import InvalidTransition

    if action not in CONTROLS:
        raise SpecError(f"Unknown control {action!r}. Valid controls are: {', '.join(CONTROLS)}.")
    if action == "set_lr" and not (value is not None and math.isfinite(value) and value > 0):
        raise SpecError(f"`learning_rate > 0` must hold, but got learning_rate={value!r}.")
    with store.session(viewer) as s:
        status = fetch_owned(s, Run, run_id, viewer, action.replace("set_lr", "steer")).status
        if status != RunStatus.RUNNING.value:
            raise InvalidTransition(f"Run {run_id} is {status}, not running: there is nothing to {action}.")
        s.add(
            RunEvent(
                run_id=run_id,
                kind="control",
                message=json.dumps({"action": action, "value": value, "by": by}),
            )
        )
