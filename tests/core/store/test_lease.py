"""Leases (core.store._lease): a once-per-store periodic job runs in one app process at a time,
however many replicas start it. Two replicas are two :class:`Store` handles on one URL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from core.config import AppConfig
from core.store import Store
from core.store import hold_lease
from core.store import lease_holder
from core.store import lease_holder_id
from core.store import open_store
from core.store import release_lease
from core.store import utcnow


@pytest.fixture
def replicas(db_config: AppConfig) -> Iterator[tuple[Store, Store]]:
    a = open_store(db_config)
    b = Store(dataclasses.replace(db_config))  # another process's handle: its own engine
    yield a, b
    b.dispose()


def test_one_holder_at_a_time_renewed_then_taken_over_when_expired(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    now = utcnow()
    assert hold_lease(a, "job", "A", 60, now=now)
    assert not hold_lease(b, "job", "B", 60, now=now + timedelta(seconds=1))
    assert hold_lease(a, "job", "A", 60, now=now + timedelta(seconds=50))  # renewed: until 110 s
    assert not hold_lease(b, "job", "B", 60, now=now + timedelta(seconds=100))
    assert lease_holder(b, "job", now=now + timedelta(seconds=100)) == "A"
    assert lease_holder(b, "job", now=now + timedelta(seconds=111)) is None
    assert hold_lease(b, "job", "B", 60, now=now + timedelta(seconds=111))  # A stopped renewing
    assert not hold_lease(a, "job", "A", 60, now=now + timedelta(seconds=112))
    assert hold_lease(a, "other-job", "A", 60, now=now)  # leases are per job


def test_a_released_lease_is_free_at_once_and_only_its_holder_releases_it(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    assert hold_lease(a, "job", "A", 3600)
    release_lease(b, "job", "B")  # not B's: nothing happens
    assert lease_holder(b, "job") == "A"
    release_lease(a, "job", "A")
    assert lease_holder(b, "job") is None
    assert hold_lease(b, "job", "B", 3600)


def test_of_many_processes_racing_for_a_new_lease_one_wins(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    holders = [lease_holder_id("job") for _ in range(8)]
    assert len(set(holders)) == 8
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: hold_lease((a, b)[i % 2], "job", holders[i], 60), range(8)))
    assert won.count(True) == 1
    assert lease_holder(a, "job") == holders[won.index(True)]


def test_of_many_processes_racing_for_an_expired_lease_one_wins(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    now = utcnow()
    assert hold_lease(a, "job", "gone", 1, now=now - timedelta(seconds=10))
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: hold_lease((a, b)[i % 2], "job", f"h{i}", 60), range(8)))
    assert won.count(True) == 1
