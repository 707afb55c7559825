"""A run logged from any Python script: :func:`run` opens it, :class:`Run` logs to it.

The script writes straight into the app's store (the same ``LOOM_DATA_DIR`` /
``LOOM_DATABASE_URL``), so the run shows in Experiments and on the Jobs page while it runs,
marked ``external``. Logging is a list append: the run's context writes points on its own thread
every half second and keeps them while the store is unreachable (bounded; see :class:`Run`).

Rules for what :meth:`Run.log` takes (documented in the README):

* a key is 1-100 of ``A-Z a-z 0-9 _ . / -`` (``/`` groups charts: ``val/loss`` draws beside
  ``val/acc``); anything else raises :class:`~core.errors.SpecError` naming the key;
* a value is a real number (int, float, NumPy or framework scalar); a string, bool, None or
  any other object raises :class:`~core.errors.SpecError` naming the key, nothing of that
  call is logged;
* NaN and ±inf are not stored (SQL has no portable NaN): skipped, counted per key, one warning
  per key, and the counts are recorded as a ``nonfinite`` event on the run when it ends;
* a step is an int >= 0, or omitted: then one more than the last step of that run's calls; a step
  lower than the last one stored for the same key is skipped with one warning per key, so each
  curve moves forward (the same step again is stored).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.compute import JobContext
from core.compute import finish_external
from core.compute import start_external
from core.config import AppConfig
from core.config import get_config
from core.errors import NotFoundError
from core.errors import SpecError
from core.experiments import add_tag
from core.sharing import list_users
from core.sharing import local_viewer
from core.sharing import resolve_project
from core.sharing import viewer_for
from core.store import Viewer
from core.store import open_existing_store
from core.track._branch import Branch
from core.track._branch import read_checkpoint
from core.track._branch import write_checkpoint

__all__ = ["MAX_BUFFERED", "Run", "run"]

_log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9_./-]{1,100}$")

# Points kept in memory while the store is away: about 150 MB; a step a millisecond for 8 minutes.
MAX_BUFFERED = 1_000_000


class Run:
    """A running external run; made by :func:`run`, not directly.

    Attributes:
        id: The run's ID (``/jobs?run=<id>`` in the app).
        name: Its name.
    """

    def __init__(self, ctx: JobContext, name: str) -> None:
        self._ctx = ctx
        self.id = ctx.run_id
        self.name = name
        self._step = -1
        self._last: dict[str, int] = {}
        self._warned: set[tuple[str, str]] = set()
        self.nonfinite: dict[str, int] = {}
        self.failure: str | None = None  # set by KerasCallback when a NaN loss stopped the fit
        self.branch: Branch | None = None  # set by run(..., branch_from=, epoch=)
        self._rule: Any = None

    @property
    def restored(self) -> dict[str, Any]:
        """A branch's checkpoint arrays by name (empty for a run that is no branch)."""
        return dict(self.branch.arrays) if self.branch is not None else {}

    def save_checkpoint(self, epoch: int, arrays: Mapping[str, Any], metric: float | None = None) -> Path:
        """Keep ``arrays`` (name -> NumPy array or tensor) as this run's checkpoint at ``epoch``, at
        its last logged step; another run can then branch from it. The run's retention rule
        (``track.run(..., checkpoints=)``) deletes the epochs it no longer keeps.

        Args:
            epoch: An int >= 1.
            arrays: Numbers only, e.g. ``dict(enumerate(model.get_weights()))`` with string keys.
            metric: The key metric at that epoch (lower is better), for the rule's "best".

        Returns:
            The checkpoint's file.

        Raises:
            SpecError: A bad epoch, name or array (objects would need a pickle: refused).
        """
        return write_checkpoint(
            self._ctx.store, self.id, epoch, max(self._step, 0), arrays, metric, self._rule
        )

    @property
    def context(self) -> JobContext:
        """The job context the run streams through (what :func:`KerasCallback` drives)."""
        return self._ctx

    @property
    def should_stop(self) -> bool:
        """True once someone pressed Stop on the run's page: end the loop, then the block."""
        return self._ctx.should_stop()

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log ``{key: value}`` at ``step``; returns at once (a thread writes to the store).

        Args:
            metrics: Metric names and numbers, e.g. ``{"loss": 0.3, "val/accuracy": 0.9}``.
            step: An int >= 0. Defaults to one more than the last step this run logged.

        Raises:
            SpecError: A key that is not a metric name, a value that is not a number, or a step
                that is not an int >= 0; nothing of this call is logged.
        """
        if not isinstance(metrics, Mapping):
            raise SpecError(
                f"run.log takes a dict of metric name -> number, but got {type(metrics).__name__}."
            )
        if step is None:
            step = self._step + 1
        elif isinstance(step, bool) or not isinstance(step, (int, *_integer_types())) or int(step) < 0:
            raise SpecError(f"`step` must be an int >= 0, but got step={step!r}.")
        step = int(step)
        values = [(key, _number(key, value)) for key, value in metrics.items()]
        self._step = max(self._step, step)
        for key, value in values:
            if not math.isfinite(value):
                self.nonfinite[key] = self.nonfinite.get(key, 0) + 1
                self._warn_once(key, "nonfinite", f"{key}={value} at step {step} is not stored (NaN/inf)")
                continue
            if step < self._last.get(key, -1):
                self._warn_once(
                    key,
                    "back",
                    f"{key} at step {step} is skipped: the last step logged was {self._last[key]} "
                    "(a step may repeat, never go back)",
                )
                continue
            self._last[key] = step
            self._ctx.log_metric(key, step, value)

    def _warn_once(self, key: str, why: str, message: str) -> None:
        if (key, why) not in self._warned:
            self._warned.add((key, why))
            _log.warning("run %s: %s (warned once per metric)", self.id[:8], message)


def _integer_types() -> tuple[type, ...]:
    numpy = sys.modules.get("numpy")
    return (numpy.integer,) if numpy is not None else ()


def _number(key: Any, value: Any) -> float:
    if not isinstance(key, str) or not _KEY.match(key):
        raise SpecError(
            f"Metric name {str(key)[:120]!r} is not valid: use 1-100 letters, digits and _ . / - "
            "(e.g. 'loss' or 'val/accuracy')."
        )
    if isinstance(value, str | bytes | bool) or value is None or not hasattr(value, "__float__"):
        raise SpecError(
            f"Metric {key!r} must be a number, but got {type(value).__name__} {str(value)[:60]!r}. "
            "Log numbers only (convert with float(), or put text in the run's config)."
        )
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"Metric {key!r} must be a number, but got {str(value)[:60]!r}: {exc}.") from exc


def _author(store, config: AppConfig, author: str | None, team: str) -> Viewer:  # type: ignore[no-untyped-def]
    if not config.auth:
        viewer = local_viewer() if author is None else Viewer.local(author[:100])
    else:
        name = (author or os.environ.get("LOOM_USER") or "").strip().lower()
        if not name:
            raise SpecError(
                "Accounts are on (LOOM_AUTH=on): say whose run this is with track.run(..., author=NAME) "
                "or LOOM_USER=NAME."
            )
        if name not in list_users(store):
            raise NotFoundError(
                f"There is no user {name[:40]!r}. Add it with `python -m core user add {name}`."
            )
        viewer = viewer_for(store, name)
    viewer.require_create(team)
    return viewer


@contextlib.contextmanager
def run(
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    tags: tuple[str, ...] | list[str] = (),
    team: str = "",
    project: str = "",
    author: str | None = None,
    app_config: AppConfig | None = None,
    system_metrics: bool = True,
    wait_for_store: float = 600.0,
    max_buffered: int = MAX_BUFFERED,
    branch_from: str | None = None,
    epoch: int | None = None,
    checkpoints: Mapping[str, int] | None = None,
) -> Iterator[Run]:
    """Open an external run in the app's store, for the ``with`` block's duration.

    Args:
        name: Shown in lists (at most 200 characters).
        config: The run's settings, any JSON-able dict; shown as its spec. Defaults to {}.
        tags: Tags to put on it (Experiments filters by them). Defaults to none.
        team: The team that may view it; "" keeps it private (accounts on). Defaults to "".
        project: The project it goes into: its ID, ``owner/name`` or a name only one of the
            author's projects has. Defaults to the author's "Default" project.
        author: Whose run it is. With accounts off, defaults to ``LOOM_USER`` or the account
            name; with accounts on (``LOOM_AUTH=on``) it must name an existing user, from this
            argument or ``LOOM_USER``. Whoever can write the store's database can write any run:
            the database's credentials are what authenticate a script, this only attributes it.
        app_config: Where the store is. Defaults to the environment's (``LOOM_DATA_DIR``,
            ``LOOM_DATABASE_URL``), as the app reads it.
        system_metrics: Record CPU %, memory and GPU use under ``system/``. Defaults to True.
        wait_for_store: At the end, seconds to keep retrying points the store has not taken yet.
            Defaults to 600.
        max_buffered: Points kept in memory while the store is unreachable; beyond, new points
            are dropped with a warning and counted on the run. Defaults to :data:`MAX_BUFFERED`.
        branch_from: A run to branch from, at its checkpoint of ``epoch``: the new run records
            the lineage (shown on the run page, its parent's history drawn faded), its steps go on
            from the checkpoint's step, and ``run.restored`` holds the checkpoint's arrays
            (``run.branch.path`` its file). Defaults to None.
        epoch: The epoch of ``branch_from`` to start from (required with it).
        checkpoints: Which of this run's :meth:`Run.save_checkpoint` epochs are kept, as
            ``{"last": 2, "every": 10, "best": 1}`` (the default).

    Yields:
        The :class:`Run`. The run ends ``succeeded`` when the block ends, ``stopped`` if Stop
        was pressed (or the block raised :class:`~core.errors.JobStopped` or Ctrl-C), else
        ``failed`` with the exception; the exception propagates.

    Raises:
        SchemaMismatchError: The store is at another schema version; nothing is written.
        SpecError: A config that is not JSON, or a missing author with accounts on.
        NotFoundError: No such user (accounts on), or no such project of the author's.
        PermissionDeniedError: A team the author is not in, or a project where they may only view.
        DataError: ``branch_from`` keeps no checkpoint at ``epoch`` (the nearest kept one named).
    """
    from core.store import get_run
    from core.training import CheckpointRule

    rule = CheckpointRule.from_dict(dict(checkpoints) if checkpoints is not None else None)
    if (branch_from is None) != (epoch is None):
        raise SpecError("Branch with both `branch_from=RUN` and `epoch=N`, or neither.")
    settings = dict(config or {})
    try:
        json.dumps(settings, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"The run's config must be JSON (numbers, strings, lists, dicts): {exc}.") from exc
    app = app_config or get_config()
    store = open_existing_store(app)
    viewer = _author(store, app, author, team)
    project_id = resolve_project(store, project, viewer=viewer) if project else None
    spec: dict[str, Any] = {
        "type": "external",
        "config": settings,
        "script": os.path.basename(sys.argv[0] or "")[:200],
    }
    branch = None
    if branch_from is not None:
        parent = get_run(store, str(branch_from), viewer=viewer)  # NotFoundError unless visible
        branch = read_checkpoint(store, parent.id, int(epoch))  # type: ignore[arg-type]
        spec["branch"] = {"run": parent.id, "epoch": branch.epoch, "step": branch.step}
    ctx = start_external(
        store,
        spec,
        name=str(name)[:200],
        author=viewer.name,
        team=team,
        project_id=project_id,
        heartbeat_seconds=app.heartbeat_seconds,
        max_buffered=max_buffered,
        system_metrics=system_metrics,
        parent_id=branch.run if branch else None,
        parent_kind="branched" if branch else None,
    )
    handle = Run(ctx, str(name)[:200])
    handle._rule = rule
    if branch is not None:  # its curves go on from the parent's step at that epoch
        handle.branch, handle._step = branch, branch.step
        ctx.note("branched", {"from_run": branch.run, "epoch": branch.epoch, "step": branch.step})
    for tag in tags:
        add_tag(store, "run", handle.id, tag, viewer=viewer)
    error: BaseException | None = None
    try:
        yield handle
    except BaseException as exc:
        error = exc
        raise
    finally:
        notes = {"nonfinite": {"skipped": handle.nonfinite}} if handle.nonfinite else {}
        finish_external(ctx, error, wait_for_store, notes, handle.failure)
