"""The sign-in hand-off code lives in the store, so two app processes (replicas) on one store
share it: a code issued on one is redeemed on the other, once, within a minute. The second
replica is a second :class:`Store` on the same URL (its own engine and connection pool)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.config import AppConfig
from core.errors import SpecError
from core.sharing import create_session
from core.sharing import create_user
from core.sharing import issue_handoff
from core.sharing import redeem_handoff
from core.sharing import resolve_session
from core.store import SYSTEM
from core.store import SignInHandoff
from core.store import Store
from core.store import open_store


@pytest.fixture
def replicas(db_config: AppConfig) -> Iterator[tuple[Store, Store]]:
    config = dataclasses.replace(db_config, auth=True)
    a = open_store(config)
    b = Store(config)  # another process's handle: its own engine, nothing shared in memory
    create_user(a, "ann", "ann-password-long")
    yield a, b
    b.dispose()


def test_a_code_issued_on_one_replica_is_redeemed_on_the_other_once(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    token = create_session(a, "ann").token
    code = issue_handoff(a, token)
    assert redeem_handoff(b, code) == token
    viewer = resolve_session(b, token)
    assert viewer is not None and viewer.name == "ann"
    assert redeem_handoff(b, code) is None
    assert redeem_handoff(a, code) is None


def test_the_store_keeps_neither_the_code_nor_the_token(replicas: tuple[Store, Store]) -> None:
    a, _ = replicas
    token = create_session(a, "ann").token
    code = issue_handoff(a, token)
    with a.session(SYSTEM) as s:
        rows = [(r.code_hash, r.user, r.sealed) for r in s.scalars(select(SignInHandoff))]
    assert len(rows) == 1 and rows[0][1] == "ann"
    assert not any(secret in value for secret in (code, token) for value in rows[0])


def test_an_expired_code_is_refused_and_swept(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    token = create_session(a, "ann").token
    then = datetime.now(UTC)
    old = issue_handoff(a, token, now=then)
    assert redeem_handoff(b, old, now=then + timedelta(seconds=61)) is None
    stale = issue_handoff(a, token, now=then)
    issue_handoff(a, token, now=then + timedelta(seconds=120))  # issuing sweeps expired codes
    with a.session(SYSTEM) as s:
        assert len(list(s.scalars(select(SignInHandoff)))) == 1
    assert redeem_handoff(b, stale, now=then + timedelta(seconds=1)) is None


@pytest.mark.parametrize("code", [None, "", "x" * 43, "x" * 500])
def test_a_wrong_code_gets_nothing(replicas: tuple[Store, Store], code: str | None) -> None:
    a, b = replicas
    real = issue_handoff(a, create_session(a, "ann").token)
    assert redeem_handoff(b, code) is None
    assert redeem_handoff(b, real) is not None  # a wrong code does not spend a real one


def test_of_many_requests_racing_with_one_code_one_wins(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    token = create_session(a, "ann").token
    code = issue_handoff(a, token)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: redeem_handoff((a, b)[i % 2], code), range(8)))
    assert got.count(token) == 1 and got.count(None) == 7


def test_a_token_that_cannot_be_one_is_refused(replicas: tuple[Store, Store]) -> None:
    a, _ = replicas
    with pytest.raises(SpecError, match=r"`0 < len\(token\) <= 300` must hold, but got len\(token\)=301"):
        issue_handoff(a, "t" * 301)
