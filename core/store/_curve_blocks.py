"""Writing the per-block summaries (:class:`MetricBlock`) that a chart of a long run reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from core.store._curves import BLOCK_STEPS
from core.store._models import MetricBlock

__all__ = ["write_blocks"]


def _block_rows(run_id: str, rows: Sequence[tuple[str, int, float, float]]) -> list[dict[str, Any]]:
    """The summary of ``rows`` (``(key, step, value, ts)`` in write order) per key and block."""
    import math

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for key, step, value, _ in rows:
        step = int(step)
        value = float(value)
        b = out.get((key, step // BLOCK_STEPS))
        if b is None:
            b = out[(key, step // BLOCK_STEPS)] = {
                "run_id": run_id,
                "key": key,
                "block": step // BLOCK_STEPS,
                "n": 0,
                "first_step": step,
                "first_value": value,
                "last_step": step,
                "last_value": value,
                "min_step": None,
                "min_value": None,
                "max_step": None,
                "max_value": None,
            }
        b["n"] += 1
        if step < b["first_step"]:
            b["first_step"], b["first_value"] = step, value
        if step >= b["last_step"]:
            b["last_step"], b["last_value"] = step, value
        if math.isfinite(value):
            if b["min_value"] is None or value < b["min_value"]:
                b["min_step"], b["min_value"] = step, value
            if b["max_value"] is None or value > b["max_value"]:
                b["max_step"], b["max_value"] = step, value
    for b in out.values():  # NaN is stored as NULL by SQLite; say so on every backend
        for name in ("first_value", "last_value"):
            if not math.isfinite(b[name]):
                b[name] = None
    return list(out.values())


def write_blocks(session: Session, run_id: str, rows: Sequence[tuple[str, int, float, float]]) -> None:
    """Fold ``rows`` into their blocks (an upsert: SQLite >= 3.24 and PostgreSQL)."""
    blocks = _block_rows(run_id, rows)
    if not blocks:
        return
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    from sqlalchemy import case
    from sqlalchemy import or_

    stmt = insert(MetricBlock)
    new, old = stmt.excluded, MetricBlock
    earlier = new.first_step < old.first_step
    later = new.last_step >= old.last_step
    lower = or_(old.min_value.is_(None), new.min_value < old.min_value)
    higher = or_(old.max_value.is_(None), new.max_value > old.max_value)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "key", "block"],
        set_={
            "n": old.n + new.n,
            "first_step": case((earlier, new.first_step), else_=old.first_step),
            "first_value": case((earlier, new.first_value), else_=old.first_value),
            "last_step": case((later, new.last_step), else_=old.last_step),
            "last_value": case((later, new.last_value), else_=old.last_value),
            "min_step": case((lower, new.min_step), else_=old.min_step),
            "min_value": case((lower, new.min_value), else_=old.min_value),
            "max_step": case((higher, new.max_step), else_=old.max_step),
            "max_value": case((higher, new.max_value), else_=old.max_value),
        },
    )
    session.execute(stmt, blocks)
