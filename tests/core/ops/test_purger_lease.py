"""Two app processes (replicas) on one store each start a TrashPurger; only the holder of the
store's ``trash-purger`` lease purges, so an item is purged (and audited) once. The other takes
over when the holder stops. Two replicas are two :class:`Store` handles on one URL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.config import AppConfig
from core.experiments import delete_runs
from core.ops import TrashPurger
from core.store import SYSTEM
from core.store import AuditEvent
from core.store import Run
from core.store import Store
from core.store import lease_holder
from core.store import open_store
from tests.core.ops.test_trash import ALICE
from tests.core.ops.test_trash import _backdate
from tests.core.ops.test_trash import _run


@pytest.fixture
def replicas(db_config: AppConfig) -> Iterator[tuple[Store, Store]]:
    a = open_store(db_config)
    b = Store(dataclasses.replace(db_config))  # another process's handle: its own engine
    yield a, b
    b.dispose()


def _purges(store: Store) -> int:
    with store.session(SYSTEM) as s:
        return int(s.scalar(select(func.count()).where(AuditEvent.action == "run.purge")) or 0)


def test_only_the_lease_holder_purges_and_the_other_takes_over_when_it_stops(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    first = _run(a)
    delete_runs(a, [first], viewer=ALICE)
    _backdate(a, Run, first)
    on_a, on_b = TrashPurger(a), TrashPurger(b)
    result = on_a.run_once()
    assert result is not None and [i.id for i in result.purged] == [first]
    assert on_b.run_once() is None  # A holds the lease (for two intervals)
    again = on_a.run_once()  # A renews it
    assert again is not None and again.purged == ()
    on_a.stop()  # A's process stops: the lease is free at once
    assert lease_holder(b, TrashPurger.LEASE) is None
    second = _run(a)
    delete_runs(a, [second], viewer=ALICE)
    _backdate(a, Run, second)
    taken = on_b.run_once()
    assert taken is not None and [i.id for i in taken.purged] == [second]
    assert _purges(a) == 2


def test_purgers_racing_on_two_replicas_purge_each_item_once(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    runs = [_run(a) for _ in range(3)]
    delete_runs(a, runs, viewer=ALICE)
    for run_id in runs:
        _backdate(a, Run, run_id)
    purgers = [TrashPurger((a, b)[i % 2]) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda p: p.run_once(), purgers))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and sorted(i.id for i in ran[0].purged) == sorted(runs)
    assert _purges(a) == 3
