"""Applying a trained pipeline to new rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.pipeline import PipelineSpec
from core.pipeline import apply_fitted
from core.pipeline import run_pandas


def test_apply_fitted_reuses_training_state_and_reports_removed_rows() -> None:
    train = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0, np.nan], "c": ["a", "b", "a", "b", "a"], "y": [0, 1, 0, 1, 0]}
    )
    spec = PipelineSpec.chain(
        "0" * 32,
        "y",
        [
            {"type": "drop_missing", "columns": ["y"]},
            {"type": "split", "method": "random", "validation": 0.2, "seed": 0},
            {"type": "fill_missing", "columns": ["x"], "strategy": "median"},
            {"type": "standardize", "columns": ["x"]},
            {"type": "filter_rows", "column": "c", "op": "!=", "value": "z"},
            {"type": "one_hot", "columns": ["c"]},
        ],
    )
    fitted = run_pandas(spec, train)
    new = pd.DataFrame({"x": [np.nan, 10.0, 2.0], "c": ["b", "z", "unseen"]})  # no target column
    out, removed = apply_fitted(spec, new, fitted.states)
    fill = [n for n in spec.ordered() if n.step.type == "fill_missing"][0].id
    std = [n for n in spec.ordered() if n.step.type == "standardize"][0].id
    median = fitted.states[fill]["fill"]["x"]
    mean, scale = fitted.states[std]["mean_std"]["x"]
    assert out["x"].tolist() == pytest.approx([(median - mean) / scale, (2.0 - mean) / scale])
    assert out["__row__"].tolist() == [0, 2]
    assert list(removed) == [1] and "Filter rows" in removed[1]
    assert "y" not in out.columns and out.filter(like="c=").iloc[1].sum() == 0  # unseen: all zeros
