"""The one wait helper: returns what the predicate saw, or says what never happened."""

from __future__ import annotations

import pytest

from tests.waiting import wait_until


def test_returns_the_first_truthy_value() -> None:
    calls = iter([0, None, "", 3])
    assert wait_until(lambda: next(calls), timeout=5, interval=0) == 3


def test_times_out_naming_what_it_waited_for() -> None:
    seen: list[int] = []
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the thing \(seen \d+\+\)"):
        wait_until(
            lambda: seen.append(1),
            timeout=0.05,
            interval=0.01,
            what=lambda: f"the thing (seen {len(seen)}+)" if seen else "nothing",
        )
    with pytest.raises(AssertionError, match="waiting for a plain name"):
        wait_until(lambda: False, timeout=0, what="a plain name")
