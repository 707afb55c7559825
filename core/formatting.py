"""Small, pure formatting helpers shared by pages."""

from __future__ import annotations

import csv
from typing import Any

__all__ = ["csv_bytes", "csv_safe_cell", "human_bytes", "human_duration"]

# A spreadsheet treats a cell starting with these as a formula (CSV injection, OWASP).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def human_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    """``3725`` → ``"1h 2m"``; ``None`` → ``"–"``."""
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s}s"
    h, m = divmod(m, 60)
    return f"{h}h {m}m"


def csv_safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading ``'``; other values pass."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(frame: Any) -> bytes:
    """A pandas frame as UTF-8 CSV, with every text cell and header made formula-safe."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(csv_safe_cell)
    out.columns = [csv_safe_cell(str(c)) for c in out.columns]
    # Text quoted always: a bare CR inside a cell would otherwise split the row for a reader.
    return out.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
