"""Experiments at scale: N runs (default 100,000) in 20 projects of 10 users in 3 teams, in a
store on SQLite or PostgreSQL; the time to list a filtered, sorted page (the query and the whole
Experiments page script) as the local user (accounts off) and as a signed-in user with accounts
on (``u00``: two teams' runs, roles in three projects, their own runs), with each list query's
plan checked for a full read of the runs table (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
EXPLAIN ANALYZE); to compare 10 runs (the query and the whole Compare page script) — beside a
baseline that loads every run into pandas and filters there, as a naive tracker would, in the
same run. Then a study of ``--trials`` finished trials: the whole Tune page script with each of
its charts, opened in a fresh session.

    python bench/experiments_scale.py [--quick] [--runs 1000000] [--trials 10000] [--points 20]
        [--postgres | --database-url URL] [--plans] [--keep DIR]

``--quick``: 20,000 runs, 300 trials, fewer repetitions. ``--postgres`` starts a throwaway
PostgreSQL server as the tests do (initdb and pg_ctl from the system's packages). The rows are
written through the driver in chunks (COPY on PostgreSQL), their columns generated with numpy.
Targets (issues 8, 16 and 28): <= 1 s each, at 1,000,000 runs and 10,000 trials. Prints
``experiments_page_<N>_s`` (the slower viewer) and ``tune_page_<N>_trials_s`` (the slowest chart);
the last line is ``experiments_page_seconds: N`` (the slowest of the list, compare and Tune pages).

``--keep DIR``: keep the seeded store (SQLite's data directory, or the throwaway PostgreSQL
server's cluster) under ``DIR``, in a folder named by the seed's parameters, and reuse it on a
later run with the same parameters (seeding 1,000,000 runs takes minutes; the migrations of the
code under test still run on the reused store).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import SYSTEM  # noqa: E402 - after the path is set

# Who works in the seeded store: 10 users in 3 teams with 20 projects (some a team's, some a
# user's); the runs are spread over them as a team's work is. The signed-in viewer is ``u00``.
USERS = tuple(f"u{i:02d}" for i in range(10))
TEAMS = ("vision", "nlp", "tabular")
SIGNED_IN = "u00"


def seed_people(store) -> tuple[list[tuple[str, str, str]], object]:  # type: ignore[no-untyped-def]
    """Users, teams and 20 projects; ``u00`` also gets an explicit role in three projects of
    others. Returns each project's (id, owner, team) and the signed-in viewer."""
    from core.sharing import add_member
    from core.sharing import create_project
    from core.sharing import create_team
    from core.sharing import create_user
    from core.sharing import set_project_role
    from core.sharing import viewer_for

    for name in USERS:
        create_user(store, name, f"{name}-password-123")
    for team in TEAMS:
        create_team(store, team)
    for i, name in enumerate(USERS):  # each user in one team, every third also in a second
        add_member(store, TEAMS[i % 3], name)
        if i % 3 == 0 and i:
            add_member(store, TEAMS[(i + 1) % 3], name)
    projects = []
    for p in range(20):
        owner = USERS[1 + p % 9]  # u00 owns none: it sees through teams, roles and its own runs
        viewer = viewer_for(store, owner)
        team = viewer.teams[0] if p % 2 == 0 else ""  # half the projects are a team's
        pid = create_project(store, f"project {p}", viewer=viewer, team=team)
        projects.append((pid, owner, team))
        if p in (3, 7, 11):
            set_project_role(store, pid, SIGNED_IN, ("viewer", "member", "admin")[p % 3], viewer=viewer)
    return projects, viewer_for(store, SIGNED_IN)


def seed(store, n_runs: int, points: int, projects) -> list[str]:  # type: ignore[no-untyped-def]
    """Finished training runs with ``points`` epoch/val_loss points each (and their summaries),
    in the projects given, written in chunks straight through the driver (COPY on PostgreSQL,
    executemany on SQLite), their columns generated with numpy."""
    import json

    import numpy as np

    from core.store import Metric
    from core.store import Run
    from core.store import RunSummary
    from core.store import utcnow

    postgres = store.engine.dialect.name == "postgresql"
    now = utcnow()

    def when(seconds_ago: np.ndarray) -> list:  # type: ignore[type-arg]
        stamps = [now - timedelta(seconds=int(x)) for x in seconds_ago]
        if postgres:
            return stamps
        return [t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in stamps]

    def write(cursor, table, columns: list[str], rows: list[tuple]) -> None:  # type: ignore[no-untyped-def]
        names = ", ".join(f'"{c}"' for c in columns)
        if postgres:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)

    specs = [
        json.dumps({"type": "train", "epochs": points, "optimizer": {"learning_rate": 10**-k}})
        for k in range(4)
    ]
    rng = np.random.default_rng(0)
    ids: list[str] = []
    run_cols = [c.name for c in Run.__table__.columns]
    chunk = 50_000
    for start in range(0, n_runs, chunk):
        n = min(n_runs, start + chunk) - start
        i = np.arange(start, start + n)
        hexes = os.urandom(16 * n).hex()  # random IDs, as new_id's
        run_ids = [hexes[k : k + 32] for k in range(0, 32 * n, 32)]
        ids += run_ids
        final = rng.uniform(0.05, 2.0, size=n)
        project = rng.integers(0, len(projects), size=n)
        own = rng.random(n) < 0.7  # most runs by the project's owner, the rest by anyone
        authors = [
            projects[p][1] if o else USERS[u]
            for p, o, u in zip(project, own, rng.integers(0, 10, n), strict=True)
        ]
        teams = [projects[p][2] for p in project]
        created = when(n_runs - i)
        ended = when(np.zeros(n))
        false_ = False if postgres else 0
        columns = {
            "id": run_ids,
            "kind": ["train"] * n,
            "name": [f"run {k} {'cnn' if k % 3 == 0 else 'mlp'}" for k in i],
            "status": [("succeeded", "failed", "stopped")[k % 3] for k in i],
            "status_reason": [""] * n,
            "stop_requested": [false_] * n,
            "spec_json": [specs[k % 4] for k in i],
            "spec_hash": ["0" * 64] * n,
            "dataset_id": [None] * n,
            "pipeline_id": [None] * n,
            "study_id": [None] * n,
            "parent_id": [None] * n,
            "parent_kind": [""] * n,
            "group_id": [None] * n,
            "author": authors,
            "team": teams,
            "archived": [false_] * n,
            "project_id": [projects[p][0] for p in project],
            "worker": [""] * n,
            "attempts": [1] * n,
            "started_at": created,
            "ended_at": ended,
            "heartbeat_at": [None] * n,
            "progress": [1.0] * n,
            "result_json": ["{}"] * n,
            "deleted_at": [None] * n,
            "deleted_by": [""] * n,
            "created_at": created,
        }
        missing = set(run_cols) - set(columns)
        if missing:
            raise SystemExit(f"the bench does not fill the runs' columns {missing}: add them")
        steps = np.arange(1, points + 1)
        values = final[:, None] + 1.0 / steps[None, :]  # a falling curve ending near `final`
        with store.engine.begin() as conn:
            cursor = conn.connection.cursor()
            write(cursor, Run.__table__, run_cols, list(zip(*(columns[c] for c in run_cols), strict=True)))
            write(
                cursor,
                RunSummary.__table__,
                ["run_id", "key", "last", "min", "max", "points"],
                list(
                    zip(
                        run_ids,
                        ["epoch/val_loss"] * n,
                        values[:, -1].tolist(),
                        values.min(1).tolist(),
                        values.max(1).tolist(),
                        [points] * n,
                        strict=True,
                    )
                ),  # fmt: skip
            )
            if points:
                write(
                    cursor,
                    Metric.__table__,
                    ["run_id", "key", "step", "value", "ts"],
                    list(
                        zip(
                            np.repeat(run_ids, points).tolist(),
                            ["epoch/val_loss"] * (n * points),
                            np.tile(steps, n).tolist(),
                            values.ravel().tolist(),
                            (1000.0 + np.tile(steps, n)).tolist(),
                            strict=True,
                        )
                    ),  # fmt: skip
                )
    if postgres:  # what autovacuum does soon after a bulk load (SQLite has no such thing): the
        # statistics, and the visibility map that lets index-only scans skip the table
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:  # the planner's statistics, as open_store gathers them when a process opens the store
        from core.store._db import refresh_statistics

        refresh_statistics(store.engine)
    return ids


def seed_study(store, n_trials: int) -> str:  # type: ignore[no-untyped-def]
    """A finished study of ``n_trials`` trials over four settings (most complete, some pruned
    or failed, ten epochs of intermediate values each), added to Optuna's storage directly."""
    import optuna

    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import Study
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import create_study
    from core.tuning import load_optuna_study
    from core.tuning import tunable

    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=10,
        batch_size=16,
    ).to_dict()
    params = [
        p for p in tunable(base) if p.path in ("optimizer.learning_rate", "optimizer.name", "batch_size")
    ]
    params += [p for p in tunable(base) if p.path.startswith("model.")][:1]
    space = SearchSpace(tuple(params))
    study_id = create_study(
        store, StudySpec(base, space.to_dict(), n_trials=n_trials), f"{n_trials:,} trials", viewer=SYSTEM
    )
    study = load_optuna_study(store.config, study_id)
    rng = random.Random(2)
    dists = space.distributions()
    trials = []
    for number in range(n_trials):
        values = {}
        for p in params:
            if p.kind == "categorical":
                values[p.path] = rng.choice(list(p.choices))
            elif p.kind == "int":
                values[p.path] = rng.randint(int(p.low), int(p.high))
            else:
                values[p.path] = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
        loss = abs(math.log10(values["optimizer.learning_rate"]) + 2) + rng.random() * 0.3
        state = rng.choices(["COMPLETE", "PRUNED", "FAIL"], [0.9, 0.06, 0.04])[0]
        epochs = 10 if state == "COMPLETE" else rng.randint(1, 9)
        start = datetime(2026, 1, 1) + timedelta(seconds=30 * number)
        trials.append(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                value=loss if state == "COMPLETE" else None,
                params=values,
                distributions=dists,
                intermediate_values={e: loss + 1 / e for e in range(1, epochs + 1)}
                if state != "FAIL"
                else {},
                user_attrs={"phase": 1, "loom_run": "", "outcome": state.lower()},
            )
        )
        trials[-1].datetime_start, trials[-1].datetime_complete = start, start + timedelta(seconds=25)
    study.add_trials(trials)
    with store.session(SYSTEM) as s:
        s.get(Study, study_id).status = "succeeded"
    return study_id


class _Printed(list):  # type: ignore[type-arg]
    """The figures, each printed as it is measured (a later failure keeps those before it)."""

    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)

    def __iadd__(self, lines):  # type: ignore[no-untyped-def, override]
        for line in lines:
            self.append(line)
        return self


def _median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _postgres_url(args, kept: Path | None) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    """The database to seed: ``--database-url``, or a throwaway PostgreSQL server started as the
    test suite starts one (tests/conftest.py), or "" for SQLite in the data directory. With
    ``kept`` (``--keep``), the server's cluster lives there and is started again on a later run."""
    if args.database_url:
        return args.database_url, None
    if not args.postgres:
        return "", None
    from tests.conftest import _Postgres

    if kept is None:
        server = _Postgres()
        return server.new_database(), server
    return _kept_postgres(_Postgres, kept)


def _kept_postgres(base, root: Path) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    """A PostgreSQL server whose cluster stays in ``root`` (created on first use); its stop
    leaves the cluster there."""
    import shutil

    from sqlalchemy import create_engine
    from sqlalchemy import text

    from tests.conftest import _pg_bin
    from tests.conftest import free_port

    class Kept(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:  # the parent's, with a fixed root and no rmtree at stop
            self.pg_ctl = _pg_bin("pg_ctl")
            self.root = root
            self.datadir = root / "data"
            self.port = free_port()
            self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            fresh = not self.datadir.exists()
            root.mkdir(parents=True, exist_ok=True)
            if self.prefix:
                shutil.chown(root, "postgres")
            if fresh:
                self._run(
                    [_pg_bin("initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "loom", "--no-sync"]
                )
            options = f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            self._run(
                [self.pg_ctl, "-D", str(self.datadir), "-l", str(root / "log"), "-w", "-o", options, "start"]
            )
            if fresh:
                engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.execute(text('CREATE DATABASE "loom_bench"'))
                engine.dispose()

        def stop(self) -> None:
            self._run([self.pg_ctl, "-D", str(self.datadir), "-m", "fast", "stop"])

    server = Kept()
    return server.url("loom_bench"), server


def _plan(store, run, viewer) -> tuple[list[str], bool]:  # type: ignore[no-untyped-def]
    """The plans of the list's count and page queries (the statements ``run`` sends, as the scope
    hook wrote them for ``viewer``): SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN ANALYZE.
    And whether the runs table is read through indexes (no full scan of it). SQLite's walk of
    an index in the ORDER BY's order (``SCAN runs USING INDEX``, no temporary B-tree for the
    ORDER BY) under a LIMIT stops at the page, so it is no full read."""
    from sqlalchemy import event

    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    count = next(((s, p) for s, p in sent if "count(*)" in s), None)  # none when the page counts
    page = next((s, p) for s, p in sent if "ORDER BY" in s and "LIMIT" in s)
    postgres = store.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
    lines: list[str] = []
    full_scan = False
    for what, (statement, parameters) in [("count", count), ("page", page)] if count else [("page", page)]:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        plan = [str(r[0]) if postgres else str(r[-1]) for r in rows]
        lines += [f"{what}: {line}" for line in plan]
        if postgres:  # a sequential scan that read (or removed) at least half the runs
            with store.engine.connect() as conn:
                runs = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'runs'").scalar()
            for i, ln in enumerate(plan):
                if "Seq Scan on runs" in ln:
                    read = sum(int(n) for n in re.findall(r"actual time=\S+ rows=(\d+)", ln))
                    removed = re.search(r"Rows Removed by Filter: (\d+)", " ".join(plan[i + 1 : i + 3]))
                    read += int(removed.group(1)) if removed else 0
                    full_scan = full_scan or read >= 0.5 * float(runs or 0)
        else:
            # A scan, or a "search" on the trash column alone (every run is out of the trash):
            # both read every row, unless a LIMIT stops them: the capped count's read stops at
            # its cap, and the page's walk of its sort's index at the page (when nothing sorts).
            stops = "LIMIT" in statement and not any("TEMP B-TREE FOR ORDER BY" in ln for ln in plan)
            full_scan = full_scan or any(
                ln.strip().startswith(("SCAN runs", "SEARCH runs USING INDEX ix_runs_deleted_at"))
                and not stops
                for ln in plan
            )
    return lines, not full_scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 runs, 300 trials, fewer repetitions")
    parser.add_argument("--runs", type=int, default=None, help="runs to seed (default 100,000)")
    parser.add_argument("--trials", type=int, default=None, help="trials of the study (default 1,000)")
    parser.add_argument("--points", type=int, default=20, help="metric points per run (default 20)")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server")
    parser.add_argument("--database-url", default="", help="on this (empty) database instead")
    parser.add_argument("--plans", action="store_true", help="print the list query's plans in full")
    parser.add_argument("--no-tune", action="store_true", help="leave out the study and its Tune page")
    parser.add_argument("--keep", type=Path, default=None, help="keep the seeded store here and reuse it")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    n_runs = args.runs or (20_000 if args.quick else 100_000)
    n_trials = args.trials or (300 if args.quick else 1000)
    points = args.points
    if args.no_tune:
        n_trials = 0
    kept = None
    if args.keep is not None and not args.database_url:
        database = "postgresql" if args.postgres else "sqlite"
        kept = args.keep.resolve() / f"{database}-{n_runs}runs-{points}points-{n_trials}trials"
        kept.mkdir(parents=True, exist_ok=True)

    url, server = _postgres_url(args, kept / "postgres" if kept and args.postgres else None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(
                LOOM_DATA_DIR=str((kept or Path(tmp)) / "data"),
                LOOM_DASK_PROCESSES="false",
                LOOM_DASK_WORKERS="1",
                LOOM_AUTH="off",
            )
            if url:
                os.environ["LOOM_DATABASE_URL"] = url
            figures = _measure(n_runs, n_trials, points, repeats, args.plans, kept)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    del figures  # printed as measured


def _measure(  # type: ignore[no-untyped-def]
    n_runs: int, n_trials: int, points: int, repeats: int, show_plans: bool, kept: Path | None
) -> list[str]:
    import pandas as pd
    from sqlalchemy import select

    from core.config import get_config
    from core.experiments import SORTS
    from core.experiments import ExperimentQuery
    from core.experiments import compare_runs
    from core.experiments import list_experiments
    from core.sharing import local_viewer
    from core.store import Run
    from core.store import RunSummary
    from core.store import open_store

    store = open_store(get_config())
    database = store.engine.dialect.name
    marker = kept / "seeded.txt" if kept else None
    if marker is not None and marker.exists():  # --keep: seeded by an earlier run
        from core.sharing import viewer_for
        from core.store import Study

        with store.session(SYSTEM) as s:
            ids = list(s.scalars(select(Run.id).limit(1000)))
            study_id = s.scalar(select(Study.id).limit(1)) or ""
        signed_in = viewer_for(store, SIGNED_IN)
        print(f"reused: the store seeded earlier in {kept} ({marker.read_text().strip()})")
    else:
        t0 = time.perf_counter()
        projects, signed_in = seed_people(store)
        ids = seed(store, n_runs, points, projects)
        print(f"seeded: {n_runs:,} runs x {points} points on {database} in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        study_id = seed_study(store, n_trials) if n_trials else ""
        print(f"seeded: a study of {n_trials:,} trials in {time.perf_counter() - t0:.1f} s")
        if marker is not None:
            marker.write_text(f"{n_runs:,} runs x {points} points, {n_trials:,} trials, on {database}\n")
    query = ExperimentQuery(statuses=("succeeded",), sort="metric", descending=False, metric_max=1.5, page=2)
    viewers = {"local": local_viewer(), "signed_in": signed_in}
    out = _Printed()
    out.append(f"database: {database}; {n_runs:,} runs in 20 projects of 10 users in 3 teams")

    def naive() -> None:  # what a tracker without a query builder does: everything into pandas
        with store.session(SYSTEM) as s:
            runs = pd.read_sql(select(Run.id, Run.name, Run.status, Run.created_at), s.connection())
            summary = pd.read_sql(
                select(RunSummary.run_id, RunSummary.last).where(RunSummary.key == "epoch/val_loss"),
                s.connection(),
            )
        frame = runs.merge(summary, left_on="id", right_on="run_id", how="left")
        frame = frame[(frame.status == "succeeded") & (frame["last"] <= 1.5)].sort_values("last")
        frame.iloc[50:100]

    list_query = {}
    for who, viewer in viewers.items():

        def listed(v=viewer, q=query):  # type: ignore[no-untyped-def]
            # As the page asks: counted up to the page's last row (the page reads one more).
            return list_experiments(store, q, viewer=v, count_limit=q.page * q.page_size)

        t0 = time.perf_counter()
        found = list_experiments(store, query, viewer=viewer)[1]
        exact = time.perf_counter() - t0
        list_query[who] = _median_time(listed, repeats)
        plan, indexed = _plan(store, listed, viewer)
        out.append(
            f"list_query_s[{who}]: {list_query[who]:.3f} (page 2 of {found:,} matches, counted up to "
            f"the page; the runs table read {'through indexes' if indexed else 'IN FULL'})"
        )
        out.append(f"exact_count_query_s[{who}]: {exact:.3f} (the page's 'Count all matches')")
        if show_plans or not indexed:
            out += [f"  plan[{who}]: {line}" for line in plan]
        # The first page of every sort, both directions, with the page's default filters.
        slowest, worst = 0.0, ""
        for sort in SORTS:
            for descending in (True, False):
                q = ExperimentQuery(sort=sort, descending=descending)
                seconds = _median_time(lambda v=viewer, q=q: listed(v, q), max(1, repeats - 2))
                plan, indexed = _plan(store, lambda v=viewer, q=q: listed(v, q), viewer)
                if seconds > slowest:
                    slowest, worst = seconds, f"{sort} {'desc' if descending else 'asc'}"
                if not indexed:
                    out.append(f"  sort {sort} (descending={descending}) read the runs table IN FULL")
                    out += [f"  plan[{who}]: {line}" for line in plan]
        out.append(f"list_query_every_sort_s[{who}]: {slowest:.3f} (the slowest first page: {worst})")
    naive_list = _median_time(naive, max(1, repeats - 2))
    out.append(f"naive_pandas_list_s: {naive_list:.3f} (every run into pandas, then filter and sort)")
    out.append(f"list_speedup_vs_pandas: {naive_list / list_query['local']:.1f}x")
    chosen = random.Random(1).sample(ids, 10)
    compare_query = _median_time(lambda: compare_runs(store, chosen, viewer=SYSTEM), repeats)
    out.append(f"compare_query_s: {compare_query:.3f} (10 runs, curves, diff, table)")

    from streamlit.testing.v1 import AppTest

    def page(path: str, **params: str) -> float:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page(path)
        for k, v in params.items():
            at.query_params[k] = v
        t0 = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        return elapsed

    list_params = dict(query.to_params())
    page("pages/experiments.py", **list_params)  # warm: imports, store, cached cluster
    list_page = {
        "local": statistics.median(page("pages/experiments.py", **list_params) for _ in range(repeats))
    }
    # Accounts on: u00 signs in once; each later run of the page is what they wait for.
    os.environ["LOOM_AUTH"] = "on"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.text_input(key="sign_in_name").set_value(SIGNED_IN)
    at.text_input(key="sign_in_password").set_value(f"{SIGNED_IN}-password-123")
    next(b for b in at.button if "sign_in" in (b.key or "")).click().run()
    at.run()
    at.switch_page("pages/experiments.py")
    for k, v in list_params.items():
        at.query_params[k] = v
    signed_times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        at.run()
        signed_times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    list_page["signed_in"] = statistics.median(signed_times[1:])
    os.environ["LOOM_AUTH"] = "off"
    for who, seconds in list_page.items():
        out.append(f"list_page_script_s[{who}]: {seconds:.3f} (the Experiments page, whole script)")
    compare_params = {"runs": ",".join(chosen), "metric": "epoch/val_loss"}
    page("pages/compare.py", **compare_params)
    compare_page = statistics.median(page("pages/compare.py", **compare_params) for _ in range(repeats))
    out.append(f"compare_page_script_s: {compare_page:.3f} (the Compare page, whole script)")
    from core.charts import study_chart_titles

    tune, first_draw = {}, {}
    for title in study_chart_titles(["val_loss"]) if study_id else []:
        # The first view draws the chart (and the first one reads every trial); later views
        # of the same trials, in any session, reuse the drawing.
        first_draw[title] = page("pages/tune.py", study=study_id, chart=title)
        tune[title] = statistics.median(
            page("pages/tune.py", study=study_id, chart=title) for _ in range(max(1, repeats - 2))
        )
    for title, seconds in tune.items():
        out.append(f"tune_page_s[{title}]: {seconds:.3f} (first draw {first_draw[title]:.3f})")
    slowest_list = max(list_page.values())
    label = f"{n_runs // 1_000_000}m" if n_runs >= 1_000_000 else f"{n_runs // 1000}k"
    out.append(
        f"experiments_page_{label}_s: {slowest_list:.3f} (Experiments page, {n_runs:,} runs, slower viewer)"
    )
    if tune:
        out.append(f"tune_page_{n_trials}_trials_s: {max(tune.values()):.3f} (the Tune page, slowest chart)")
    slower = max(slowest_list, compare_page, *tune.values())
    load = os.getloadavg()[0]
    out.append(f"load_average_1m: {load:.2f} on {os.cpu_count()} cores")
    out.append(f"target: <= 1 s each ({'met' if slower <= 1 else 'NOT met'})")
    out.append(f"experiments_page_seconds: {slower:.3f}")
    return out


if __name__ == "__main__":
    main()
