"""Optuna's side: the RDB storage on the store's own database URL (with the store's SQLite
pragmas), samplers and pruners built from a study spec."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from typing import Any

from core.errors import SpecError
from core.tuning._space import SearchSpace
from core.tuning._studyspec import StudySpec
from core.tuning._studyspec import grid

if TYPE_CHECKING:
    from core.config import AppConfig

__all__ = ["build_pruner", "build_sampler", "load_optuna_study", "optuna_storage"]

_log = logging.getLogger(__name__)


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
            return optuna.samplers.GridSampler(grid(space), seed=seed)
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

            from core.store import sqlite_pragmas

            event.listen(storage.engine, "connect", sqlite_pragmas)
            storage.engine.dispose()  # reconnect with them
        _STORAGES[url] = storage
    return _STORAGES[url]


_READERS: dict[str, Any] = {}


def _reader(config: AppConfig):  # type: ignore[no-untyped-def]
    """The RDB storage behind Optuna's own trial cache, kept for the process: a finished trial
    never changes, so it is read once; later reads fetch only new and unfinished trials
    (re-reading a 1,000-trial study took 0.7 s on every page run)."""
    import optuna

    url = config.database_url
    if url not in _READERS:
        # get_storage wraps an RDB storage in the cache Optuna itself uses for a URL.
        _READERS[url] = optuna.storages.get_storage(optuna_storage(config))
    return _READERS[url]


def load_optuna_study(config: AppConfig, study_id: str, spec: StudySpec | None = None):  # type: ignore[no-untyped-def]
    """The Optuna study of a Loom study, with its pruner (and no sampler: only the driver asks).

    Read without a spec (pages, steering), it shares the process's trial cache; a trial's
    reporter (with its pruner) gets a storage of its own, as the driver does.
    """
    import optuna

    if spec is None:
        return optuna.load_study(study_name=study_id, storage=_reader(config))
    return optuna.load_study(study_name=study_id, storage=optuna_storage(config), pruner=build_pruner(spec))
