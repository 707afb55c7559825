from __future__ import annotations

from pathlib import Path

import pytest

from core.config import AppConfig
from core.config import get_config
from core.config import parse_bool
from core.errors import ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = get_config({})
    assert cfg.data_dir == tmp_path / "loom-data"
    assert cfg.database_url == f"sqlite:///{tmp_path / 'loom-data' / 'loom.db'}"
    assert cfg.scheduler_address is None
    assert cfg.n_workers >= 1
    assert cfg.processes is True


def test_env_overrides(tmp_path: Path) -> None:
    cfg = get_config(
        {
            "LOOM_DATA_DIR": str(tmp_path),
            "LOOM_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "DASK_SCHEDULER_ADDRESS": "tls://10.0.0.1:8786",
            "LOOM_DASK_WORKERS": "3",
            "LOOM_DASK_THREADS": "1",
            "LOOM_DASK_PROCESSES": "off",
            "LOOM_HEARTBEAT_SECONDS": "1.5",
            "LOOM_HEARTBEAT_TIMEOUT": "10",
            "LOOM_GPUS": "1",
            "LOOM_WARM_WORKERS": "false",
            "LOOM_WORKER_NICE": "3",
        }
    )
    assert cfg == AppConfig(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://u@h/db",
        scheduler_address="tls://10.0.0.1:8786",
        n_workers=3,
        threads_per_worker=1,
        processes=False,
        heartbeat_seconds=1.5,
        heartbeat_timeout=10.0,
        gpus="1",
        warm_workers=False,
        worker_nice=3,
    )
    assert get_config({"LOOM_DATA_DIR": str(tmp_path)}).warm_workers is True  # on unless turned off


def test_empty_value_means_default(tmp_path: Path) -> None:
    assert (
        get_config({"LOOM_DATA_DIR": str(tmp_path), "DASK_SCHEDULER_ADDRESS": "  "}).scheduler_address is None
    )


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_parse_bool_true(raw: str) -> None:
    assert parse_bool("X", raw) is True


def test_parse_bool_lists_accepted_values() -> None:
    with pytest.raises(ConfigError, match=r"X='maybe' is not a boolean. Use one of 1, true, yes, on, 0"):
        parse_bool("X", "maybe")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOOM_DASK_WORKERS": "two"}, "LOOM_DASK_WORKERS='two' is not an integer"),
        ({"LOOM_DASK_WORKERS": "0"}, "LOOM_DASK_WORKERS must be >= 1, but got 0."),
        ({"LOOM_HEARTBEAT_SECONDS": "-1"}, "LOOM_HEARTBEAT_SECONDS must be > 0, but got -1.0."),
        ({"LOOM_HEARTBEAT_TIMEOUT": "1"}, "`heartbeat_timeout > heartbeat_seconds` must hold"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("`", "`")):
        get_config({"LOOM_DATA_DIR": str(tmp_path), **env})
