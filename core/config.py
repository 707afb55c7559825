"""Typed settings read from environment variables, resolved into one :class:`AppConfig`.

Order: environment variable > default. Other tools keep their own config: Streamlit reads
``.streamlit/config.toml`` and ``STREAMLIT_*``; Dask reads ``DASK_*``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic
from typing import TypeVar

from core.errors import ConfigError

__all__ = [
    "AppConfig",
    "EnvVar",
    "LOOM_DATABASE_URL",
    "LOOM_DATA_DIR",
    "LOOM_DASK_PROCESSES",
    "LOOM_DASK_THREADS",
    "LOOM_DASK_WORKERS",
    "LOOM_HEARTBEAT_SECONDS",
    "LOOM_IMPORT_ROOT",
    "LOOM_HEARTBEAT_TIMEOUT",
    "LOOM_WARM_BACKENDS",
    "DASK_SCHEDULER_ADDRESS",
    "get_config",
    "parse_bool",
]

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(name: str, raw: str) -> bool:
    """Parse a boolean strictly; anything but the listed words is an error."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean. Use one of {', '.join(_TRUE + _FALSE)}.")


def _parse_positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer. Set it to a whole number >= 1.") from None
    if value < 1:
        raise ConfigError(f"{name} must be >= 1, but got {value}.")
    return value


def _parse_positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number. Set it to a number > 0.") from None
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, but got {value}.")
    return value


@dataclass(frozen=True)
class EnvVar(Generic[T]):
    """One environment variable with its parser and default.

    Args:
        name: The variable's name.
        parse: Turns the raw string into a value; raises :class:`ConfigError` on bad input.
        default: Used when the variable is unset or empty. ``None`` means "no value".
        help: One line shown in the README's settings table.
    """

    name: str
    parse: Callable[[str, str], T]
    default: T | None
    help: str

    def get(self, environ: dict[str, str] | None = None) -> T | None:
        env = os.environ if environ is None else environ
        raw = env.get(self.name, "")
        if raw.strip() == "":
            return self.default
        return self.parse(self.name, raw)


def _str(name: str, raw: str) -> str:
    return raw.strip()


LOOM_DATA_DIR: EnvVar[str] = EnvVar(
    "LOOM_DATA_DIR", _str, "loom-data", "Directory for the SQLite store and large files."
)
LOOM_DATABASE_URL: EnvVar[str] = EnvVar(
    "LOOM_DATABASE_URL",
    _str,
    None,
    "SQLAlchemy URL of the store. Default: SQLite file `loom.db` in the data directory.",
)
DASK_SCHEDULER_ADDRESS: EnvVar[str] = EnvVar(
    "DASK_SCHEDULER_ADDRESS",
    _str,
    None,
    "Address of an existing Dask scheduler. Default: start a LocalCluster on 127.0.0.1.",
)
LOOM_DASK_WORKERS: EnvVar[int] = EnvVar(
    "LOOM_DASK_WORKERS", _parse_positive_int, None, "Local cluster workers. Default: cores // 2, >= 1."
)
LOOM_DASK_THREADS: EnvVar[int] = EnvVar(
    "LOOM_DASK_THREADS", _parse_positive_int, None, "Threads per local worker. Default: 2."
)
LOOM_DASK_PROCESSES: EnvVar[bool] = EnvVar(
    "LOOM_DASK_PROCESSES",
    parse_bool,
    True,
    "Run local workers as processes (true) or threads in the app process (false).",
)


def _parse_gpus(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value in ("auto", "none") or all(p.strip().isdigit() for p in value.split(",")):
        return value
    raise ConfigError(f"{name}={raw!r} is not a GPU list. Use auto, none, or device indexes such as 0,1.")


LOOM_GPUS: EnvVar[str] = EnvVar(
    "LOOM_GPUS",
    _parse_gpus,
    "auto",
    "GPUs for the local cluster: auto (found by NVML or nvidia-smi), none, or indexes like 0,1. "
    "One worker per GPU, each pinned by CUDA_VISIBLE_DEVICES and declaring GPU=1.",
)
LOOM_AUTH: EnvVar[bool] = EnvVar(
    "LOOM_AUTH",
    parse_bool,
    False,
    "Accounts: on makes everyone sign in; each sees their own runs and what is shared with them.",
)
LOOM_IMPORT_ROOT: EnvVar[str] = EnvVar(
    "LOOM_IMPORT_ROOT",
    _str,
    None,
    "Folder on the server whose files may be registered as datasets without uploading. Default: off.",
)
LOOM_WARM_WORKERS: EnvVar[bool] = EnvVar(
    "LOOM_WARM_WORKERS",
    parse_bool,
    True,
    "Workers import TensorFlow and run one tiny step as they start, so a run's first point comes "
    "seconds sooner (false: each worker pays that on its first run).",
)
WARMABLE = ("tensorflow", "sklearn", "jax", "torch")


def _parse_warm(name: str, raw: str) -> tuple[str, ...]:
    value = raw.strip().lower()
    if value == "all":
        return WARMABLE
    if value == "none":
        return ()
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = [p for p in parts if p not in WARMABLE]
    if unknown:
        raise ConfigError(
            f"{name}={raw!r} names {', '.join(unknown)}. Use all, none, or a list of: {', '.join(WARMABLE)}."
        )
    return parts


LOOM_WARM_BACKENDS: EnvVar[tuple[str, ...]] = EnvVar(
    "LOOM_WARM_BACKENDS",
    _parse_warm,
    WARMABLE,
    "What each worker warms as it starts, in the background, where installed: `all`, `none`, or a list of "
    "tensorflow, sklearn, jax, torch (jax and torch: a warm training process each, kept idle).",
)
LOOM_HEARTBEAT_SECONDS: EnvVar[float] = EnvVar(
    "LOOM_HEARTBEAT_SECONDS", _parse_positive_float, 2.0, "How often a running job heartbeats."
)
LOOM_HEARTBEAT_TIMEOUT: EnvVar[float] = EnvVar(
    "LOOM_HEARTBEAT_TIMEOUT",
    _parse_positive_float,
    30.0,
    "Seconds without heartbeat after which a run is marked interrupted.",
)

LOOM_TRASH_DAYS: EnvVar[float] = EnvVar(
    "LOOM_TRASH_DAYS",
    _parse_positive_float,
    30.0,
    "Days a deleted run, study, dataset, pipeline or report stays in the trash (restorable), then is purged.",
)


def _parse_nice(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer. Set it to a niceness from 0 to 19.") from None
    if not 0 <= value <= 19:
        raise ConfigError(f"`0 <= {name} <= 19` must hold, but got {value}.")
    return value


LOOM_WORKER_NICE: EnvVar[int] = EnvVar(
    "LOOM_WORKER_NICE",
    _parse_nice,
    10,
    "Niceness of the local cluster's worker processes (0-19; 0: as the app): training yields the CPU to "
    "the app's pages when the machine is busy, and uses all of it otherwise.",
)


def _parse_log_format(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ConfigError(f"{name}={raw!r} is not a log format. Use text or json.")
    return value


LOOM_METRICS_PORT: EnvVar[int] = EnvVar(
    "LOOM_METRICS_PORT",
    _parse_positive_int,
    None,
    "Serve Prometheus metrics at http://LOOM_METRICS_HOST:PORT/metrics from each app process. Default: off.",
)
LOOM_METRICS_HOST: EnvVar[str] = EnvVar(
    "LOOM_METRICS_HOST", _str, "127.0.0.1", "Address the metrics port binds. Default: loopback only."
)
LOOM_LOG_FORMAT: EnvVar[str] = EnvVar(
    "LOOM_LOG_FORMAT",
    _parse_log_format,
    "text",
    "json: Loom's loggers (app, workers, CLI) write one JSON object per line (ts, level, logger, message).",
)

ALL_VARS: tuple[EnvVar[object], ...] = (
    LOOM_DATA_DIR,
    LOOM_DATABASE_URL,
    DASK_SCHEDULER_ADDRESS,
    LOOM_DASK_WORKERS,
    LOOM_DASK_THREADS,
    LOOM_DASK_PROCESSES,
    LOOM_GPUS,
    LOOM_AUTH,
    LOOM_IMPORT_ROOT,
    LOOM_WARM_WORKERS,
    LOOM_WARM_BACKENDS,
    LOOM_WORKER_NICE,
    LOOM_HEARTBEAT_SECONDS,
    LOOM_HEARTBEAT_TIMEOUT,
    LOOM_TRASH_DAYS,
    LOOM_METRICS_PORT,
    LOOM_METRICS_HOST,
    LOOM_LOG_FORMAT,
)  # type: ignore[assignment]


@dataclass(frozen=True)
class AppConfig:
    """Everything Loom needs to know about where it runs.

    Build it with :func:`get_config`; tests build it directly.
    """

    data_dir: Path
    database_url: str
    scheduler_address: str | None = None
    n_workers: int = 1
    threads_per_worker: int = 2
    processes: bool = True
    heartbeat_seconds: float = 2.0
    heartbeat_timeout: float = 30.0
    import_root: Path | None = None
    gpus: str = "none"
    auth: bool = False
    warm_workers: bool = False  # get_config turns it on (LOOM_WARM_WORKERS); tests opt in
    trash_days: float = 30.0  # deleted items stay restorable this long (LOOM_TRASH_DAYS)
    worker_nice: int = 0  # local worker processes' niceness; get_config: LOOM_WORKER_NICE (10)

    def __post_init__(self) -> None:
        if self.heartbeat_timeout <= self.heartbeat_seconds:
            raise ConfigError(
                "`heartbeat_timeout > heartbeat_seconds` must hold, but got "
                f"(heartbeat_timeout={self.heartbeat_timeout}, "
                f"heartbeat_seconds={self.heartbeat_seconds}). Raise LOOM_HEARTBEAT_TIMEOUT."
            )

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, **overrides: object) -> AppConfig:
        """A config with the default SQLite store inside ``data_dir``."""
        path = Path(data_dir).resolve()
        url = overrides.pop("database_url", None) or default_sqlite_url(path)
        return cls(data_dir=path, database_url=str(url), **overrides)  # type: ignore[arg-type]


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'loom.db'}"


def _default_workers() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


def get_config(environ: dict[str, str] | None = None) -> AppConfig:
    """Resolve the configuration from environment variables.

    Args:
        environ: Variables to read. Defaults to ``os.environ``.

    Returns:
        The resolved :class:`AppConfig`.

    Raises:
        ConfigError: A variable holds a value that cannot be used; the message names it.
    """
    data_dir = Path(LOOM_DATA_DIR.get(environ) or "loom-data").expanduser().resolve()
    return AppConfig(
        data_dir=data_dir,
        database_url=LOOM_DATABASE_URL.get(environ) or default_sqlite_url(data_dir),
        scheduler_address=DASK_SCHEDULER_ADDRESS.get(environ),
        n_workers=LOOM_DASK_WORKERS.get(environ) or _default_workers(),
        threads_per_worker=LOOM_DASK_THREADS.get(environ) or 2,
        processes=bool(LOOM_DASK_PROCESSES.get(environ)),
        heartbeat_seconds=LOOM_HEARTBEAT_SECONDS.get(environ) or 2.0,
        heartbeat_timeout=LOOM_HEARTBEAT_TIMEOUT.get(environ) or 30.0,
        import_root=Path(root).expanduser().resolve() if (root := LOOM_IMPORT_ROOT.get(environ)) else None,
        gpus=LOOM_GPUS.get(environ) or "auto",
        auth=bool(LOOM_AUTH.get(environ)),
        warm_workers=bool(LOOM_WARM_WORKERS.get(environ)),
        trash_days=LOOM_TRASH_DAYS.get(environ) or 30.0,
        worker_nice=int(LOOM_WORKER_NICE.get(environ) or 0),
    )
