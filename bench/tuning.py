"""Tuning: Loom's per-trial platform overhead beside plain ``study.optimize``, Optuna's RDB storage
beside its journal storage, and trial throughput with 1 and 2 workers, all in one run.

    python bench/tuning.py [--quick]

Targets (issues): overhead <= 25 ms per trial (issue #16; it was <= 50); efficiency >= 0.9 where
free cores allow. The last line is ``tuning_overhead_ms_per_trial: N``.

What is measured, and why this way (``core`` is not changed for the benchmark):

* **Plain** (the baseline): ``optuna.create_study`` on the same kind of storage Loom uses, an
  RDB storage on an SQLite file that a Loom store created (WAL, busy timeout; built by
  ``core.tuning._storage.optuna_storage``), then ``study.optimize`` of a trivial objective
  (``(x - 2) ** 2``), random sampler. Per-trial ms = wall time / trials. Measured again before
  each round of studies (this machine is shared and its load drifts): the headline subtracts the
  median of those, taken in the same conditions as the studies.
* **Loom, as built** (the headline): a real Loom study (``start_study``: the ``study`` driver job
  on the cluster, trials as ``train`` runs) with parallelism 1 on a one-worker cluster. A Loom
  trial is a training run, so its cost is dominated by training; what the platform adds per
  trial is the gap between one trial's end and the next one's start (both stamped by the
  worker): the driver noticing the end (Dask tells it: a done callback on the trial's future),
  reading the outcome, ``tell``, ``ask``, ``submit_run``, Dask placing the task and the worker
  starting it. The headline is the median gap minus plain Optuna's per-trial time (the
  ask/tell both pay); their ratio is printed too. The driver's one-off start (loading the
  study, building the sampler) is printed apart, as is (driver wall time - the trials' own run
  times) / trials, which spreads it over few trials.
* **Loom machinery** (a breakdown, not the headline): the same cycle driven by this script
  instead of the driver, with a job that does no training: ``ask`` → ``submit_run`` of the
  built-in ``smoke`` job (1 step, no sleep) → wait for the run to end, polling the store every
  5 ms → ``tell``, setting the same user attributes the driver sets. It is what the
  submit/run/record path costs per trial without the driver's poll interval.
* **Storage**: the same trivial ``optimize`` on Optuna's RDB storage (as above) and on
  ``JournalStorage(JournalFileBackend)``, interleaved repetitions, medians; in-memory storage for
  reference. This backs the choice of the RDB storage on the store's database.
* **Throughput**: a short real Keras objective (iris, MLP with 8 units, 2-3 epochs) as a Loom
  study, parallelism 1 on a 1-worker ``LocalCluster`` vs parallelism 2 on a 2-worker one
  (processes, 1 thread each; each worker warmed with one training run first, so TensorFlow's
  import is not counted). Both clusters are up at once and the studies alternate in rounds
  (which side goes first alternates too), because this machine is shared and its load drifts.
  Trials per minute = trials / driver wall time, summed over rounds; efficiency =
  tput2 / (2 * tput1), also per round. Each worker caps TensorFlow at its one thread, so two
  workers need two free cores: on a machine with 2 shared cores (the driver, the store and this
  script also run there) no full speed-up is expected.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import SYSTEM  # noqa: E402 - after the path is set

_SMOKE_POLL_S = 0.005


def _trivial(trial) -> float:  # type: ignore[no-untyped-def]
    x = trial.suggest_float("x", -10.0, 10.0)
    return (x - 2.0) ** 2


def _optimize_ms(storage, n: int) -> float:  # type: ignore[no-untyped-def]
    import optuna

    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    t = time.perf_counter()
    study.optimize(_trivial, n_trials=n)
    return (time.perf_counter() - t) * 1000 / n


def storages(config, tmp: Path, n: int, reps: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median per-trial ms of the trivial optimize on each storage, interleaved."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from core.tuning._storage import optuna_storage

    rdb = optuna_storage(config)
    journal = optuna.storages.JournalStorage(JournalFileBackend(str(tmp / "journal.log")))
    kinds = {"rdb": lambda: rdb, "journal": lambda: journal, "memory": optuna.storages.InMemoryStorage}
    _optimize_ms(rdb, 5)  # warm-up: the RDB storage creates its tables on first use
    _optimize_ms(journal, 5)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(reps):
        for kind, make in kinds.items():
            times[kind].append(_optimize_ms(make(), n))
    return {k: statistics.median(v) for k, v in times.items()}


def machinery_ms(client, store, n: int, warmup: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Per-trial ms of ask → submit_run(smoke, 1 step, viewer=SYSTEM) → run ends → tell, driven from here."""
    import optuna

    from core.compute import TERMINAL
    from core.compute import submit_run
    from core.store import get_run
    from core.tuning._storage import optuna_storage

    study = optuna.create_study(
        storage=optuna_storage(store.config), sampler=optuna.samplers.RandomSampler(seed=0)
    )

    def one() -> None:
        trial = study.ask()
        trial.set_user_attr("phase", 1)
        x = trial.suggest_float("x", -10.0, 10.0)
        run_id = submit_run(
            client,
            store,
            "smoke",
            {"steps": 1, "interval_s": 0.0},
            name=f"trial {trial.number}",
            viewer=SYSTEM,
        )
        trial.set_user_attr("loom_run", run_id)
        while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
            time.sleep(_SMOKE_POLL_S)
        if run.status != "succeeded":
            raise RuntimeError(f"smoke run {run_id} ended {run.status}: {run.status_reason}")
        trial.set_user_attr("outcome", "complete")
        study.tell(trial, (x - 2.0) ** 2)

    for _ in range(warmup):  # the worker's first run opens the store and imports the job
        one()
    t = time.perf_counter()
    for _ in range(n):
        one()
    return (time.perf_counter() - t) * 1000 / n


def _base_spec(store, epochs: int) -> dict:  # type: ignore[no-untyped-def]
    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    return TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=epochs,
        batch_size=16,
    ).to_dict()


def _cluster(workers: int):  # type: ignore[no-untyped-def]
    from distributed import Client
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    return cluster, Client(cluster)


def _warm(client, store, base: dict) -> None:  # type: ignore[no-untyped-def]
    """One training run on every worker: TensorFlow's import and start-up are not what we measure."""
    from core.compute import JOB_KINDS
    from core.compute import execute_run
    from core.store import create_run

    futures = []
    for address in client.scheduler_info()["workers"]:
        run = create_run(store, "train", base, name="warm-up")
        futures.append(
            client.submit(
                execute_run, store.config, run.id, JOB_KINDS["train"].run, workers=[address], pure=False
            )
        )
    statuses = client.gather(futures)
    if set(statuses) != {"succeeded"}:
        raise RuntimeError(f"warm-up runs ended {statuses}")


def study_timing(client, store, base: dict, n: int, parallelism: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A real Loom study; driver wall time, the trials' own run times, trials per minute."""
    from core.compute import TERMINAL
    from core.store import get_run
    from core.tuning import Param
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import start_study
    from core.tuning import study_runs

    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-3, 0.1, log=True),))
    spec = StudySpec(base, space.to_dict(), sampler="random", n_trials=n, parallelism=parallelism, seed=0)
    study_id, driver_id = start_study(client, store, spec, f"bench p={parallelism}", viewer=SYSTEM)
    deadline = time.monotonic() + 600
    while (driver := get_run(store, driver_id, viewer=SYSTEM)).status not in TERMINAL:
        if time.monotonic() > deadline:
            raise RuntimeError("the study did not finish within 10 minutes")
        time.sleep(0.2)
    if driver.status != "succeeded":
        raise RuntimeError(f"the study's driver ended {driver.status}: {driver.status_reason}")
    trials = [r for r in study_runs(store, study_id, viewer=SYSTEM) if r.kind == "train"]
    if len(trials) != n or any(r.status != "succeeded" for r in trials):
        raise RuntimeError(f"trials ended {[r.status for r in trials]}")
    wall = (driver.ended_at - driver.started_at).total_seconds()
    runs = sum((r.ended_at - r.started_at).total_seconds() for r in trials)
    if parallelism > 1 and len({r.worker for r in trials}) < 2:
        raise RuntimeError("the trials did not use both workers")
    ordered = sorted(trials, key=lambda r: r.started_at)
    # One trial at a time: the gap from a trial's end to the next one's start is everything Loom
    # does per trial (notice the end, record it, tell Optuna, ask, submit, dispatch, start).
    gaps = [(b.started_at - a.ended_at).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
    startup = (ordered[0].started_at - driver.started_at).total_seconds()
    return {
        "n": n,
        "wall_s": wall,
        "runs_s": runs,
        "per_min": n / wall * 60,
        "gaps": gaps,
        "startup_s": startup,
    }


def _total(studies: list[dict[str, float]]) -> dict[str, float]:
    wall = sum(t["wall_s"] for t in studies)
    runs = sum(t["runs_s"] for t in studies)
    n = sum(t["n"] for t in studies)
    return {
        "n": n,
        "wall_s": wall,
        "trial_s": runs / n,
        "per_min": n / wall * 60,
        "outside_ms": (wall - runs) * 1000 / n,
        "gap_ms": statistics.median(g for t in studies for g in t.get("gaps", [])) * 1000,
        "startup_s": statistics.median(t["startup_s"] for t in studies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (about a minute)")
    args = parser.parse_args()
    if args.quick:
        n_plain, reps, n_smoke, n_study, rounds, epochs = 100, 3, 20, 4, 2, 2
    else:
        n_plain, reps, n_smoke, n_study, rounds, epochs = 300, 5, 60, 8, 3, 3

    import optuna

    from core.config import AppConfig
    from core.store import open_store
    from core.tuning._storage import optuna_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="loom-bench-tuning-"))
    config = AppConfig.for_data_dir(tmp / "data")
    store = open_store(config)  # the store sets WAL on the file Optuna's RDB storage then uses

    per_trial = storages(config, tmp, n_plain, reps)
    plain_rounds: list[float] = []

    base = _base_spec(store, epochs)
    one_cluster, one_client = _cluster(1)
    two_cluster, two_client = _cluster(2)
    one: list[dict[str, float]] = []
    two: list[dict[str, float]] = []
    try:
        _warm(one_client, store, base)
        _warm(two_client, store, base)
        machinery = machinery_ms(one_client, store, n_smoke)
        # Interleaved rounds, alternating which goes first: this machine is shared and its load
        # drifts, so the two sides see the same conditions.
        for i in range(rounds):
            plain_rounds.append(_optimize_ms(optuna_storage(config), n_plain // 2))
            order = (1, 2) if i % 2 == 0 else (2, 1)
            for p in order:
                if p == 1:
                    one.append(study_timing(one_client, store, base, n_study, parallelism=1))
                else:
                    two.append(study_timing(two_client, store, base, n_study, parallelism=2))
    finally:
        for client, cluster in ((one_client, one_cluster), (two_client, two_cluster)):
            client.close()
            cluster.close()

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    tput1, tput2 = _total(one), _total(two)
    efficiency = tput2["per_min"] / (2 * tput1["per_min"])
    rounds_eff = [b["per_min"] / (2 * a["per_min"]) for a, b in zip(one, two, strict=True)]
    loom = tput1["gap_ms"]
    plain = statistics.median(plain_rounds)
    print(f"cores: {cores} (usable by this process: {usable})")
    print(
        f"trials: {n_plain} x {reps} per storage, {n_smoke} smoke, {rounds} rounds x {n_study} per study side"
    )
    print("-- storage (trivial optimize, random sampler, median ms per trial) --")
    print(f"optuna_rdb_sqlite_ms_per_trial: {per_trial['rdb']:.2f}")
    print(f"optuna_journal_file_ms_per_trial: {per_trial['journal']:.2f}")
    print(f"optuna_in_memory_ms_per_trial: {per_trial['memory']:.2f}")
    print(f"rdb_over_journal_ratio: {per_trial['rdb'] / per_trial['journal']:.2f}")
    print(f"-- throughput (iris MLP, {epochs} epochs, driver wall time) --")
    for label, t in (("p1_1worker", tput1), ("p2_2workers", tput2)):
        print(
            f"{label}: {t['per_min']:.1f} trials/min ({t['n']:.0f} in {t['wall_s']:.1f} s, "
            f"mean trial run {t['trial_s']:.2f} s)"
        )
    note = " (2 shared cores: no speed-up expected)" if (usable or 1) <= 2 else ""
    print(f"efficiency_per_round: {', '.join(f'{e:.2f}' for e in rounds_eff)}")
    print(f"parallel_efficiency: {efficiency:.2f}{note}")
    print("-- per-trial overhead (ms) --")
    print(
        f"plain_optimize_ms_per_trial: {plain:.1f} (median of {len(plain_rounds)}, one before each round: "
        f"{', '.join(f'{p:.1f}' for p in plain_rounds)})"
    )
    print(f"loom_machinery_ms_per_trial: {machinery:.1f} (ask, submit smoke run, run ends, tell)")
    print(f"loom_machinery_overhead_ms_per_trial: {machinery - plain:.1f}")
    print(
        f"loom_driver_outside_runs_ms_per_trial: {tput1['outside_ms']:.1f} (driver wall time minus the "
        f"trials' runs, per trial: includes the driver's start, {tput1['startup_s']:.2f} s, and end)"
    )
    print(f"loom_gap_between_trials_ms: {loom:.1f} (median, one trial at a time: end -> next start)")
    print(f"loom_gap_over_plain_ratio: {loom / plain:.2f} (a Loom trial's round trip / a plain Optuna trial)")
    print(f"elapsed_s: {time.monotonic() - started:.0f}")
    print(f"tuning_overhead_ms_per_trial: {loom - plain:.1f}")


if __name__ == "__main__":
    main()
