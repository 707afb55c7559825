"""The CLI answers fast and quietly: commands that do not train import no framework (nor
dask.distributed when they need no cluster), print no framework log lines, say a user's error in
one line (the traceback only with ``--debug``), and join a running app's cluster instead of
starting their own. Speed itself is measured by ``bench/cli.py``, not asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.compute._running import SCHEDULER_FILE
from core.compute._running import advertise_scheduler
from core.compute._running import connect_running
from core.config import AppConfig

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "assets" / "iris.csv"
HEAVY = ("tensorflow", "keras", "torch", "jax", "sklearn", "optuna", "plotly", "distributed")
# What TensorFlow, absl and CUDA print at import: "I0000 00:00:...", "E0000 ... failed call to cuInit".
NOISE = ("I0000", "W0000", "E0000", "cuInit", "absl::", "oneDNN", "tensorflow", "Traceback")

# Runs the CLI as `python -m core` does, then reports which heavy modules the process imported.
_WRAPPER = """
import sys, runpy
sys.argv = ["core", *sys.argv[1:]]
try:
    runpy.run_module("core", run_name="__main__")
finally:
    heavy = [m for m in {heavy!r} if m in sys.modules]
    sys.stderr.write("imported: " + ",".join(heavy) + "\\n")
"""


def _cli(data_dir: Path, *args: str) -> tuple[int, str, str, list[str]]:
    env = {**os.environ, "LOOM_DATA_DIR": str(data_dir), "LOOM_DASK_WORKERS": "1"}
    for name in ("DASK_SCHEDULER_ADDRESS", "LOOM_DATABASE_URL", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER.format(heavy=HEAVY), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stderr.splitlines()
    assert lines and lines[-1].startswith("imported: "), done.stderr[-2000:]
    imported = [m for m in lines[-1].removeprefix("imported: ").split(",") if m]
    return done.returncode, done.stdout, "\n".join(lines[:-1]), imported


@pytest.mark.parametrize(
    "args",
    [("ingest", str(IRIS)), ("user", "list"), ("team", "list"), ("migrate",)],
    ids=["ingest", "user-list", "team-list", "migrate"],
)
def test_commands_that_need_no_cluster_import_no_framework_and_print_no_noise(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, stdout, stderr, imported = _cli(tmp_path / "data", *args)
    assert code == 0, stdout + stderr
    assert imported == [] or set(imported) <= {"pyarrow"}, imported
    assert stderr == "", stderr
    if args[0] == "ingest":
        assert stdout.startswith("dataset ") and "150 rows, 5 columns" in stdout


def test_a_user_error_is_one_line_and_a_non_zero_exit_the_traceback_only_with_debug(tmp_path: Path) -> None:
    # The error goes to stderr (a script reading stdout never takes it for a result).
    code, stdout, stderr, imported = _cli(tmp_path / "data", "evaluate", "--run", "nope", str(IRIS))
    assert code == 2
    assert stderr.startswith("error: No run with ID 'nope'")
    assert len(stderr.splitlines()) == 1 and stdout == "", stdout + stderr
    assert "tensorflow" not in imported and "keras" not in imported

    code, stdout, stderr, _ = _cli(tmp_path / "data", "evaluate", "--run", "nope", str(IRIS), "--debug")
    assert code == 2 and stdout == "" and stderr.splitlines()[-1].startswith("error: No run with ID 'nope'")
    assert stderr.startswith("Traceback (most recent call last):") and "NotFoundError" in stderr

    code, stdout, stderr, _ = _cli(tmp_path / "data", "--debug", "ingest", str(tmp_path / "missing.csv"))
    # (the wrapper's own last stderr line, the imported modules, is cut off with its line end)
    assert code == 2 and stderr == f"error: {tmp_path / 'missing.csv'} is not a file" and stdout == ""


def test_a_wrong_column_is_one_line_with_no_traceback_from_the_cluster(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, stdout, stderr, _ = _cli(data, "ingest", str(IRIS))
    assert code == 0, stdout + stderr
    dataset_id = stdout.split()[1].rstrip(":")
    # A target the dataset lacks: refused before anything is launched.
    code, stdout, stderr, imported = _cli(data, "baselines", "--dataset", dataset_id, "--target", "colour")
    assert code == 2 and len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stdout + stderr
    assert "colour" in stderr and stdout == ""
    assert not {"tensorflow", "keras"} & set(imported)


def _advertised_cluster(config: AppConfig):  # type: ignore[no-untyped-def]
    from distributed import Client
    from distributed import LocalCluster

    # The app's cluster in miniature: a TCP scheduler on loopback (no workers: what the CLI
    # submits stays queued, where the test can see it).
    cluster = LocalCluster(
        n_workers=0, processes=False, host="127.0.0.1", protocol="tcp://", dashboard_address=None
    )
    client = Client(cluster)
    advertise_scheduler(config, client)
    return cluster, client


def test_the_app_records_its_scheduler_and_a_reader_checks_it_answers(tmp_path: Path) -> None:
    import json

    config = AppConfig.for_data_dir(tmp_path)
    assert connect_running(config) is None  # nothing recorded
    cluster, client = _advertised_cluster(config)
    try:
        record = json.loads((tmp_path / SCHEDULER_FILE).read_text())
        assert record["address"] == cluster.scheduler_address and record["pid"] == os.getpid()
        joined = connect_running(config)
        assert joined is not None and joined.scheduler_info()["id"] == cluster.scheduler.id
        joined.close()
        # Another scheduler now at that address, or a dead app: not joined.
        (tmp_path / SCHEDULER_FILE).write_text(json.dumps({**record, "id": "Scheduler-other"}))
        assert connect_running(config) is None
        (tmp_path / SCHEDULER_FILE).write_text(json.dumps({**record, "pid": 2**22 + 7}))
        assert connect_running(config) is None
    finally:
        client.close()
        cluster.close()
    (tmp_path / SCHEDULER_FILE).write_text(json.dumps(record))  # the app's file, left behind
    assert connect_running(config) is None


@pytest.mark.slow
def test_the_cli_joins_a_running_apps_cluster(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, stdout, stderr, _ = _cli(data, "ingest", str(IRIS))
    assert code == 0, stdout + stderr
    dataset_id = stdout.split()[1].rstrip(":")
    cluster, client = _advertised_cluster(AppConfig.for_data_dir(data))
    try:
        code, stdout, stderr, imported = _cli(
            data, "baselines", "--dataset", dataset_id, "--target", "species"
        )
        assert code == 0 and stderr == "", stdout + stderr
        run_ids = [line.split()[1].rstrip(":") for line in stdout.splitlines()]
        assert len(run_ids) == 3
        # Submitted to the app's scheduler (queued: it has no workers), not to a cluster of its own.
        keys = {str(key) for key in cluster.scheduler.tasks}
        assert all(any(run_id in key for key in keys) for run_id in run_ids), keys
        assert not {"tensorflow", "keras", "sklearn"} & set(imported)
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_a_command_that_starts_its_own_cluster_is_quiet(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, stdout, stderr, _ = _cli(data, "ingest", str(IRIS))
    dataset_id = stdout.split()[1].rstrip(":")
    # No app is running: the command starts a cluster, whose workers write to the log file, and
    # its goodbyes at exit (Python warnings from dask.distributed) are not shown.
    code, stdout, stderr, _ = _cli(data, "baselines", "--dataset", dataset_id, "--target", "species")
    assert code == 0 and len(stdout.splitlines()) == 3 and stderr == "", stdout + stderr
    assert (data / "logs" / "cli-cluster.log").is_file()


def test_verbose_leaves_the_frameworks_log_settings_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cli import _common

    for name in _common.QUIET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_common, "_verbose", False)
    monkeypatch.setattr("warnings.filters", [])  # set_quiet adds one; dropped again after the test
    _common.set_quiet(False)
    assert not set(_common.QUIET_ENV) & set(os.environ)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own setting wins
    assert _common.set_quiet(True) == ["GRPC_VERBOSITY", "GLOG_minloglevel", "DASK_LOGGING__DISTRIBUTED"]
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1" and os.environ["DASK_LOGGING__DISTRIBUTED"] == "critical"
