"""Script runs that save checkpoints can be branched (issue 30): ``run.save_checkpoint`` keeps
arrays under the retention rule; ``track.run(..., branch_from=RUN, epoch=N)`` records the lineage,
continues the curve at the checkpoint's step and hands the script the arrays; an epoch without a
checkpoint names the nearest kept one; objects (pickles) are refused."""

from __future__ import annotations

import numpy as np
import pytest

from core import track
from core.config import AppConfig
from core.errors import DataError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from core.training import branch_history
from core.training import branch_lineage
from core.training import epoch_checkpoints


def test_a_script_run_branches_from_its_checkpoint(config: AppConfig) -> None:
    store = open_store(config)
    w = np.zeros(3)
    with track.run(
        "parent", app_config=config, system_metrics=False, checkpoints={"last": 2, "every": 2}
    ) as run:
        for epoch in range(1, 6):
            w = w + 1.0
            for step in range((epoch - 1) * 10, epoch * 10):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.save_checkpoint(epoch, {"w": w, "b": np.array([epoch])}, metric=1.0 / epoch)
        with pytest.raises(SpecError, match="holds Python objects"):
            run.save_checkpoint(6, {"w": np.array([object()])})
        parent = run.id
    assert [c.epoch for c in epoch_checkpoints(store, parent)] == [2, 4, 5]  # every 2nd, the last 2
    assert [c.step for c in epoch_checkpoints(store, parent)] == [19, 39, 49]

    with pytest.raises(DataError, match="no checkpoint at epoch 3: the nearest kept one is epoch 2"):
        with track.run("nope", app_config=config, branch_from=parent, epoch=3):
            pass
    with pytest.raises(SpecError, match="both `branch_from=RUN` and `epoch=N`"):
        with track.run("half", app_config=config, branch_from=parent):
            pass

    with track.run("child", app_config=config, system_metrics=False, branch_from=parent, epoch=2) as child:
        assert child.restored["w"].tolist() == [2.0, 2.0, 2.0] and child.restored["b"].tolist() == [2]
        assert child.branch is not None and child.branch.step == 19 and child.branch.path.exists()
        for _ in range(5):
            child.log({"loss": 0.01})  # no step: on from the checkpoint's step
    record = get_run(store, child.id, viewer=SYSTEM)
    assert (record.parent_id, record.parent_kind) == (parent, "branched")
    assert record.spec["branch"] == {"run": parent, "epoch": 2, "step": 19}
    assert get_metrics(store, child.id, viewer=SYSTEM)["loss"].steps == [20, 21, 22, 23, 24]
    assert max(branch_history(store, child.id, viewer=SYSTEM)["loss"].steps) == 19
    tree = branch_lineage(store, child.id, viewer=SYSTEM)
    assert tree.run_id == parent and [(c.run_id, c.epoch) for c in tree.children] == [(child.id, 2)]
    assert any(e.kind == "branched" for e in get_events(store, child.id, viewer=SYSTEM))
