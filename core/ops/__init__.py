"""Operations: backup and restore, garbage collection of files, disk use.

    backup(store, out)                      an online, consistent snapshot with a SHA-256 manifest
    verify_backup(path)                     every file of a backup against its manifest
    restore(path, data_dir, database_url)   a verified backup into an empty target (SQLite or
                                            PostgreSQL; a SQLite backup also into PostgreSQL)
    copy_database(source_url, engine)       a whole store, table by table, into another database
    collect_garbage(store, dry_run=...)     remove files no row needs
    disk_use(store)                         bytes per user, team and project
    set_quota / clear_quota / list_quotas   team quotas (core.store's check_quota refuses over them)
    delete_item / list_trash / restore_item the trash of runs, studies, datasets, pipelines, reports
    purge_trash(store, days=...)            remove what has been in the trash longer than LOOM_TRASH_DAYS

    read_audit / count_audit / export_audit the audit log (site admins; core.store.audit writes it)
    render_metrics / start_metrics_server   Prometheus metrics (runs, queue, workers, store, sessions)

The CLI (``python -m core backup|restore|gc|du|trash|quota``) and the admin page call these.
"""

from core.ops._audit import AUDIT_FORMATS
from core.ops._audit import AuditEntry
from core.ops._audit import count_audit
from core.ops._audit import export_audit
from core.ops._audit import parse_moment
from core.ops._audit import read_audit
from core.ops._backup import BackupResult
from core.ops._backup import backup
from core.ops._backup import verify_backup
from core.ops._copy import copy_database
from core.ops._du import KINDS
from core.ops._du import DiskUse
from core.ops._du import UsageRow
from core.ops._du import disk_use
from core.ops._gc import GcItem
from core.ops._gc import GcResult
from core.ops._gc import collect_garbage
from core.ops._metrics import metrics_address
from core.ops._metrics import observe_page_render
from core.ops._metrics import render_metrics
from core.ops._metrics import start_metrics_server
from core.ops._purger import TrashPurger
from core.ops._quota import QuotaRow
from core.ops._quota import clear_quota
from core.ops._quota import list_quotas
from core.ops._quota import parse_bytes
from core.ops._quota import set_quota
from core.ops._restore import RestoreResult
from core.ops._restore import restore
from core.ops._trash import TRASH_KINDS
from core.ops._trash import PurgeResult
from core.ops._trash import TrashItem
from core.ops._trash import delete_item
from core.ops._trash import list_trash
from core.ops._trash import purge_trash
from core.ops._trash import restore_item

__all__ = [
    "AUDIT_FORMATS",
    "AuditEntry",
    "count_audit",
    "export_audit",
    "metrics_address",
    "observe_page_render",
    "parse_moment",
    "read_audit",
    "render_metrics",
    "start_metrics_server",
    "KINDS",
    "TRASH_KINDS",
    "BackupResult",
    "DiskUse",
    "GcItem",
    "GcResult",
    "PurgeResult",
    "QuotaRow",
    "RestoreResult",
    "TrashItem",
    "TrashPurger",
    "UsageRow",
    "backup",
    "clear_quota",
    "list_quotas",
    "parse_bytes",
    "set_quota",
    "collect_garbage",
    "copy_database",
    "delete_item",
    "disk_use",
    "list_trash",
    "purge_trash",
    "restore",
    "restore_item",
    "verify_backup",
]
