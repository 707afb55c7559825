"""``runs`` and ``datasets``: what the acting user may see, newest first, in one project
(``--project``) or in all of theirs."""

from __future__ import annotations

from core.cli._common import out
from core.cli._common import table


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def runs(store, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.store import list_runs

    found = list_runs(store, kind=args.kind, limit=args.limit, viewer=viewer)
    if not found:
        out("no runs" + (" in this project" if viewer.project else ""))
        return 0
    rows = [["id", "status", "kind", "created", "author", "name"]]
    rows += [[r.id, r.status, r.kind, _when(r.created_at), r.author or "-", r.name] for r in found]
    for line in table(rows):
        out(line)
    return 0


def datasets(store, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.data import list_datasets

    found = list_datasets(store, viewer=viewer)[: args.limit]
    if not found:
        out("no datasets" + (" in this project" if viewer.project else ""))
        return 0
    rows = [["id", "rows", "columns", "created", "author", "name"]]
    rows += [
        [d.id, f"{d.n_rows:,}", str(d.n_cols), _when(d.created_at), d.author or "-", d.name] for d in found
    ]
    for line in table(rows):
        out(line)
    return 0
