"""Team quotas, for site admins: set or clear one (human units accepted), and list each team's
usage beside its quota. The check itself is core.store's ``check_quota``, which the upload and
launch paths (core.data's ``save_upload``, core.compute's ``submit_run``, the CLI's ingest) call
before they write anything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.errors import SpecError
from core.store import Project
from core.store import Team
from core.store import forget_usage
from core.store import set_team_quota
from core.store import team_quotas
from core.store import team_usage

__all__ = ["QuotaRow", "clear_quota", "list_quotas", "parse_bytes", "set_quota"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "p": 10**15,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


@dataclass(frozen=True)
class QuotaRow:
    """One team: the bytes its projects hold and its quota (None: none)."""

    team: str
    used: int
    quota: int | None

    @property
    def over(self) -> bool:
        return self.quota is not None and self.used >= self.quota


def parse_bytes(size: str | int) -> int:
    """``"50 GB"`` → ``50_000_000_000``; decimal (KB, MB, GB, TB) and binary (KiB ... TiB)
    units, case-insensitive; a bare number is bytes.

    Raises:
        SpecError: Not a size, or below 1 byte.
    """
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    else:
        match = _SIZE.match(str(size))
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _UNITS:
            raise SpecError(
                f"`size` must be a number of bytes with an optional unit (50GB, 500 MiB), but got {size!r}."
            )
        value = int(float(match.group(1)) * _UNITS[unit])
    if value < 1:
        raise SpecError(f"`size >= 1 byte` must hold, but got {size!r}.")
    return value


def set_quota(store: Any, team: str, size: str | int, *, actor: str) -> int:
    """Set ``team``'s quota to ``size`` (bytes, or text such as "50 GB"); audited. Returns the
    bytes. Callers check that ``actor`` is a site admin.

    Raises:
        SpecError: Not a size, or no such team.
    """
    quota = parse_bytes(size)
    set_team_quota(store, team, quota, actor=actor)
    return quota


def clear_quota(store: Any, team: str, *, actor: str) -> None:
    """Remove ``team``'s quota; audited.

    Raises:
        SpecError: No such team.
    """
    set_team_quota(store, team, None, actor=actor)


def list_quotas(store: Any) -> list[QuotaRow]:
    """Every team that owns a project or has a quota: the bytes its projects hold (computed
    now) and its quota, the fullest first."""
    quotas = team_quotas(store)
    with store.engine.connect() as conn:
        teams = set(conn.execute(select(Team.name)).scalars())
        owning = set(conn.execute(select(Project.owner_team).where(Project.owner_team != "")).scalars())
    forget_usage(store)
    rows = [QuotaRow(t, team_usage(store, t), quotas.get(t)) for t in sorted(teams & owning | set(quotas))]
    return sorted(rows, key=lambda r: (-(r.used / r.quota if r.quota else -1), r.team))
