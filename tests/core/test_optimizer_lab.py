from __future__ import annotations

import numpy as np
import pytest

from core.errors import SpecError
from core.optimizers import OPTIMIZERS
from core.optimizers._lab import SURFACES
from core.optimizers._lab import keras_walk
from core.optimizers._lab import walk


@pytest.mark.parametrize("surface", ["rosenbrock", "valley", "saddle"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_numpy_rules_match_keras(name: str, surface: str) -> None:
    pytest.importorskip("keras")
    lr = {"rosenbrock": 1e-3, "valley": 0.02, "saddle": 0.05}[surface]
    path = walk(surface, [name], lr, momentum=0.9, steps=40)[0]
    ours = np.column_stack([path.xs, path.ys])
    theirs = keras_walk(surface, name, lr, 0.9, 40)
    # Keras computes parts of each update in float32 (its learning rate is a float32
    # variable), so the paths agree to float32 accuracy, compounded over 40 steps. A wrong rule
    # (say Adam without bias correction) is off by tens of percent within a few steps.
    np.testing.assert_allclose(ours, theirs[: len(ours)], rtol=5e-3, atol=1e-5)


def test_momentum_beats_sgd_in_the_valley() -> None:
    sgd, mom = walk("valley", ["sgd", "momentum"], 0.02, momentum=0.9, steps=200)
    assert mom.losses[-1] < sgd.losses[-1]


def test_divergence_is_reported() -> None:
    (path,) = walk("bowl", ["sgd"], 5.0, steps=100)
    assert path.diverged_at is not None and len(path.xs) == path.diverged_at


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"surface": "moon", "optimizers": ["sgd"], "learning_rate": 0.1}, "Unknown surface 'moon'"),
        (
            {"surface": "bowl", "optimizers": ["lion"], "learning_rate": 0.1},
            "Unknown optimizer\\(s\\) \\['lion'\\]",
        ),
        ({"surface": "bowl", "optimizers": [], "learning_rate": 0.1}, "Pick 1 to 4 optimizers"),
        ({"surface": "bowl", "optimizers": ["sgd"], "learning_rate": 0}, "`learning_rate > 0`"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        walk(**kwargs)


def test_every_surface_has_its_minimum_where_the_gradient_vanishes() -> None:
    minima = {"bowl": (0, 0), "valley": (0, 0), "rosenbrock": (1, 1)}
    for name, point in minima.items():
        assert SURFACES[name].grad(*point) == pytest.approx((0, 0))
