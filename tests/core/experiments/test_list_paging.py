"""The Experiments list's pages read in the sort's order (issue 28): every sort and direction pages
through every match once, in (key, id) order with runs without the metric last, and a capped count
says "more than" instead of reading every match."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from core.experiments import SORTS
from core.experiments import ExperimentQuery
from core.experiments import list_experiments
from core.store import SYSTEM
from core.store import Run
from core.store import RunSummary
from core.store import Store
from tests.core.experiments.test_experiments import seed_runs

N = 137


@pytest.fixture
def seeded(store: Store) -> dict[str, tuple]:  # type: ignore[type-arg]
    """137 runs: four without the metric, three sharing one metric value; each run's sort keys."""
    ids = seed_runs(store, N)
    with store.session(SYSTEM) as s:
        s.execute(delete(RunSummary).where(RunSummary.run_id.in_(ids[10:14])))
        s.execute(update(RunSummary).where(RunSummary.run_id.in_(ids[20:23])).values(last=0.5))
        last = dict(s.execute(select(RunSummary.run_id, RunSummary.last)).all())
        return {
            r.id: (r.created_at, r.name, r.status, last.get(r.id))
            for r in s.execute(select(Run.id, Run.created_at, Run.name, Run.status))
        }


def _expected(keys: dict[str, tuple], sort: str, descending: bool) -> list[str]:  # type: ignore[type-arg]
    column = SORTS.index(sort)
    have = [i for i in keys if keys[i][column] is not None]
    ordered = sorted(have, key=lambda i: (keys[i][column], i), reverse=descending)
    return ordered + sorted((i for i in keys if keys[i][column] is None), reverse=descending)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_pages_through_every_match_once_in_order(
    store: Store,
    seeded: dict[str, tuple],  # type: ignore[type-arg]
    sort: str,
    descending: bool,
) -> None:
    listed: list[str] = []
    for page in range(1, 20):
        q = ExperimentQuery(sort=sort, descending=descending, page=page, page_size=20)
        rows, total = list_experiments(store, q, viewer=SYSTEM)
        assert total == N
        if not rows:
            break
        listed += [r.id for r in rows]
    assert listed == _expected(seeded, sort, descending)


def test_a_capped_count_says_more_and_still_pages_past_it(
    store: Store,
    seeded: dict[str, tuple],  # type: ignore[type-arg]
) -> None:
    rows, total = list_experiments(store, ExperimentQuery(page_size=20), viewer=SYSTEM, count_limit=50)
    assert total == 51 and len(rows) == 20  # 51: "more than 50"
    rows, total = list_experiments(
        store, ExperimentQuery(page=7, page_size=20), viewer=SYSTEM, count_limit=50
    )
    assert total == 51 and len(rows) == N - 120  # past the count's cap, the last page still lists
    rows, total = list_experiments(
        store, ExperimentQuery(page=8, page_size=20), viewer=SYSTEM, count_limit=50
    )
    assert total == 51 and rows == []
    rows, total = list_experiments(store, ExperimentQuery(), viewer=SYSTEM, count_limit=1000)
    assert total == N  # under the cap: exact
    q = ExperimentQuery(statuses=("failed",), sort="metric", metric_max=0.5, descending=False)
    exact = list_experiments(store, q, viewer=SYSTEM)
    capped = list_experiments(store, q, viewer=SYSTEM, count_limit=5)
    assert [r.id for r in capped[0]] == [r.id for r in exact[0]]
    assert capped[1] == min(exact[1], 6)
    assert all(r.status == "failed" and r.metric is not None and r.metric <= 0.5 for r in exact[0])
    expected = [
        i for i in _expected(seeded, "metric", False) if seeded[i][3] is not None and seeded[i][3] <= 0.5
    ]
    assert [r.id for r in exact[0]] == [i for i in expected if seeded[i][2] == "failed"][:50]


def test_counted_up_to_the_page_the_page_itself_says_more_or_ends_the_count(
    store: Store,
    seeded: dict[str, tuple],  # type: ignore[type-arg]
) -> None:
    def page(n: int) -> tuple[list[str], int]:
        q = ExperimentQuery(sort="metric", page=n, page_size=20)
        rows, total = list_experiments(store, q, viewer=SYSTEM, count_limit=n * 20)
        return [r.id for r in rows], total

    expected = _expected(seeded, "metric", True)
    assert page(1) == (expected[:20], 21)  # one row past the page: "more than 20"
    assert page(6) == (expected[100:120], 121)
    assert page(7) == (expected[120:], N)  # the short last page ends the count: exact
    assert page(8) == ([], N)  # past the last match: counted
