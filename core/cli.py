"""Headless Loom: the same path as the UI (store → Dask job → store), from a terminal.

    python -m core ingest FILE [--name NAME]
    python -m core train --config run.json
    python -m core tune --config study.json
    python -m core evaluate --run ID FILE_OR_DATASET   (score a run on another file or dataset)
    python -m core predict --run ID FILE [--out PREDICTIONS.csv]
    python -m core user add NAME [--email EMAIL]   (accounts, LOOM_AUTH=on; password from stdin)
    python -m core user list | passwd NAME | remove NAME
    python -m core team add TEAM | list | add-member TEAM USER | remove-member TEAM USER

``evaluate`` applies the run's fitted pipeline unchanged to the rows (a file is ingested first,
as ``ingest`` would), stores the metrics as an evaluation of the run and prints them; ``predict``
writes one CSV row of predictions per input row to stdout, or to ``--out``.

With accounts on, ``ingest``, ``train``, ``tune``, ``evaluate`` and ``predict`` act for one
user: ``--as NAME`` (its teams apply; another user's dataset and run IDs answer as missing).
``--team TEAM`` makes what they create visible to that team. With accounts off they act as
the local user, as the app does.

``run.json`` is a training spec as the Train page stores it (``{"type": "train", "pipeline":
..., "model": ..., "optimizer": ..., "epochs": ...}``), or a short form::

    {"dataset_id": "<id>", "target": "species", "task": "multiclass", "template": "mlp",
     "epochs": 20, "optimizer": {"name": "adam", "learning_rate": 0.001}, "backend": "jax"}

``"backend"`` (either form) is the Keras backend: ``tensorflow`` (the default), ``jax`` or
``torch``; a backend no worker has installed is refused before anything is submitted, with the
install command. ``"estimator": {"kind": "random_forest", "params": {"n_estimators": 200}}`` in
the short form trains a scikit-learn model instead of a template (kinds: dummy, linear,
random_forest, hist_gradient_boosting, knn, svm).

``study.json`` is a study spec (:meth:`core.tuning.StudySpec.to_dict`) plus an optional
``"name"``; its ``"base"`` is a training spec in either form above::

    {"name": "iris lr", "base": {"dataset_id": "<id>", "target": "species", "epochs": 10},
     "space": {"type": "search_space", "params": [{"path": "optimizer.learning_rate",
               "kind": "float", "low": 0.0001, "high": 0.1, "log": true}]},
     "n_trials": 20, "parallelism": 2, "sampler": "tpe"}

``tune`` prints a line whenever a trial finishes (trials finished out of ``n_trials``, the best
value so far) until the study's driver run ends; it exits 0 if the driver succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import AppError
from core.errors import SpecError

__all__ = ["main"]


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _spec_from_config(store, data: dict[str, Any], viewer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from core.data import get_dataset
    from core.models import cnn_template
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    if data.get("type") == "train":
        return TrainSpec.from_dict(data).to_dict()
    dataset = get_dataset(store, str(data["dataset_id"]), viewer=viewer)
    task = data.get("task", "multiclass")
    pipeline = default_pipeline(dataset.id, data["target"], dataset.profile, task)
    model: Any = cnn_template(task) if data.get("template") == "cnn" else mlp_template(task)
    if "estimator" in data:  # scikit-learn instead of a Keras template
        from core.models import EstimatorSpec

        estimator = data["estimator"]
        if not isinstance(estimator, dict):
            raise SpecError(
                '"estimator" is an object such as {"kind": "random_forest", "params": {"max_depth": 8}}, '
                f"but got estimator={estimator!r}."
            )
        model = EstimatorSpec(str(estimator.get("kind")), task, dict(estimator.get("params") or {}))
    return TrainSpec(
        pipeline=pipeline.to_dict(),
        model=model.to_dict(),
        optimizer=OptimizerSpec.from_dict(data.get("optimizer", {})).to_dict(),
        epochs=int(data.get("epochs", 5)),
        batch_size=int(data.get("batch_size", 32)),
        seed=int(data.get("seed", 0)),
        backend=str(data.get("backend", "tensorflow")),
    ).to_dict()


def _study_from_config(store, data: Any, viewer) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    from core.tuning import StudySpec

    if not isinstance(data, dict):
        raise SpecError(
            'A study config is a JSON object (a study spec plus an optional "name"), '
            f"but got a JSON {type(data).__name__}."
        )
    data = dict(data)
    name = data.pop("name", "")
    if not isinstance(name, str):
        raise SpecError(f'"name" must be a string, but got name={name!r}.')
    if data.get("type", "study") != "study":
        raise SpecError(f'A study config has "type": "study" (or none), but got type={data["type"]!r}.')
    base = data.get("base")
    if not isinstance(base, dict):
        raise SpecError(f'"base" must be a training spec (a JSON object), but got base={base!r}.')
    if "dataset_id" in base:  # the short form, as `train` accepts it
        data["base"] = _spec_from_config(store, base, viewer)
    return StudySpec.from_dict(data), name


def _pareto_size(values: list[list[float]], directions: list[str]) -> int:
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    points = [[s * v for s, v in zip(signs, vals, strict=True)] for vals in values]

    def dominated(p: list[float]) -> bool:
        return any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for q in points)

    return sum(1 for p in points if not dominated(p))


def _study_progress(trials: list[Any], spec: Any) -> str:
    from optuna.trial import TrialState

    finished = [t for t in trials if t.state.is_finished()]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    # A trial whose worker died is failed and retried as a new trial that takes its place.
    retries = sum(1 for t in trials if "retry_of" in t.user_attrs)
    counts = {
        state: sum(1 for t in finished if t.state == state)
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    line = (
        f"trials {max(0, len(finished) - retries)}/{spec.n_trials} finished "
        f"({counts[TrialState.COMPLETE]} complete, {counts[TrialState.PRUNED]} pruned, "
        f"{counts[TrialState.FAIL]} failed), {running} running"
    )
    if complete and len(spec.objectives) == 1:
        objective = spec.objectives[0]
        pick = min if objective.direction == "minimize" else max
        best = pick(complete, key=lambda t: t.values[0])
        line += f", best {objective.metric}={best.values[0]:.4g} (trial {best.number})"
    elif complete:
        size = _pareto_size([list(t.values) for t in complete], spec.directions)
        line += f", Pareto front: {size} trial(s)"
    return line


def _follow_study(store, study_id: str, run_id: str, spec: Any) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run
    from core.store import thaw
    from core.tuning import load_optuna_study

    study = load_optuna_study(store.config, study_id)
    shown = ""
    while True:
        # The driver's status first: once it has ended, the trials read next are final.
        run = get_run(store, run_id, viewer=SYSTEM)
        line = _study_progress(study.get_trials(deepcopy=False), spec)
        if line != shown:
            _out(line)
            shown = line
        if run.status in TERMINAL:
            break
        time.sleep(1.0)
    _out(f"{run.status}: {run.status_reason}")
    if run.result.raw:
        _out(json.dumps(thaw(run.result.raw)))
    return 0 if run.status == "succeeded" else 1


def _follow(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import get_run

    shown = 0
    while True:
        run = get_run(store, run_id, viewer=SYSTEM)
        epochs = get_metrics(store, run_id, viewer=SYSTEM)
        loss = epochs.get("epoch/loss")
        while loss and shown < len(loss.steps):
            parts = [f"epoch {loss.steps[shown]}"] + [
                f"{k.split('/')[1]}={s.values[shown]:.4g}"
                for k, s in sorted(epochs.items())
                if k.startswith("epoch/") and len(s.values) > shown and k != "epoch/samples_per_s"
            ]
            _out("  ".join(parts))
            shown += 1
        if run.status in TERMINAL:
            _out(f"{run.status}: {run.status_reason}")
            if run.result.evaluation:
                _out(json.dumps(dict(run.result.evaluation)))
            return 0 if run.status == "succeeded" else 1
        time.sleep(0.5)


def _wait(store, run_id: str) -> Any:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run

    while (run := get_run(store, run_id, viewer=SYSTEM)).status not in TERMINAL:
        time.sleep(0.5)
    return run


def _evaluate(store, client, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.compute import submit_run
    from core.data import detect_format
    from core.data import get_dataset
    from core.data import ingest_file
    from core.store import get_run
    from core.training import EvaluateSpec

    get_run(store, args.run, viewer=viewer)  # a run the user may not see answers as missing
    source = Path(args.rows)
    if source.is_file():
        dataset = ingest_file(
            store, source, detect_format(source.name), source.name, author=viewer.name, team=args.team
        )
        _out(f"dataset {dataset.id}: {dataset.name}, {dataset.n_rows} rows, {dataset.n_cols} columns")
    else:
        dataset = get_dataset(store, args.rows, viewer=viewer)
    spec = EvaluateSpec(args.run, dataset.id)
    run_id = submit_run(
        client,
        store,
        "evaluate",
        spec.to_dict(),
        viewer=viewer,
        team=args.team,
        name=f"evaluation on {dataset.name}"[:200],
        dataset_id=dataset.id,
        parent_id=args.run,
        parent_kind="evaluated",
    )
    _out(f"evaluation {run_id} submitted")
    run = _wait(store, run_id)
    _out(f"{run.status}: {run.status_reason}")
    if run.status != "succeeded":
        return 1
    _out(json.dumps(dict(run.result.evaluation)))
    return 0


def _predict(store, client, args, viewer) -> int:  # type: ignore[no-untyped-def]
    import pandas as pd

    from core.compute import submit_run
    from core.data import detect_format
    from core.data import save_upload
    from core.formatting import csv_bytes
    from core.store import get_run
    from core.training import PredictSpec

    get_run(store, args.run, viewer=viewer)
    source = Path(args.rows)
    if not source.is_file():
        _out(f"error: {source} is not a file of rows")
        return 2
    fmt = detect_format(source.name)
    with source.open("rb") as fh:
        upload = save_upload(store, fh, source.name, viewer=viewer)
    spec = PredictSpec(model_run=args.run, rows_upload=upload, rows_format=fmt)
    run_id = submit_run(
        client,
        store,
        "predict",
        spec.to_dict(),
        viewer=viewer,
        team=args.team,
        name="prediction",
        parent_id=args.run,
        parent_kind="predicted",
    )
    run = _wait(store, run_id)
    if run.status != "succeeded":
        sys.stderr.write(f"{run.status}: {run.status_reason}\n")
        return 1
    data = csv_bytes(pd.read_parquet(store.path_for("predictions", run_id, ".parquet")))
    if args.out:
        args.out.write_bytes(data)
        predicted = run.result.prediction.predicted if run.result.prediction else 0
        sys.stderr.write(f"{predicted} rows predicted: {args.out}\n")
    else:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    return 0


def _password() -> str:
    """The password from the terminal (hidden) or one line of stdin, never an argument
    (arguments land in shell history and process lists)."""
    import getpass

    return getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")


def _user(store, action: str, name: str | None, email: str | None) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    if action == "list":
        for user in sharing.list_users(store):
            _out(user)
        return 0
    if not name:
        _out(f"error: give the user's name: python -m core user {action} NAME")
        return 2
    if action == "add":
        sharing.create_user(store, name, _password(), email=email)
        _out(f"user {name.strip().lower()} added")
    elif action == "passwd":
        sharing.set_password(store, name, _password())
        _out(f"password of {name.strip().lower()} changed; their sessions ended")
    else:
        sharing.remove_user(store, name)
        _out(f"user {name.strip().lower()} removed (what they made stays)")
    return 0


def _team(store, action: str, names: list[str]) -> int:  # type: ignore[no-untyped-def]
    from core import sharing

    wanted = {"add": 1, "list": 0, "add-member": 2, "remove-member": 2}[action]
    if len(names) != wanted:
        usage = {"add": "TEAM", "list": "", "add-member": "TEAM USER", "remove-member": "TEAM USER"}[action]
        _out(f"error: python -m core team {action} {usage}".rstrip())
        return 2
    if action == "list":
        for team, members in sharing.list_teams(store).items():
            _out(f"{team}: {', '.join(members) or '(no members)'}")
    elif action == "add":
        _out(f"team {sharing.create_team(store, names[0])} added")
    elif action == "add-member":
        sharing.add_member(store, names[0], names[1])
        _out(f"{names[1]} is in team {names[0]}")
    else:
        sharing.remove_member(store, names[0], names[1])
        _out(f"{names[1]} left team {names[0]}")
    return 0


def _viewer(store, config, acting_as: str | None):  # type: ignore[no-untyped-def]
    """Who the CLI acts for: ``--as NAME`` with accounts on, else the local user."""
    from core import sharing
    from core.errors import NotFoundError

    if not config.auth:
        return sharing.local_viewer()
    if not acting_as:
        raise SpecError("Accounts are on (LOOM_AUTH=on): say who this is for with --as NAME.")
    name = acting_as.strip().lower()
    if name not in sharing.list_users(store):
        raise NotFoundError(f"There is no user {name[:40]!r}. Add it with `python -m core user add {name}`.")
    return sharing.viewer_for(store, name)


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Loom without a browser.")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="add a dataset from a file")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--name", default=None)
    train = sub.add_parser("train", help="train a model on the cluster and print its progress")
    train.add_argument("--config", type=Path, required=True)
    tune = sub.add_parser("tune", help="run an Optuna study on the cluster and print its progress")
    tune.add_argument("--config", type=Path, required=True)
    evaluate = sub.add_parser("evaluate", help="score a finished run on another file or dataset")
    evaluate.add_argument("--run", required=True, help="the training run's ID")
    evaluate.add_argument("rows", metavar="FILE_OR_DATASET", help="a file to ingest, or a dataset ID")
    predict = sub.add_parser("predict", help="predict with a finished run on a file of rows (CSV out)")
    predict.add_argument("--run", required=True, help="the training run's ID")
    predict.add_argument("rows", metavar="FILE")
    predict.add_argument("--out", type=Path, default=None, help="write the CSV here (default: stdout)")
    for command in (ingest, train, tune, evaluate, predict):
        command.add_argument("--as", dest="acting_as", default=None, help="the user (accounts on)")
        command.add_argument("--team", default="", help="the team that may see it (default: private)")
    user = sub.add_parser("user", help="manage accounts (used when LOOM_AUTH=on)")
    user.add_argument("action", choices=["add", "list", "passwd", "remove"])
    user.add_argument("name", nargs="?")
    user.add_argument("--email", default=None, help="single sign-on identity of this account")
    sub.add_parser("migrate", help="bring the store's schema to this Loom's version")
    team = sub.add_parser("team", help="manage teams (used when LOOM_AUTH=on)")
    team.add_argument("action", choices=["add", "list", "add-member", "remove-member"])
    team.add_argument("names", nargs="*")
    args = parser.parse_args(argv)

    from core.compute import create_client
    from core.compute import submit_run
    from core.config import get_config
    from core.store import open_store
    from core.store import redact_url

    try:
        config = get_config()
        store = open_store(config)  # migrates: all `migrate` has to do
        if args.command == "migrate":
            _out(f"store at {redact_url(config.database_url)} is at this Loom's schema version")
            return 0
        if args.command == "user":
            return _user(store, args.action, args.name, args.email)
        if args.command == "team":
            return _team(store, args.action, args.names)
        viewer = _viewer(store, config, args.acting_as)
        viewer.require_create(args.team)
        if args.command == "ingest":
            from core.data import detect_format
            from core.data import ingest_file

            dataset = ingest_file(
                store,
                args.file,
                detect_format(args.file.name),
                args.name or args.file.name,
                author=viewer.name,
                team=args.team,
            )
            _out(f"dataset {dataset.id}: {dataset.name}, {dataset.n_rows} rows, {dataset.n_cols} columns")
            return 0
        if args.command in ("evaluate", "predict"):
            handler = _evaluate if args.command == "evaluate" else _predict
            return handler(store, create_client(config), args, viewer)
        try:
            data = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            _out(f"error: cannot read {args.config}: {exc}")
            return 2
        if args.command == "tune":
            from core.tuning import start_study

            study_spec, name = _study_from_config(store, data, viewer)
            client = create_client(config)
            study_id, run_id = start_study(
                client, store, study_spec, name or f"cli {args.config.name}", viewer=viewer, team=args.team
            )
            _out(f"study {study_id} submitted (driver run {run_id})")
            return _follow_study(store, study_id, run_id, study_spec)
        spec = _spec_from_config(store, data, viewer)
        client = create_client(config)
        from core.training import check_backend

        check_backend(client, spec.get("backend", "tensorflow"))  # before anything is stored
        run_id = submit_run(
            client,
            store,
            "train",
            spec,
            viewer=viewer,
            team=args.team,
            name=f"cli {args.config.name}",
            dataset_id=spec.get("pipeline", {}).get("dataset_id"),
        )
        _out(f"run {run_id} submitted")
        return _follow(store, run_id)
    except (AppError, KeyError) as exc:
        _out(f"error: {exc}")
        return 2
