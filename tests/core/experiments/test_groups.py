"""Seed groups on a real LocalCluster: three real tiny Keras runs identical but for their seed,
recorded as one group; the band is computed from their stored points (checked against NumPy);
runs grouped by a setting; the final metric's spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.charts import plot_group_bands
from core.charts._groups import _get_group_bands_info
from core.compute import submit_run
from core.config import AppConfig
from core.data import ingest_file
from core.errors import SpecError
from core.experiments import GROUP_BY_SEED
from core.experiments import group_band
from core.experiments import group_keys
from core.experiments import group_members
from core.experiments import group_of
from core.experiments import group_runs
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Viewer
from core.store import get_metrics
from core.store import open_store
from core.store import thaw
from core.training import TrainSpec
from core.training import default_pipeline
from core.training import repeat_run_with_seeds
from core.training import repeat_with_seeds
from tests.conftest import wait_until_ended

ASSETS = Path(__file__).resolve().parents[3] / "assets"


def test_a_group_needs_two_to_twenty_seeds() -> None:
    spec = TrainSpec(
        default_pipeline("d1", "y", {"columns": []}, "binary").to_dict(), mlp_template("binary").to_dict()
    )
    for n in (1, 21):
        with pytest.raises(SpecError, match="2 <= seeds <= 20"):
            repeat_with_seeds(None, None, spec, n, viewer=SYSTEM)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_seed_group_of_three_real_runs_and_its_band(thread_cluster, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store = open_store(config)
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    pipeline = default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict()
    spec = TrainSpec(
        pipeline,
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=4,
        batch_size=16,
        seed=7,
    )
    group = repeat_with_seeds(thread_cluster, store, spec, 3, viewer=SYSTEM, name="iris seeds")
    assert group.seeds == [7, 8, 9] and len(set(group.run_ids)) == 3
    runs = [wait_until_ended(store, r, 300) for r in group.run_ids]
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.status_reason for r in runs]
    # Identical but for the seed.
    specs = [thaw(r.spec) for r in runs]
    assert [s.pop("seed") for s in specs] == [7, 8, 9] and specs[0] == specs[1] == specs[2]
    assert [r.name for r in runs] == [f"iris seeds · seed {s}" for s in (7, 8, 9)]
    assert group_members(store, group.id, viewer=SYSTEM) == group.run_ids
    assert {group_of(store, r, viewer=SYSTEM) for r in group.run_ids} == {group.id}
    assert group_members(store, group.id, viewer=Viewer("eve")) == []  # not shared with eve

    # The band from the stored points, aligned by step, against NumPy.
    band = group_band(store, group.run_ids, "epoch/val_loss", viewer=SYSTEM, label="g")
    stored = [get_metrics(store, r, viewer=SYSTEM)["epoch/val_loss"] for r in group.run_ids]
    assert all(list(m.steps) == band.steps for m in stored) and len(band.steps) == 4
    values = np.array([list(m.values) for m in stored])  # runs x steps
    assert len({tuple(row) for row in values.tolist()}) == 3  # the seeds made a difference
    np.testing.assert_allclose(band.mean, values.mean(axis=0))
    np.testing.assert_allclose(band.std, values.std(axis=0))
    np.testing.assert_allclose(band.low, values.min(axis=0))
    np.testing.assert_allclose(band.high, values.max(axis=0))
    assert band.counts == [3] * 4 and band.runs == 3
    # The chart draws exactly that: min-max, or the mean ± 1 std.
    [minmax] = _get_group_bands_info([band], "min-max")
    [stds] = _get_group_bands_info([band], "±1 std")
    assert minmax.lower == band.low and minmax.upper == band.high and minmax.mean == band.mean
    np.testing.assert_allclose(stds.upper, values.mean(axis=0) + values.std(axis=0))
    fig = plot_group_bands([band], "±1 std")
    assert [t.fill for t in fig.data] == ["toself", None] and list(fig.data[1].y) == band.mean

    # One more run on another optimizer, in no group.
    other = TrainSpec(**{**spec.__dict__, "optimizer": OptimizerSpec("sgd", 1e-2).to_dict()})
    lone = submit_run(thread_cluster, store, "train", other.to_dict(), dataset_id=ds.id, viewer=SYSTEM)
    assert wait_until_ended(store, lone, 300).status == "succeeded"
    every = [*group.run_ids, lone]

    # Seed groups: the group's final metric with its spread (runs in no group are left out).
    [seeds] = group_runs(store, every, GROUP_BY_SEED, "epoch/val_loss", viewer=SYSTEM)
    finals = values[:, -1]
    assert seeds.key == group.id and seeds.label == "iris seeds" and seeds.run_ids == group.run_ids
    assert seeds.values == pytest.approx(finals.tolist())
    assert (seeds.mean, seeds.std, seeds.low, seeds.high) == pytest.approx(
        (finals.mean(), finals.std(), finals.min(), finals.max())
    )
    # Grouped by a setting: the optimizer's name, one group each.
    assert "optimizer.name" in group_keys(store, every, viewer=SYSTEM)
    by_opt = group_runs(store, every, "optimizer.name", "epoch/val_loss", viewer=SYSTEM)
    assert [(g.label, len(g.run_ids)) for g in by_opt] == [
        ("optimizer.name = adam", 3),
        ("optimizer.name = sgd", 1),
    ]
    assert by_opt[0].mean == pytest.approx(seeds.mean) and by_opt[1].std == 0.0
    by_model = group_runs(store, every, "model", "epoch/val_loss", viewer=SYSTEM)
    assert [(g.label, len(g.run_ids)) for g in by_model] == [("model = MLP", 4)]

    # The same training repeated from a finished run (as the Tune page does for a best trial).
    again = repeat_run_with_seeds(thread_cluster, store, lone, 2, viewer=SYSTEM)
    assert again.seeds == [7, 8] and again.id != group.id
    for run_id in again.run_ids:
        run = wait_until_ended(store, run_id, 300)
        assert run.parent_id == lone and run.parent_kind == "forked"
        assert thaw(run.spec)["optimizer"]["name"] == "sgd"
