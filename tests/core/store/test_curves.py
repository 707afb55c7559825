"""Curves to draw: downsampling keeps every extreme, the store keeps every point, blocks are
written with the points (and made by the migration for points already stored), live polls read
only new rows."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from core.errors import SpecError
from core.store import SYSTEM
from core.store import Metric
from core.store import MetricBlock
from core.store import Store
from core.store import create_run
from core.store import downsample
from core.store import extend_view
from core.store import get_metrics
from core.store import metric_view
from core.store import metrics_since
from core.store import write_metrics
from core.store._curve_blocks import _block_rows
from core.store._curves import BLOCK_STEPS


def _buckets(n: int, points: int) -> list[range]:
    """The runs of inner points ``downsample`` documents: ``(points - 2) // 2`` equal ones."""
    edges = np.unique(np.linspace(1, n - 1, (points - 2) // 2 + 1).astype(int))
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("n,points", [(10_000, 2000), (5_003, 100), (101, 4), (2_001, 2000)])
def test_downsample_keeps_first_last_and_each_buckets_min_and_max(n: int, points: int) -> None:
    rng = random.Random(n)
    steps = list(range(n))
    values = [math.sin(i / 50) + rng.gauss(0, 0.3) + (8 if i == n // 3 else 0) for i in steps]
    xs, ys = downsample(steps, values, points)
    assert len(xs) <= points
    assert (xs[0], ys[0]) == (0, values[0])
    assert (xs[-1], ys[-1]) == (n - 1, values[-1])
    assert xs == sorted(xs) and all(values[x] == y for x, y in zip(xs, ys, strict=True))
    kept = set(xs)
    for bucket in _buckets(n, points):
        chunk = [values[i] for i in bucket]
        assert any(values[i] == min(chunk) and i in kept for i in bucket)
        assert any(values[i] == max(chunk) and i in kept for i in bucket)
    assert max(ys) == max(values) and min(ys) == min(values)  # the spike survives


def test_downsample_returns_a_short_curve_whole_and_checks_its_input() -> None:
    assert downsample([1, 2, 3], [0.5, 0.25, 0.125], 4) == ([1, 2, 3], [0.5, 0.25, 0.125])
    with pytest.raises(SpecError, match=r"`points >= 4` must hold, but got points=3"):
        downsample([1, 2], [1.0, 2.0], 3)
    with pytest.raises(SpecError, match="differ in length"):
        downsample([1, 2], [1.0], 10)


def test_downsample_never_picks_nan_over_a_number() -> None:
    values = [1.0, *([float("nan"), 5.0, -5.0] * 100), 2.0]
    xs, ys = downsample(list(range(len(values))), values, 20)
    inner = ys[1:-1]
    assert 5.0 in inner and -5.0 in inner
    assert not any(math.isnan(v) for v in inner)


def _long_run(store: Store, n: int, keys: tuple[str, ...] = ("batch/loss",)) -> tuple[str, dict]:
    run_id = create_run(store, "smoke", {"steps": n}).id
    rng = random.Random(0)
    data = {k: [math.exp(-s / n * 3) + rng.random() * 0.1 for s in range(n)] for k in keys}
    for start in range(0, n, 5000):  # as a training loop flushes: a batch of rows at a time
        rows = [(k, s, data[k][s], 1.0) for s in range(start, min(n, start + 5000)) for k in keys]
        write_metrics(store, run_id, rows)
    return run_id, data


def test_a_long_runs_view_is_small_and_the_store_keeps_every_point(store: Store) -> None:
    n = 50_000
    run_id, data = _long_run(store, n, ("batch/loss", "batch/accuracy"))
    view = metric_view(store, run_id, viewer=SYSTEM)
    for key, values in data.items():
        series = view.series[key]
        assert len(series.steps) <= 2000
        assert view.stored[key] == n and not view.exact[key]
        assert view.span[key] == (0, n - 1)
        assert (series.steps[0], series.values[0]) == (0, values[0])
        assert (series.steps[-1], series.values[-1]) == (n - 1, values[-1])
        assert min(series.values) == min(values) and max(series.values) == max(values)
        assert series.steps == sorted(series.steps)
    with store.session(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) == 2 * n
        assert s.scalar(select(func.sum(MetricBlock.n)).where(MetricBlock.run_id == run_id)) == 2 * n
    assert len(get_metrics(store, run_id, viewer=SYSTEM)["batch/loss"].steps) == n


def test_a_narrow_window_is_read_point_by_point(store: Store) -> None:
    n = 30_000
    run_id, data = _long_run(store, n)
    # Edges inside blocks on purpose: the cut blocks are read point by point.
    lo, hi = 10 * BLOCK_STEPS + 37, 25 * BLOCK_STEPS + 11
    view = metric_view(store, run_id, viewer=SYSTEM, window=(lo, hi), points=5000)
    series = view.series["batch/loss"]
    assert view.exact["batch/loss"]
    assert series.steps == list(range(lo, hi + 1))
    assert series.values == data["batch/loss"][lo : hi + 1]
    # A wide window (over RAW_POINTS) is drawn from its blocks, extremes kept.
    lo, hi = 1_234, 28_765
    wide = metric_view(store, run_id, viewer=SYSTEM, window=(lo, hi))
    part = data["batch/loss"][lo : hi + 1]
    ys = wide.series["batch/loss"].values
    assert len(ys) <= 2000 and min(ys) == min(part) and max(ys) == max(part)
    assert wide.series["batch/loss"].steps[0] == lo and wide.series["batch/loss"].steps[-1] == hi
    with pytest.raises(SpecError, match="`first <= last` must hold"):
        metric_view(store, run_id, viewer=SYSTEM, window=(5, 4))


def test_live_polls_read_only_new_rows_and_append(store: Store) -> None:
    run_id, data = _long_run(store, 3_000)
    other = create_run(store, "smoke", {}).id
    view = metric_view(store, run_id, viewer=SYSTEM, points=1000)
    assert not view.exact["batch/loss"]
    new, last = metrics_since(store, run_id, view.last_id, viewer=SYSTEM)
    assert new == {} and last == view.last_id
    write_metrics(store, other, [("batch/loss", 1, 9.0, 1.0)])
    write_metrics(store, run_id, [("batch/loss", 3000, 0.5, 1.0), ("batch/new", 3000, 7.0, 1.0)])
    new, last = metrics_since(store, run_id, view.last_id, viewer=SYSTEM)
    assert {k: (s.steps, s.values) for k, s in new.items()} == {
        "batch/loss": ([3000], [0.5]),
        "batch/new": ([3000], [7.0]),
    }
    grown = extend_view(view, new, last)
    assert grown.series["batch/loss"].steps[-1] == 3000
    assert grown.series["batch/new"].values == [7.0] and grown.span["batch/new"] == (3000, 3000)
    assert grown.stored["batch/loss"] == 3001 and grown.appended == 2 and grown.last_id == last
    assert metrics_since(store, run_id, last, viewer=SYSTEM)[0] == {}
    # Appending past twice the view's points cuts the curve back, keeping its extremes.
    many = {"batch/loss": type(new["batch/loss"])("batch/loss", list(range(4000, 6000)), [1.0] * 2000)}
    cut = extend_view(grown, many, last + 1)
    assert len(cut.series["batch/loss"].steps) <= 1000
    assert max(cut.series["batch/loss"].values) == max(data["batch/loss"])


def test_blocks_match_the_points_whatever_the_write_order(store: Store) -> None:
    run_id = create_run(store, "smoke", {}).id
    rows = [("loss", s, float((s * 37) % 101), 1.0) for s in range(0, 450)]
    random.Random(3).shuffle(rows)
    for i in range(0, len(rows), 17):
        write_metrics(store, run_id, rows[i : i + 17])
    with store.session(SYSTEM) as s:
        stored = {
            b.block: (b.n, b.first_step, b.last_step, b.min_value, b.max_value)
            for b in s.scalars(select(MetricBlock).where(MetricBlock.run_id == run_id))
        }
    expected = {
        b["block"]: (b["n"], b["first_step"], b["last_step"], b["min_value"], b["max_value"])
        for b in _block_rows(run_id, sorted(rows, key=lambda r: r[1]))
    }
    assert stored == expected


def test_the_migration_summarises_points_already_stored(store: Store) -> None:
    """Points written before blocks existed get theirs when the store is upgraded."""
    from alembic import command

    from core.store._db import _alembic_config

    run_id = create_run(store, "smoke", {}).id
    rows = [("loss", s, float((s * 13) % 29) - 3.5, 1.0) for s in range(-5, 333)]
    with store.session(SYSTEM) as s:  # as Loom before blocks wrote them
        s.execute(
            insert(Metric),
            [{"run_id": run_id, "key": k, "step": st, "value": v, "ts": t} for k, st, v, t in rows],
        )
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        command.upgrade(cfg, "head")
    with store.session(SYSTEM) as s:
        got = {
            b.block: (
                b.n,
                b.first_step,
                b.first_value,
                b.last_step,
                b.last_value,
                b.min_step,
                b.min_value,
                b.max_step,
                b.max_value,
            )
            for b in s.scalars(select(MetricBlock).where(MetricBlock.run_id == run_id))
        }
    want = {
        b["block"]: (
            b["n"],
            b["first_step"],
            b["first_value"],
            b["last_step"],
            b["last_value"],
            b["min_step"],
            b["min_value"],
            b["max_step"],
            b["max_value"],
        )
        for b in _block_rows(run_id, rows)
    }
    assert got == want


def test_a_runs_summary_comes_from_its_blocks_and_matches_its_points(store: Store) -> None:
    from core.store import RunSummary
    from core.store import summarize_run

    run_id, data = _long_run(store, 12_345, ("batch/loss", "batch/acc"))
    write_metrics(store, run_id, [("epoch/val_loss", 1, float("inf"), 1.0), ("epoch/val_loss", 0, 3.0, 1.0)])
    legacy = create_run(store, "smoke", {}).id
    with store.session(SYSTEM) as s:  # points written around the blocks are read one by one
        s.execute(
            insert(Metric),
            [{"run_id": legacy, "key": "loss", "step": i, "value": 5.0 - i, "ts": 1.0} for i in range(5)],
        )
    for rid in (run_id, legacy):
        summarize_run(store, rid)
    with store.session(SYSTEM) as s:
        got = {
            (r.run_id, r.key): (r.last, r.min, r.max, r.points)
            for r in s.scalars(select(RunSummary).where(RunSummary.run_id.in_([run_id, legacy])))
        }
    want = {(run_id, k): (v[-1], min(v), max(v), len(v)) for k, v in data.items()}
    want[(run_id, "epoch/val_loss")] = (3.0, 3.0, 3.0, 2)  # the newest point is infinite: skipped
    want[(legacy, "loss")] = (1.0, 1.0, 5.0, 5)
    assert got == want
