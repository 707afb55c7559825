"""Read models: rows leave the store as frozen dataclasses with their JSON parsed once."""

from __future__ import annotations

import dataclasses

import pytest

from core.store import SYSTEM
from core.store import Profile
from core.store import RunResult
from core.store import Store
from core.store import create_run
from core.store import get_run
from core.store import list_runs
from core.store import thaw


def test_a_run_is_frozen_and_its_result_parsed(store: Store) -> None:
    spec = {"type": "train", "trial": {"study": "s", "trial_id": 1, "number": 0}, "epochs": 3}
    run = create_run(store, "train", spec, name="")
    with store.session(SYSTEM) as s:
        from core.store import Run

        s.get(Run, run.id).result_json = {
            "evaluation": {"test_accuracy": 0.9},
            "params": 1234,
            "rows": {"train": 80, "test": 20},
            "features": ["a", "b"],
            "classes": ["x", "y"],
            "input_shape": [2],
            "confusion": {"classes": ["x", "y"], "matrix": [[9, 1], [1, 9]]},
        }
    got = get_run(store, run.id, viewer=SYSTEM)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.status = "succeeded"  # type: ignore[misc]
    with pytest.raises(TypeError):
        got.spec["epochs"] = 5  # type: ignore[index]  # read-only
    assert got.result.evaluation == {"test_accuracy": 0.9} and got.result.params == 1234
    assert got.result.has_model and got.result.features == ("a", "b") and got.result.input_shape == (2,)
    assert got.result.confusion is not None and got.result.confusion["matrix"] == ((9, 1), (1, 9))
    assert got.trial is not None and got.trial["number"] == 0 and got.label == run.id[:8]
    assert thaw(got.spec) == spec and got.spec_json == spec  # the raw JSON, as stored
    assert [r.id for r in list_runs(store, viewer=SYSTEM)] == [run.id]


def test_results_of_every_kind_parse() -> None:
    predict = RunResult.from_json(
        {
            "rows": 10,
            "predicted": 8,
            "removed": {"missing target": 2},
            "target": "y",
            "task": "binary",
            "model_run": "m",
        }
    )
    assert predict.prediction is not None and predict.prediction.removed == {"missing target": 2}
    assert predict.rows == {} and not predict.has_model
    assert RunResult.from_json({"dataset_id": "d" * 32}).dataset_id == "d" * 32
    assert RunResult.from_json(None).evaluation == {}  # a queued run has no result


def test_a_profile_is_typed() -> None:
    profile = Profile.of(
        {
            "n_rows": 3,
            "columns": [
                {"name": "x", "kind": "numeric", "dtype": "float64", "missing": 1, "unique": 2, "flags": []},
                {"name": "image", "kind": "image", "dtype": "binary", "missing": 0, "unique": 3, "flags": []},
                {
                    "name": "label",
                    "kind": "categorical",
                    "dtype": "str",
                    "missing": 0,
                    "unique": 2,
                    "flags": ["x"],
                },
            ],
            "preview": {"columns": ["x", "label"], "rows": [[1.0, "a"]]},
        }
    )
    assert profile.names(images=False) == ["x", "label"] and profile.n_rows == 3
    assert profile.column("label").flags == ("x",)  # type: ignore[union-attr]
    assert profile.preview_rows == ((1.0, "a"),) and Profile.of(profile) is profile
