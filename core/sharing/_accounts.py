"""Accounts, when ``LOOM_AUTH=on``: users, teams, sign-in sessions and rate limiting.

Passwords are hashed with ``hashlib.scrypt`` (memory-hard; N=2**14, r=8, p=1, 16-byte salt);
verification is constant-time and runs the KDF even for an unknown name, so a sign-in cannot
tell which names exist. After :data:`MAX_FAILURES` failed sign-ins for a name within
:data:`FAILURE_WINDOW`, that name is refused until the window passes (the same answer whether or
not the name exists).

A session is a 256-bit random token. The browser holds it in an HttpOnly cookie, signed with the
server's key (a forged cookie is refused before any lookup); the store keeps only its SHA-256
with an expiry, so signing out deletes the row and ends the session on the server at the next
request, and reading the database yields no working session. Nothing here logs a password, a
session or a token.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from core.config import AppConfig
from core.errors import NotFoundError
from core.errors import RateLimitedError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import SignInFailure
from core.store import SignInHandoff
from core.store import Store
from core.store import Team
from core.store import TeamMember
from core.store import User
from core.store import UserSession
from core.store import Viewer
from core.store import audit

__all__ = [
    "COOKIE_NAME",
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "NEXT_COOKIE",
    "SESSION_DAYS",
    "SignIn",
    "add_member",
    "authenticate",
    "create_session",
    "cookie_value",
    "create_team",
    "create_user",
    "end_session",
    "hash_password",
    "is_site_admin",
    "issue_handoff",
    "list_teams",
    "list_users",
    "local_viewer",
    "redeem_handoff",
    "remove_member",
    "remove_user",
    "resolve_session",
    "safe_next",
    "set_admin",
    "set_password",
    "sign_in",
    "sso_sign_in",
    "sso_viewer",
    "teams_of",
    "token_from_cookie",
    "verify_password",
    "viewer_for",
]

_N, _R, _P = 2**14, 8, 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,100}$")
_DUMMY = None  # a hash to check against when the name is unknown
SESSION_DAYS = 7
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
WRONG = "Wrong user name or password."


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


def _clean_name(name: str, what: str = "User") -> str:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise SpecError(
            f"{what} name {name[:40]!r} is not valid: 1 to 100 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise SpecError("A password needs at least 10 characters.")


def create_user(
    store: Store, name: str, password: str, email: str | None = None, admin: bool = False, actor: str = ""
) -> str:
    """Add an account (admin CLI).

    Args:
        name: 1 to 100 lowercase letters, digits, '.', '_' or '-'.
        password: At least 10 characters.
        email: The single-sign-on identity that maps to this account. Defaults to None.
        admin: A site admin (reads the audit log and everyone's disk use). Defaults to False.
        actor: Who adds it, for the audit log. Defaults to "" (the CLI's operator).

    Raises:
        SpecError: A bad name, a short password, a bad e-mail, or a taken name or e-mail.
    """
    name = _clean_name(name)
    _check_password(password)
    if email is not None:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise SpecError(f"{email[:60]!r} is not an e-mail address.")
    with store.session(SYSTEM) as s:
        if s.get(User, name) is not None:
            raise SpecError(f"There is already a user {name!r}.")
        if email and s.scalar(select(User.name).where(User.email == email)):
            raise SpecError(f"Another user already signs in as {email!r}.")
        s.add(User(name=name, password_hash=hash_password(password), email=email, is_admin=admin))
        audit(s, actor, "user.create", "user", name, {"admin": admin, "email": email})
    return name


def set_admin(store: Store, name: str, admin: bool, actor: str = "") -> None:
    """Grant (or revoke) site admin: the Admin page's audit log and everyone's disk use.

    Raises:
        NotFoundError: No such user.
    """
    with store.session(SYSTEM) as s:
        user = s.get(User, _clean_name(name))
        if user is None:
            raise NotFoundError(f"There is no user {name[:40]!r}.")
        user.is_admin = admin
        audit(s, actor, "user.admin_grant" if admin else "user.admin_revoke", "user", user.name)


def is_site_admin(store: Store, viewer: Viewer) -> bool:
    """Whether ``viewer`` may read the audit log and everyone's disk use: the local user (accounts
    off) always; a signed-in user whose account is marked admin."""
    if viewer.everything:
        return True
    if not viewer.signed_in:
        return False
    with store.session(SYSTEM) as s:
        return bool(s.scalar(select(User.is_admin).where(User.name == viewer.name)))


def set_password(store: Store, name: str, password: str, actor: str = "") -> None:
    """Change a password (admin CLI); the user's sessions end."""
    _check_password(password)
    with store.session(SYSTEM) as s:
        user = s.get(User, _clean_name(name))
        if user is None:
            raise NotFoundError(f"There is no user {name[:40]!r}.")
        user.password_hash = hash_password(password)
        s.execute(delete(UserSession).where(UserSession.user == user.name))
        audit(s, actor, "user.set_password", "user", user.name)


def remove_user(store: Store, name: str, actor: str = "") -> None:
    """Delete an account, its memberships and sessions (what it owns stays, with its name)."""
    with store.session(SYSTEM) as s:
        user = s.get(User, _clean_name(name))
        if user is None:
            raise NotFoundError(f"There is no user {name[:40]!r}.")
        s.execute(delete(UserSession).where(UserSession.user == user.name))
        s.execute(delete(TeamMember).where(TeamMember.user == user.name))
        s.delete(user)
        audit(s, actor, "user.remove", "user", user.name)


def list_users(store: Store) -> list[str]:
    with store.session(SYSTEM) as s:
        return list(s.scalars(select(User.name).order_by(User.name)))


# --- teams ------------------------------------------------------------------------------------


def create_team(store: Store, name: str, actor: str = "") -> str:
    name = _clean_name(name, "Team")
    with store.session(SYSTEM) as s:
        if s.get(Team, name) is not None:
            raise SpecError(f"There is already a team {name!r}.")
        s.add(Team(name=name))
        audit(s, actor, "team.create", "team", name)
    return name


def add_member(store: Store, team: str, user: str, actor: str = "") -> None:
    team, user = _clean_name(team, "Team"), _clean_name(user)
    with store.session(SYSTEM) as s:
        if s.get(Team, team) is None:
            raise NotFoundError(
                f"There is no team {team!r}. Create it with `python -m core team add {team}`."
            )
        if s.get(User, user) is None:
            raise NotFoundError(f"There is no user {user!r}. Add it with `python -m core user add {user}`.")
        if s.get(TeamMember, (team, user)) is None:
            s.add(TeamMember(team=team, user=user))
            audit(s, actor, "team.add_member", "team", team, {"user": user})


def remove_member(store: Store, team: str, user: str, actor: str = "") -> None:
    team, user = _clean_name(team, "Team"), _clean_name(user)
    with store.session(SYSTEM) as s:
        gone = s.execute(delete(TeamMember).where(TeamMember.team == team, TeamMember.user == user))
        if gone.rowcount:  # type: ignore[attr-defined]
            audit(s, actor, "team.remove_member", "team", team, {"user": user})


def list_teams(store: Store) -> dict[str, list[str]]:
    """Every team with its members (admin CLI)."""
    with store.session(SYSTEM) as s:
        out: dict[str, list[str]] = {t: [] for t in s.scalars(select(Team.name).order_by(Team.name))}
        for team, user in s.execute(select(TeamMember.team, TeamMember.user).order_by(TeamMember.user)):
            out.setdefault(team, []).append(user)
    return out


def teams_of(store: Store, user: str) -> tuple[str, ...]:
    with store.session(SYSTEM) as s:
        return tuple(
            s.scalars(select(TeamMember.team).where(TeamMember.user == user).order_by(TeamMember.team))
        )


def local_viewer() -> Viewer:
    """The one user of a Loom without accounts: ``LOOM_USER`` or the server's account name; sees
    and changes everything."""
    import getpass
    import os

    try:
        name = os.environ.get("LOOM_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = "local user"
    return Viewer.local(name[:100])


def viewer_for(store: Store, user: str) -> Viewer:
    """The signed-in ``user`` with their teams as they are now."""
    return Viewer(name=user, teams=teams_of(store, user))


# --- signing in -------------------------------------------------------------------------------


def authenticate(store: Store, name: str, password: str) -> str | None:
    """The user's name if the password is right, else None (same work either way)."""
    global _DUMMY
    key = name.strip().lower()
    with store.session(SYSTEM) as s:
        user = s.get(User, key) if _NAME.match(key) else None
    if user is None:
        _DUMMY = _DUMMY or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY)
        return None
    return user.name if verify_password(password, user.password_hash) else None


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: who, and the session token for the cookie (shown once)."""

    user: str
    token: str
    expires_at: datetime


def sign_in(store: Store, name: str, password: str, now: datetime | None = None) -> SignIn:
    """Check a password (rate-limited per name) and open a session.

    Raises:
        RateLimitedError: Too many failures for this name lately; says how long to wait.
        SpecError: :data:`WRONG`, for an unknown name and a wrong password alike.
    """
    now = now or datetime.now(UTC)
    key = name.strip().lower()[:100]
    since = now - FAILURE_WINDOW
    with store.session(SYSTEM) as s:
        recent = list(
            s.scalars(
                select(SignInFailure.ts)
                .where(SignInFailure.name == key, SignInFailure.ts > since)
                .order_by(SignInFailure.ts)
            )
        )
    if len(recent) >= MAX_FAILURES:
        first = recent[-MAX_FAILURES]
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        wait = max(1, int((first + FAILURE_WINDOW - now).total_seconds() // 60) + 1)
        with store.session(SYSTEM) as s:
            audit(s, key, "signin.refused", "user", key, {"reason": "rate limited"})
        raise RateLimitedError(
            f"Too many failed sign-ins for this name. Try again in {wait} minute(s), or ask an "
            "administrator to reset the password (`python -m core user passwd NAME`)."
        )
    who = authenticate(store, name, password)
    if who is None:
        with store.session(SYSTEM) as s:
            s.add(SignInFailure(name=key, ts=now))
            audit(s, key, "signin.failure", "user", key)
            # Old failures are of no use; keep the table small.
            s.execute(delete(SignInFailure).where(SignInFailure.ts < now - 4 * FAILURE_WINDOW))
        raise SpecError(WRONG)
    with store.session(SYSTEM) as s:
        s.execute(delete(SignInFailure).where(SignInFailure.name == key))
        audit(s, who, "signin.success", "user", who)
    return create_session(store, who, now)


def create_session(store: Store, user: str, now: datetime | None = None) -> SignIn:
    """A new session for an existing ``user`` (after a password or single sign-on)."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(days=SESSION_DAYS)
    with store.session(SYSTEM) as s:
        if s.get(User, user) is None:
            raise NotFoundError(f"There is no user {user[:40]!r}.")
        s.add(UserSession(token_hash=_hash(token), user=user, created_at=now, expires_at=expires))
        s.execute(delete(UserSession).where(UserSession.expires_at < now))
    return SignIn(user, token, expires)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resolve_session(store: Store, token: str | None, now: datetime | None = None) -> Viewer | None:
    """The signed-in viewer a session token stands for, or None (unknown, ended or expired)."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    now = now or datetime.now(UTC)
    with store.session(SYSTEM) as s:
        row = s.get(UserSession, _hash(token))
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires <= now:
            s.delete(row)
            return None
        user = row.user
    return viewer_for(store, user)


def end_session(store: Store, token: str | None) -> None:
    """Sign out: the session stops working on the server at once."""
    if token:
        with store.session(SYSTEM) as s:
            user = s.scalar(select(UserSession.user).where(UserSession.token_hash == _hash(token)))
            s.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
            if user:
                audit(s, user, "signin.signout", "user", user)


def sso_viewer(store: Store, email: str | None) -> Viewer | None:
    """The Loom user a single-sign-on identity (its e-mail) maps to, or None if no account has
    that e-mail (an administrator adds it with ``python -m core user add NAME --email EMAIL``)."""
    if not email:
        return None
    with store.session(SYSTEM) as s:
        name = s.scalar(select(User.name).where(func.lower(User.email) == email.strip().lower()))
    return viewer_for(store, name) if name else None


def sso_sign_in(store: Store, email: str) -> Viewer | None:
    """:func:`sso_viewer`, recorded in the audit log as a sign-in: ``signin.success`` for the
    account the e-mail maps to, ``signin.failure`` (the e-mail kept) when no account has it.

    Call it once per browser session, when a single-sign-on identity first arrives; every later
    rerun resolves the same identity with :func:`sso_viewer`, which records nothing.
    """
    found = sso_viewer(store, email)
    with store.session(SYSTEM) as s:
        if found is None:
            key = email.strip().lower()[:100]
            audit(
                s, key, "signin.failure", "user", key, {"via": "sso", "reason": "no account has this e-mail"}
            )
        else:
            audit(s, found.name, "signin.success", "user", found.name, {"via": "sso"})
    return found


# --- where to go after signing in ---------------------------------------------------------------

NEXT_COOKIE = "loom_next"  # the page a single-sign-on round trip started from


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server (``/jobs?run=X``), else ``"/"``: never another
    host, so a sign-in link cannot send anyone elsewhere (no open redirect).

    Refused: anything not starting with one ``/`` (``http://...``, ``//evil``, ``evil``),
    backslashes (``/\\evil`` reads as ``//evil`` to browsers), and whitespace or control
    characters (browsers drop tabs and newlines, so ``/\\t/evil`` would read as ``//evil``).

    Args:
        target: The ``next`` query parameter, already URL-decoded. Defaults to "/" when None.

    Returns:
        The target, or "/".
    """
    if not target or len(target) > 2000:
        return "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    return target


# --- the session cookie -----------------------------------------------------------------------

COOKIE_NAME = "loom_session"
_HANDOFF_SECONDS = 60.0
_HANDOFF_KEY = b"loom-handoff-key:"  # kept apart from the lookup hash (plain SHA-256 of the code)


def _secret_key(config: AppConfig) -> bytes:
    """``LOOM_SECRET_KEY``, or a random key kept in the data directory (mode 0600), made once."""
    import os

    configured = os.environ.get("LOOM_SECRET_KEY", "")
    return configured.encode() if configured else _stored_key(str(config.data_dir))


@functools.cache
def _stored_key(data_dir: str) -> bytes:
    # Read once per process (every page run checks a cookie). Made whole, then linked into place:
    # two processes starting together agree on one key, and none reads a half-written file.
    import os

    path = Path(data_dir) / "secret_key"
    if not path.exists():
        tmp = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    return path.read_bytes()


def _signature(config: AppConfig, token: str) -> str:
    mac = hmac.new(_secret_key(config), token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def cookie_value(config: AppConfig, token: str) -> str:
    """The signed cookie value for a session token."""
    return f"{token}.{_signature(config, token)}"


def token_from_cookie(config: AppConfig, value: str | None) -> str | None:
    """The session token in a cookie, if its signature is this server's; None for a forged,
    truncated or foreign cookie."""
    if not value or len(value) > 200 or "." not in value:
        return None
    token, _, signature = value.rpartition(".")
    if not token or not hmac.compare_digest(signature.encode(), _signature(config, token).encode()):
        return None
    return token


def _handoff_pad(code: str, size: int) -> bytes:
    return hashlib.shake_256(_HANDOFF_KEY + code.encode()).digest(size)


def issue_handoff(store: Store, token: str, now: datetime | None = None) -> str:
    """A one-time code (valid a minute) that the sign-in route trades for the session cookie, so
    the session token itself never appears in a URL.

    The code is kept in the store, so any app process (replica) can redeem it: a replica that
    dies after the sign-in, or a cookie request routed to the other one, no longer means signing
    in again. The store keeps only the code's SHA-256, the user, an expiry, and the session token
    sealed with a key derived from the code: the table alone yields neither a code nor a session.
    Expired codes are swept here.

    Args:
        store: The store.
        token: The session token the code stands for.
        now: The time. Defaults to now.

    Returns:
        The code (URL-safe, 256 random bits).

    Raises:
        SpecError: The token is not a session token (empty or over 300 characters).
    """
    if not token or len(token) > 300:
        raise SpecError(f"`0 < len(token) <= 300` must hold, but got len(token)={len(token)}.")
    now = now or datetime.now(UTC)
    code = secrets.token_urlsafe(32)
    raw = token.encode()
    sealed = bytes(a ^ b for a, b in zip(raw, _handoff_pad(code, len(raw)), strict=True))
    with store.session(SYSTEM) as s:
        user = s.scalar(select(UserSession.user).where(UserSession.token_hash == _hash(token))) or ""
        s.execute(delete(SignInHandoff).where(SignInHandoff.expires_at <= now))
        s.add(
            SignInHandoff(
                code_hash=_hash(code),
                user=user,
                sealed=base64.urlsafe_b64encode(sealed).decode(),
                expires_at=now + timedelta(seconds=_HANDOFF_SECONDS),
            )
        )
    return code


def redeem_handoff(store: Store, code: str | None, now: datetime | None = None) -> str | None:
    """The session token for a handoff code, once, on any app process; None if unknown, used
    or expired. Single use holds across processes: one ``DELETE ... RETURNING`` takes the row,
    so of two requests with one code (on one replica or two), only one gets the token.

    Args:
        store: The store.
        code: The code from :func:`issue_handoff`. Defaults to None (refused).
        now: The time. Defaults to now.

    Returns:
        The session token, or None.
    """
    if not code or not isinstance(code, str) or len(code) > 100:
        return None
    now = now or datetime.now(UTC)
    with store.session(SYSTEM) as s:
        sealed = s.scalar(
            delete(SignInHandoff)
            .where(SignInHandoff.code_hash == _hash(code), SignInHandoff.expires_at > now)
            .returning(SignInHandoff.sealed)
        )
        if sealed is None:  # unknown, used, or expired (then swept with the row)
            s.execute(delete(SignInHandoff).where(SignInHandoff.code_hash == _hash(code)))
            return None
    raw = base64.urlsafe_b64decode(sealed)
    return bytes(a ^ b for a, b in zip(raw, _handoff_pad(code, len(raw)), strict=True)).decode()
