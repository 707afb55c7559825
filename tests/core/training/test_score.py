"""The held-out score comes from one inference pass: its loss and metrics agree with what
``model.evaluate`` reports for the same model and data, for every task."""

from __future__ import annotations

import numpy as np
import pytest

from core.models import build_keras_model
from core.models import mlp_template
from core.training._loop import loss_and_metrics
from core.training._loop import score


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_score_agrees_with_evaluate(task: str) -> None:
    import keras

    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 6)).astype("float32")
    if task == "regression":
        y = x[:, 0] * 3.0 + 10.0
        scaling = {"mean": 10.0, "std": 3.0}
        classes = None
    else:
        n = 3 if task == "multiclass" else 2
        y = (np.abs(x[:, 0] * 2).astype(int) % n).astype("int64")
        scaling, classes = None, [str(i) for i in range(n)]
    spec = mlp_template(hidden=(8,), dropout=0.0, task=task)
    keras.utils.set_random_seed(0)
    model = build_keras_model(spec, (6,), len(classes) if classes else 1)
    model.compile(optimizer="adam", **loss_and_metrics(task))
    scaled = (y - 10.0) / 3.0 if scaling else y
    model.fit(x, scaled, epochs=2, verbose=0)
    expected = model.evaluate(x, scaled, verbose=0, return_dict=True)

    got = score(model, x, y, task, classes, scaling, {"rmse": 3.0, "mae": 3.0}, prefix="test")

    units = {"rmse": 3.0, "mae": 3.0} if scaling else {}
    want = {f"test_{k}": float(v) * units.get(k, 1.0) for k, v in expected.items()}
    assert set(got["evaluation"]) == set(want)
    for key, value in want.items():
        assert got["evaluation"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
