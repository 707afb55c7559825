"""Helpers shared by every spec: canonical JSON and content hashes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "spec_hash"]


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal specs give equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(data: Any) -> str:
    """SHA-256 of :func:`canonical_json`; what a run records as the exact spec it used."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
