"""The Tune page's population-based training: the form's refusals, and a population's view
(family tree, every member's curve, the events) with kill, clone and freeze recorded as events.
The population here is written to the store as its driver would write it; the live timer and a
real population are the browser test's (tests/e2e/test_pbt.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.compute import transition
from core.compute._lifecycle import Started
from core.config import get_config
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import RunEvent
from core.store import create_run
from core.store import open_store
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import PBTSpec
from core.tuning import SearchSpace
from core.tuning._pbt import create_pbt
from core.tuning._pbt import read_pbt_events
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_tune import _base_run

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SPACE = SearchSpace(
    (Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True), Param("batch_size", "int", 8, 64))
)


def _population(store) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
    ).to_dict()
    spec = PBTSpec(base, SPACE.to_dict(), members=2, interval=1, epochs=3, seed=1)
    study_id = create_pbt(store, spec, "page population", viewer=SYSTEM)
    driver = create_run(store, "pbt", {"study": study_id}, study_id=study_id)
    transition(store, driver.id, Started(worker="inline"))
    events = []
    runs = {}
    for member, lr in ((0, 0.01), (1, 0.2)):
        run = create_run(store, "train", base, study_id=study_id)
        runs[member] = run.id
        write_metrics(store, run.id, [("epoch/val_loss", 1, 0.5 + member, time.time())])
        values = {"optimizer.learning_rate": lr, "batch_size": 32}
        events.append(
            {"event": "segment", "member": member, "run": run.id, "start": 0, "end": 1, "values": values}
        )
    branch = create_run(store, "train", base, study_id=study_id, parent_id=runs[0], parent_kind="branched")
    events.append(
        {
            "event": "exploit",
            "who": "population",
            "member": 1,
            "from_member": 0,
            "from_epoch": 1,
            "changes": {"optimizer.learning_rate": [0.2, 0.012]},
        }
    )
    events.append(
        {
            "event": "segment",
            "member": 1,
            "run": branch.id,
            "start": 1,
            "end": 2,
            "parent": runs[0],
            "why": "exploit",
            "values": {"optimizer.learning_rate": 0.012, "batch_size": 32},
        }
    )
    with store.session(SYSTEM) as s:
        for data in events:
            s.add(RunEvent(run_id=driver.id, kind="pbt", message=json.dumps(data)))
    return study_id, driver.id


def test_a_population_shows_its_tree_curves_and_events_and_takes_actions(app: AppTest) -> None:
    store = open_store(get_config())
    study_id, driver = _population(store)
    open_page(app, "pages/tune.py", study=study_id)
    assert not app.error, [plain(e.value) for e in app.error]
    assert any(
        "Population-based training · 2 members × 3 epochs" in c.value
        and "each setting redrawn from the space with chance 25%" in c.value
        for c in app.caption
    )
    assert len(app.get("plotly_chart")) == 2  # the family tree and every member's curve
    events = [plain(m.value) for m in app.markdown if m.value.startswith("- ")]
    assert len(events) == 1
    assert events[0].endswith("member 1 copied member 0 at epoch 1; optimizer.learning_rate 0.2 → 0.012")
    app.selectbox(key="pbt_freeze_path").set_value("batch_size")
    app.button(key="pbt_freeze").click().run()
    app.selectbox(key="pbt_member").set_value(1)
    app.number_input(key="pbt_clone_optimizer.learning_rate").set_value(0.05)
    app.button(key="pbt_clone").click().run()
    app.selectbox(key="pbt_member").set_value(0)
    app.button(key="pbt_kill").click().run()
    assert not app.exception and not app.error, [plain(e.value) for e in app.error]
    acted = [
        (e.event, e.member, e.data)
        for e in read_pbt_events(store, driver)
        if e.event in ("kill", "clone", "freeze")
    ]
    assert acted == [
        ("freeze", None, {"path": "batch_size"}),
        ("clone", 1, {"values": {"optimizer.learning_rate": 0.05, "batch_size": 32}}),
        ("kill", 0, {}),
    ]
    app.run()
    whats = [plain(m.value) for m in app.markdown if m.value.startswith("- ")]
    assert any("froze batch_size" in w for w in whats) and any("killed member 0" in w for w in whats)


def test_the_form_refuses_a_population_of_one_with_the_rule(app: AppTest) -> None:
    base = _base_run(app)
    open_page(app, "pages/tune.py", base=base)
    app.radio(key="tune_kind").set_value("Population-based training").run()
    assert not app.number_input(key="pbt_resample").disabled  # perturb: some settings redrawn
    app.selectbox(key="pbt_explore").set_value("resample").run()
    assert app.number_input(key="pbt_resample").disabled  # every setting is redrawn anyway
    app.selectbox(key="pbt_explore").set_value("perturb").run()
    app.number_input(key="pbt_members").set_value(1)
    app.button(key="pbt_start").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("`members >= 2` must hold, but got members=1" in plain(e.value) for e in app.error)
    app.number_input(key="pbt_members").set_value(2)
    app.number_input(key="pbt_epochs").set_value(2)
    app.number_input(key="pbt_interval").set_value(3)
    app.button(key="pbt_start").click().run()
    assert any("`1 <= interval <= epochs` must hold" in plain(e.value) for e in app.error)
