"""The Train page's probe: input shape, classes, and the warning for an unscaled feature whose
scale is orders of magnitude away from the others'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data import ingest_file
from core.pipeline import PipelineSpec
from core.store import Store
from core.training import default_pipeline
from core.training import probe_input
from core.training import scale_warning


def _wine_like(tmp_path: Path) -> Path:
    # Like the wine data: most features near 1, one ('proline') in the hundreds.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(0, 1, 300) for i in range(6)})
    frame["proline"] = rng.normal(750, 300, 300)
    frame["label"] = rng.integers(0, 3, 300)
    path = tmp_path / "wine_like.csv"
    frame.to_csv(path, index=False)
    return path


def test_an_unscaled_feature_hundreds_of_times_wider_is_named(store: Store, tmp_path: Path) -> None:
    ds = ingest_file(store, _wine_like(tmp_path), "csv", "wine_like")
    # Only two features standardized, as in the run that diverged.
    partial = PipelineSpec.chain(ds.id, "label", ["split", {"type": "standardize", "columns": ["f0", "f1"]}])
    probe = probe_input(store.config, partial.to_dict())
    assert probe["shape"] == [7]
    warning = scale_warning(probe)
    assert warning is not None and "'proline'" in warning and "Standardize" in warning
    assert "'f2'" not in warning
    # Loom's default pipeline scales every feature: nothing to warn about.
    default = default_pipeline(ds.id, "label", ds.profile, "multiclass")
    assert scale_warning(probe_input(store.config, default.to_dict())) is None


def test_scale_warning_rules() -> None:
    assert scale_warning({"spread": {}}) is None
    assert scale_warning({}) is None  # a probe from before the check
    assert scale_warning({"spread": {"a": 1.0, "b": 50.0, "c": 0.9}}) is None  # 50x: fine
    tiny = scale_warning({"spread": {"a": 1.0, "b": 1.2, "c": 0.001}})
    assert tiny is not None and "'c'" in tiny
    assert scale_warning({"spread": {"a": 1.0, "constant": 0.0, "b": 2.0}}) is None  # zero spread ignored
