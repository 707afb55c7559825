"""``backup``, ``restore``, ``gc``, ``du`` and ``trash``: the operator's commands (see :mod:`core.ops`).

    python -m core backup OUT
    python -m core restore IN [--data-dir DIR] [--database-url URL] [--force]
    python -m core gc [--dry-run] [--checkpoint-days N] [--upload-days N]
    python -m core du
    python -m core quota list | set TEAM SIZE | clear TEAM      (SIZE: 50GB, 500 MiB, bytes)
    python -m core trash list | delete KIND ID | restore KIND ID | purge [--dry-run] [--days N]

``gc`` also purges what has been in the trash longer than LOOM_TRASH_DAYS (``--trash-days``).
``trash`` acts as Loom itself: it lists and restores everyone's items.

``restore`` never opens the configured store: its target is ``--data-dir`` (default:
``LOOM_DATA_DIR``) and ``--database-url`` (default: ``LOOM_DATABASE_URL``, else SQLite
``loom.db`` in that directory: the store the app then opens).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli._common import out
from core.errors import SpecError
from core.formatting import human_bytes as _size

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("backup", "restore", "gc", "du", "disk-use", "trash", "quota")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    backup = sub.add_parser(
        "backup", parents=[common], help="snapshot the store and its files (online) into a new directory"
    )
    backup.add_argument("out", type=Path, metavar="OUT")
    restore = sub.add_parser(
        "restore", parents=[common], help="restore a backup after verifying every file's SHA-256"
    )
    restore.add_argument("backup_dir", type=Path, metavar="IN")
    restore.add_argument(
        "--data-dir", type=Path, default=None, help="where the files go (default: LOOM_DATA_DIR)"
    )
    restore.add_argument(
        "--database-url",
        default=None,
        help="the database to restore into (default: LOOM_DATABASE_URL, else SQLite loom.db in the "
        "data directory)",
    )
    restore.add_argument("--force", action="store_true", help="replace what a non-empty target holds")
    gc = sub.add_parser("gc", parents=[common], help="remove files no row needs, and say what was freed")
    gc.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    gc.add_argument(
        "--checkpoint-days",
        type=float,
        default=None,
        metavar="N",
        help="also remove checkpoints of runs that ended over N days ago (their models stay)",
    )
    gc.add_argument(
        "--upload-days",
        type=float,
        default=1.0,
        metavar="N",
        help="unused uploads, bundles and scratch files older than N days go (default: 1)",
    )
    gc.add_argument(
        "--trash-days",
        type=float,
        default=None,
        metavar="N",
        help="purge items deleted over N days ago (default: LOOM_TRASH_DAYS, 30)",
    )
    for name in ("du", "disk-use"):
        sub.add_parser(name, parents=[common], help="bytes per user, team and project")
    quota = sub.add_parser("quota", parents=[common], help="team quotas: list, set or clear one")
    quota_action = quota.add_subparsers(dest="quota_action", required=True)
    quota_action.add_parser("list", help="each team's usage and quota")
    quota_set = quota_action.add_parser("set", help="set a team's quota (50GB, 500 MiB, bytes)")
    quota_set.add_argument("team", metavar="TEAM")
    quota_set.add_argument("size", metavar="SIZE")
    quota_action.add_parser("clear", help="remove a team's quota").add_argument("team", metavar="TEAM")
    trash = sub.add_parser(
        "trash", parents=[common], help="deleted runs, studies, datasets, pipelines and reports"
    )
    action = trash.add_subparsers(dest="trash_action", required=True)
    action.add_parser("list", help="what is in the trash, and when it is purged")
    for name, what in (("delete", "put an item in the trash"), ("restore", "take an item out of the trash")):
        one = action.add_parser(name, help=what)
        one.add_argument("kind", choices=["run", "study", "dataset", "pipeline", "report"])
        one.add_argument("item_id", metavar="ID")
    purge = action.add_parser("purge", help="remove what has been in the trash long enough, with its files")
    purge.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    purge.add_argument("--days", type=float, default=None, metavar="N", help="default: LOOM_TRASH_DAYS (30)")


def run(args: argparse.Namespace, config: Any) -> int:
    from core import ops

    if args.command == "restore":
        from core.config import LOOM_DATABASE_URL

        data_dir = args.data_dir or config.data_dir
        # The database the app will open with these settings: LOOM_DATABASE_URL, else SQLite in data_dir.
        url = args.database_url or LOOM_DATABASE_URL.get() or None
        result = ops.restore(args.backup_dir, data_dir, url, force=args.force)
        out(f"restored {args.backup_dir} into {result.data_dir} and {result.database_url}")
        out(f"files: {result.n_files} ({_size(result.file_bytes)})")
        rows = ", ".join(f"{n} {t}" for t, n in result.tables.items() if n)
        out(f"rows: {rows or 'none'}")
        return 0

    from core.store import open_store

    store = open_store(config)
    if args.command == "backup":
        made = ops.backup(store, args.out)
        out(f"backup of the {made.dialect} store (schema {made.schema_version}) in {made.path}")
        out(f"database: {_size(made.database_bytes)}, {sum(made.tables.values()):,} rows")
        out(f"files: {made.n_files} ({_size(made.file_bytes)}), SHA-256 in {made.path / 'manifest.json'}")
        return 0
    if args.command == "trash":
        return _trash(store, args, config)
    if args.command == "quota":
        return _quota(store, args)
    if args.command == "gc":
        if args.trash_days is not None and not args.trash_days >= 0:  # refused before anything goes
            raise SpecError(f"`trash_days >= 0` must hold, but got trash_days={args.trash_days}.")
        gc = ops.collect_garbage(
            store, dry_run=args.dry_run, upload_days=args.upload_days, checkpoint_days=args.checkpoint_days
        )
        _report_purge(ops.purge_trash(store, days=args.trash_days, dry_run=args.dry_run))
        verb = "would remove" if args.dry_run else "removed"
        for item in gc.items:
            out(f"{verb} {item.relative} ({_size(item.size)}): {item.reason}")
        for kind, (n, size) in gc.by_kind.items():
            out(f"{kind}: {n} file(s), {_size(size)}")
        freed = "would free" if args.dry_run else "freed"
        out(f"{freed} {_size(gc.freed_bytes)} in {len(gc.items)} file(s)")
        return 0
    use = ops.disk_use(store)
    header = ["scope", "name", *ops.KINDS, "total"]
    table = [header]
    for row in use.rows:
        table.append([row.scope, row.name, *(_size(row.bytes[k]) for k in ops.KINDS), _size(row.total)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out("  ".join(cells))
    if use.unowned:
        out("no owner (gc can free orphans): " + ", ".join(f"{k} {_size(v)}" for k, v in use.unowned.items()))
    out(
        f"database: {_size(use.database_bytes)}; metrics: {use.metric_rows:,} points at "
        f"~{use.metric_row_bytes:.0f} bytes each"
    )
    _print_quotas(ops.list_quotas(store))
    return 0


def _print_quotas(rows: list[Any]) -> None:
    from core.store import decimal_bytes

    if not rows:
        out("team quotas: no team owns a project yet")
        return
    out("team quotas (the bytes of each team's projects):")
    for row in rows:
        quota = decimal_bytes(row.quota) if row.quota is not None else "none"
        share = f" ({row.used / row.quota:.0%})" if row.quota else ""
        flag = "  OVER: uploads and launches refused" if row.over else ""
        out(f"  {row.team}: {decimal_bytes(row.used)} of {quota}{share}{flag}")


def _quota(store: Any, args: argparse.Namespace) -> int:
    from core import ops
    from core.store import decimal_bytes

    if args.quota_action == "list":
        _print_quotas(ops.list_quotas(store))
        return 0
    if args.quota_action == "set":
        quota = ops.set_quota(store, args.team, args.size, actor="")
        out(f"team {args.team}: quota {decimal_bytes(quota)} ({quota:,} bytes)")
        return 0
    ops.clear_quota(store, args.team, actor="")
    out(f"team {args.team}: no quota")
    return 0


def _report_purge(result: Any) -> None:
    verb = "would purge" if result.dry_run else "purged"
    for item in result.purged:
        out(f"{verb} {item.kind} {item.name!r} ({item.id}), deleted by {item.deleted_by or '-'}")
    for item, why in result.kept:
        out(f"kept {item.kind} {item.name!r} ({item.id}) in the trash: {why}")
    freed = "would free" if result.dry_run else "freed"
    out(
        f"trash: {verb} {len(result.purged)} item(s), kept {len(result.kept)}; {freed} "
        f"{_size(result.freed_bytes)} in {len(result.files)} file(s)"
    )


def _trash(store: Any, args: argparse.Namespace, config: Any) -> int:
    from core import ops
    from core.store import SYSTEM

    if args.trash_action == "list":
        items = ops.list_trash(store, viewer=SYSTEM)
        for item in items:
            when = f"{item.deleted_at:%Y-%m-%d %H:%M}"
            purge = f"{item.purge_after(config.trash_days):%Y-%m-%d}"
            out(
                f"{item.kind:8} {item.id}  {item.name[:40]!r}  by {item.deleted_by or '-'} at {when}, "
                f"purged after {purge}"
            )
        out(f"{len(items)} item(s) in the trash; restore one: python -m core trash restore KIND ID")
        return 0
    if args.trash_action == "delete":
        item = ops.delete_item(store, args.kind, args.item_id, viewer=SYSTEM)
        undo = f"python -m core trash restore {item.kind} {item.id}"
        out(f"{item.kind} {item.name!r} ({item.id}) is in the trash; to take it back: {undo}")
        return 0
    if args.trash_action == "restore":
        item = ops.restore_item(store, args.kind, args.item_id, viewer=SYSTEM)
        out(f"restored {item.kind} {item.name!r} ({item.id})")
        return 0
    _report_purge(ops.purge_trash(store, days=args.days, dry_run=args.dry_run))
    return 0
