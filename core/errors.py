"""Every error Loom raises on purpose.

Pages catch :class:`AppError` and show ``str(exc)``; anything else is a bug and propagates.
Each message says what was received, what is allowed, and how to fix it.

Errors may be raised on Dask workers and travel back to the client, so every subclass keeps
its fields in ``args`` (the default ``BaseException`` pickling) and takes a single message.
"""

from __future__ import annotations

__all__ = [
    "AppError",
    "BackupError",
    "ComputeError",
    "ConfigError",
    "DataError",
    "InvalidTransition",
    "JobStopped",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitedError",
    "SchemaMismatchError",
    "SpecError",
    "StoreError",
]


class AppError(Exception):
    """Base class of every error that Loom reports to a user."""


class BackupError(AppError):
    """A backup cannot be made or restored: a file is missing or altered, or the target is not empty."""


class ConfigError(AppError):
    """A setting (environment variable, URL, directory) cannot be used as given."""


class StoreError(AppError):
    """The store could not be read or written."""


class NotFoundError(StoreError):
    """A row asked for by ID does not exist."""


class SchemaMismatchError(StoreError):
    """The store's schema is another version than this Loom's (Alembic revision differs)."""


class PermissionDeniedError(AppError):
    """The viewer may see this object but not do this to it (a teammate's run, say)."""


class QuotaExceededError(AppError):
    """A team's projects hold its whole quota: an upload or launch into them is refused."""


class RateLimitedError(AppError):
    """Too many attempts (failed sign-ins) in a short time: wait, then try again."""


class ComputeError(AppError):
    """The Dask cluster cannot be reached or refused a job."""


class DataError(AppError):
    """A file or dataset cannot be read as given: says what, where (line/column) and how to fix."""


class SpecError(AppError):
    """A spec (job, pipeline, model, ...) is invalid."""


class InvalidTransition(AppError):
    """A run lifecycle event does not apply to the run's current status."""


class JobStopped(AppError):
    """Raised inside a job when a user asked it to stop; the job ends as ``stopped``."""
