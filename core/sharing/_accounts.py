"""Accounts, when ``LOOM_AUTH=on``: users with scrypt-hashed passwords.

Passwords are hashed with ``hashlib.scrypt`` (N=2**14, r=8, p=1, 16-byte salt); verification is
constant-time and runs the KDF even for an unknown name, so a login cannot tell which names
exist. Nothing here logs a password, a session or a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from sqlalchemy import select

from core.errors import SpecError
from core.store import Store
from core.store import User

__all__ = ["authenticate", "create_user", "hash_password", "list_users", "verify_password"]

_N, _R, _P = 2**14, 8, 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_DUMMY = None  # a hash to check against when the name is unknown


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def create_user(store: Store, name: str, password: str) -> str:
    """Add an account. Raises SpecError for a bad name, a short password or a taken name."""
    name = name.strip().lower()
    if not _NAME.match(name):
        raise SpecError(
            f"User name {name[:40]!r} is not valid: 1 to 100 lowercase letters, digits, '.', '_' or '-'."
        )
    if len(password) < 10:
        raise SpecError("A password needs at least 10 characters.")
    with store.session() as s:
        if s.get(User, name) is not None:
            raise SpecError(f"There is already a user {name!r}.")
        s.add(User(name=name, password_hash=hash_password(password)))
    return name


def authenticate(store: Store, name: str, password: str) -> str | None:
    """The user's name if the password is right, else None (same work either way)."""
    global _DUMMY
    with store.session() as s:
        user = s.get(User, name.strip().lower()) if _NAME.match(name.strip().lower()) else None
    if user is None:
        _DUMMY = _DUMMY or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY)
        return None
    return user.name if verify_password(password, user.password_hash) else None


def list_users(store: Store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(User.name).order_by(User.name)))
