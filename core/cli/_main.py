"""The argument parser and the dispatch to each command's module."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from core.cli import _accounts
from core.cli import _baselines
from core.cli import _data
from core.cli import _listing
from core.cli import _observe
from core.cli import _ops
from core.cli import _projects
from core.cli import _training
from core.cli import _tuning
from core.cli._common import WORKERS_LOG
from core.cli._common import err
from core.cli._common import out
from core.cli._common import set_quiet
from core.errors import AppError


def _output_options(parser: argparse.ArgumentParser, default: object) -> None:
    # Before or after the command (`python -m core --debug ingest f` or `... ingest f --debug`);
    # the subcommand's copy defaults to SUPPRESS so it does not undo the one before it.
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help=f"show the frameworks' and Dask's log lines (default: off; a cluster this command "
        f"starts writes them to <data dir>/{WORKERS_LOG})",
    )
    parser.add_argument(
        "--debug", action="store_true", default=default, help="print the traceback of an error"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Loom without a browser.")
    _output_options(parser, False)
    common = argparse.ArgumentParser(add_help=False)
    _output_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", parents=[common], help="add a dataset from a file")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--name", default=None)
    train = sub.add_parser(
        "train", parents=[common], help="train a model on the cluster and print its progress"
    )
    train.add_argument("--config", type=Path, default=None, help="the run's spec (JSON); or --branch-from")
    train.add_argument(
        "--validation-dataset",
        default=None,
        metavar="ID",
        help="validate on this dataset (as Keras's validation_data): every row of the run's dataset trains",
    )
    branch = train.add_argument_group("branch from a run's epoch (instead of --config)")
    branch.add_argument("--branch-from", default=None, metavar="RUN", help="the run to branch")
    branch.add_argument("--epoch", type=int, default=None, help="its kept checkpoint's epoch to start from")
    branch.add_argument("--lr", type=float, default=None, help="the branch's learning rate")
    branch.add_argument("--optimizer", default=None, help="the branch's optimizer (its state starts afresh)")
    branch.add_argument("--schedule", default=None, help="the branch's learning-rate schedule")
    branch.add_argument("--batch-size", type=int, default=None, help="the branch's batch size")
    branch.add_argument("--epochs", type=int, default=None, help="the branch's epochs in all (> --epoch)")
    branch.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a scikit-learn branch's hyperparameter (repeat it), e.g. n_estimators=300; VALUE is read "
        "as JSON (300, 0.1, true, null), else as text",
    )
    branch.add_argument("--seed", type=int, default=None, help="the branch's seed")
    tune = sub.add_parser(
        "tune",
        parents=[common],
        help='run an Optuna study (or a population: "type": "pbt") on the cluster and print its progress',
    )
    tune.add_argument("--config", type=Path, required=True)
    evaluate = sub.add_parser(
        "evaluate", parents=[common], help="score a finished run on another file or dataset"
    )
    evaluate.add_argument("--run", required=True, help="the training run's ID")
    evaluate.add_argument("rows", metavar="FILE_OR_DATASET", help="a file to ingest, or a dataset ID")
    predict = sub.add_parser(
        "predict", parents=[common], help="predict with a finished run on a file of rows (CSV out)"
    )
    predict.add_argument("--run", required=True, help="the training run's ID")
    predict.add_argument("rows", metavar="FILE")
    predict.add_argument("--out", type=Path, default=None, help="write the CSV here (default: stdout)")
    baselines = sub.add_parser(
        "baselines",
        parents=[common],
        help="launch the dummy, linear and boosting baselines for a run's or dataset's data",
    )
    baselines.add_argument("--run", default=None, help="a training run's ID: baselines for its data")
    baselines.add_argument("--dataset", default=None, help="a dataset ID (with --target)")
    baselines.add_argument("--target", default=None, help="the column to predict (with --dataset)")
    baselines.add_argument(
        "--task",
        default=None,
        choices=["binary", "multiclass", "regression"],
        help="with --dataset (default: what the target implies)",
    )
    baselines.add_argument("--wait", action="store_true", help="wait and print their held-out metrics")
    runs = sub.add_parser("runs", parents=[common], help="list the runs you may see, newest first")
    runs.add_argument("--kind", default=None, help="only runs of this kind (train, study, evaluate...)")
    datasets = sub.add_parser(
        "datasets", parents=[common], help="list the datasets you may see, newest first"
    )
    for command in (runs, datasets):
        command.add_argument("--limit", type=int, default=100, help="at most this many (default: 100)")
    for command in (ingest, train, tune, evaluate, predict, baselines):
        command.add_argument("--team", default="", help="the team that may see it (default: private)")
    for command in (ingest, train, tune, evaluate, predict, baselines, runs, datasets):
        command.add_argument("--as", dest="acting_as", default=None, help="the user (accounts on)")
        command.add_argument(
            "--project",
            default="",
            metavar="REF",
            help="the project to work in: its ID, owner/name or a name only one of yours has "
            "(default: lists show all your projects; what is created goes into your Default project)",
        )
    _projects.add_parser(sub, common)
    _ops.add_commands(sub, common)
    _observe.add_commands(sub, common)
    user = sub.add_parser("user", parents=[common], help="manage accounts (used when LOOM_AUTH=on)")
    user.add_argument("action", choices=["add", "list", "passwd", "remove", "grant-admin", "revoke-admin"])
    user.add_argument("name", nargs="?")
    user.add_argument("--email", default=None, help="single sign-on identity of this account")
    user.add_argument(
        "--admin", action="store_true", help="a site admin (the Admin page: audit log, everyone's disk use)"
    )
    sub.add_parser("migrate", parents=[common], help="bring the store's schema to this Loom's version")
    team = sub.add_parser("team", parents=[common], help="manage teams (used when LOOM_AUTH=on)")
    team.add_argument("action", choices=["add", "list", "add-member", "remove-member"])
    team.add_argument("names", nargs="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the process exit code. A user's error (an ``AppError``: a wrong
    column, an unknown ID) is one line on stderr, ``error: ...``, and exit code 2; ``--debug``
    prints its traceback first."""
    import getpass

    from core.errors import ConfigError
    from core.logs import configure_logging
    from core.store import audit_origin

    args = _parser().parse_args(argv)
    added = set_quiet(not args.verbose)
    try:
        configure_logging()
    except ConfigError as exc:
        err(f"error: {exc}")
        return 2
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):
        operator = "unknown"
    try:
        with audit_origin(actor=f"cli:{operator}"):  # who ran an admin command, in the audit log
            return _run(args)
    finally:  # called in-process (tests, scripts): leave the caller's environment as it was
        for name in added:
            os.environ.pop(name, None)


def _run(args: argparse.Namespace) -> int:
    from core.config import get_config
    from core.store import open_store
    from core.store import redact_url

    try:
        config = get_config()
        if args.command in _ops.COMMANDS:  # restore must not open (and so create) its target
            return _ops.run(args, config)
        store = open_store(config)  # migrates: all `migrate` has to do
        if args.command == "migrate":
            out(f"store at {redact_url(config.database_url)} is at this Loom's schema version")
            return 0
        if args.command == "user":
            return _accounts.manage_users(store, args.action, args.name, args.email, args.admin)
        if args.command in _observe.COMMANDS:
            return _observe.run(store, config, args)
        if args.command == "team":
            return _accounts.manage_teams(store, args.action, args.names)
        if args.command == "projects":
            return _projects.manage(store, config, args)
        viewer = _accounts.viewer_for(store, config, args.acting_as)
        if args.command in ("runs", "datasets"):
            viewer = _projects.viewer_in_project(store, viewer, args.project, create=False)
            return (_listing.runs if args.command == "runs" else _listing.datasets)(store, args, viewer)
        viewer.require_create(args.team)
        viewer = _projects.viewer_in_project(store, viewer, args.project, create=True)
        if args.command == "ingest":
            return _data.ingest(store, args, viewer)
        if args.command == "baselines":
            return _baselines.baselines(store, config, args, viewer)
        if args.command in ("evaluate", "predict"):
            handler = _data.evaluate if args.command == "evaluate" else _data.predict
            return handler(store, config, args, viewer)
        if args.command == "train" and args.branch_from:
            return _training.branch(store, config, args, viewer)
        if args.config is None:
            err("error: train needs --config run.json, or --branch-from RUN --epoch N")
            return 2
        try:
            data = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            err(f"error: cannot read {args.config}: {exc}")
            return 2
        if args.command == "tune":
            return _tuning.tune(store, config, args, viewer, data)
        return _training.train(store, config, args, viewer, data)
    except AppError as exc:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        err(f"error: {exc}")
        return 2
    except KeyError as exc:  # a short-form config without a key it needs
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        err(f"error: the config has no {exc} (see `python -m core train --help` and README, 'CLI')")
        return 2
