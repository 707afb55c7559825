"""``audit`` and ``metrics``: what an operator reads (see :mod:`core.ops`).

python -m core audit [--since ISO] [--actor NAME] [--action KIND] [--format jsonl|csv]
python -m core metrics
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli._common import out

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("audit", "metrics")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser(
        "audit", parents=[common], help="export the audit log (who did what, when), oldest first"
    )
    audit.add_argument(
        "--since", default=None, metavar="ISO", help="rows at or after this date or time (UTC)"
    )
    audit.add_argument("--actor", default="", metavar="NAME", help="only this user's rows")
    audit.add_argument(
        "--action",
        default="",
        metavar="ACTION",
        help="one action (user.create) or a kind (user, link, project)",
    )
    audit.add_argument("--format", dest="fmt", choices=["jsonl", "csv"], default="jsonl")
    sub.add_parser(
        "metrics", parents=[common], help="print the Prometheus metrics once (what LOOM_METRICS_PORT serves)"
    )


def run(store: Any, config: Any, args: argparse.Namespace) -> int:
    from core import ops

    if args.command == "audit":
        since = ops.parse_moment(args.since) if args.since else None
        for line in ops.export_audit(store, since=since, actor=args.actor, action=args.action, fmt=args.fmt):
            out(line)
        return 0
    cluster = _scheduler_client(config)
    try:
        out(ops.render_metrics(store, cluster=(lambda: cluster) if cluster else None).rstrip("\n"))
    finally:
        if cluster is not None:
            cluster.close()
    return 0


def _scheduler_client(config: Any) -> Any:
    """A client of ``DASK_SCHEDULER_ADDRESS`` if set and answering; never starts a cluster."""
    if not config.scheduler_address:
        return None
    try:
        from distributed import Client

        return Client(config.scheduler_address, timeout=5)
    except (OSError, TimeoutError) as exc:
        out(f"# the Dask scheduler at {config.scheduler_address} did not answer: {exc}")
        return None
