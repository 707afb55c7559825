"""Studies that learn from people on the Tune and Train pages (issue 30): "Add hand runs" lists a
hand run, refuses one outside the space with its reason, adds the other as a trial shown as a
hand run; "Open next suggestion in Train" keeps one suggestion, whose Train form is prefilled from
the URL and whose launch becomes that trial's run."""

from __future__ import annotations

import copy

from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Run
from core.store import create_run
from core.store import list_runs
from core.store import open_store
from core.store import summarize_run
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import create_study
from core.tuning import load_optuna_study
from core.tuning import suggest_next
from tests.conftest import ROOT
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def _frame(app: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The table on screen with ``column`` (AppTest finds dataframes by position, not key)."""
    return next(d.value for d in app.dataframe if column in d.value.columns)


LR = Param("optimizer.learning_rate", "float", 1e-4, 1e-1, log=True)


def _study_and_runs(learn: bool = False) -> tuple[str, str, str]:
    store = open_store(get_config())
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=2,
    ).to_dict()
    spec = StudySpec(base, SearchSpace((LR,)).to_dict(), learn_from_hand_runs=learn)
    study_id = create_study(store, spec, "people", viewer=SYSTEM)
    runs = []
    for lr, name in ((0.02, "inside"), (0.5, "outside")):
        spec = copy.deepcopy(base)
        spec["optimizer"]["learning_rate"] = lr
        run = create_run(store, "train", spec, name=f"hand {name}", dataset_id=ds.id)
        write_metrics(store, run.id, [("epoch/val_loss", 1, 0.7, 0.0), ("epoch/val_loss", 2, 0.4, 0.0)])
        summarize_run(store, run.id)
        with store.session(SYSTEM) as s:
            s.execute(update(Run).where(Run.id == run.id).values(status="succeeded"))
        runs.append(run.id)
    return study_id, runs[0], runs[1]


def test_add_a_hand_run_on_the_tune_page(app: AppTest) -> None:
    study_id, inside, outside = _study_and_runs()
    open_page(app, "pages/tune.py", study=study_id)
    assert not any("learns from hand runs" in c.value for c in app.caption)
    table = _frame(app, "can join")
    reasons = dict(zip(table["run"], table["can join"], strict=True))
    assert reasons["hand inside"] == "yes"
    assert "learning rate is outside the study's space" in reasons["hand outside"]
    assert app.multiselect(key="hand_runs_pick").options == ["hand inside"]
    app.multiselect(key="hand_runs_pick").set_value([inside])
    app.button(key="add_hand_runs").click().run()
    assert not app.exception and not app.error, [plain(e.value) for e in app.error]
    (trial,) = load_optuna_study(get_config(), study_id).get_trials()
    assert trial.user_attrs["hand_run"] == inside and trial.value == 0.4
    frame = _frame(app, "source")
    assert list(frame["source"]) == ["hand run"] and list(frame["run"]) == [inside]
    assert any(inside[:8] in link.label for link in app.get("page_link"))
    assert outside not in str(_frame(app, "can join")["run"].tolist())
    # The hand run counts toward the study's trials (the driver asks one fewer), and says so.
    captions = [plain(c.value) for c in app.caption]
    said = "20 trials (1 of them hand runs or launched suggestions), 2 at once"
    assert any(said in c for c in captions), captions


def test_the_next_suggestion_opens_prefilled_in_train_and_its_launch_is_the_trial(app: AppTest) -> None:
    study_id, _, _ = _study_and_runs()
    open_page(app, "pages/tune.py", study=study_id)
    app.button(key="open_suggestion").click().run()
    assert not app.exception, [e.value for e in app.exception]
    store = open_store(get_config())
    (trial,) = load_optuna_study(store.config, study_id).get_trials()
    assert trial.state.name == "RUNNING" and trial.user_attrs["suggested"]
    # A second click (or a reload of Tune) reuses the open suggestion.
    assert suggest_next(store, study_id, viewer=SYSTEM).number == trial.number

    train = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(train, "pages/train.py", suggestion=study_id, trial=str(trial.number))
    assert any("suggestion" in plain(i.value) for i in train.info)
    assert train.number_input(key="train_lr").value == trial.params["optimizer.learning_rate"]
    assert train.number_input(key="train_epochs").value == 2
    train.button(key="train_launch").click().run()
    assert not train.exception, [e.value for e in train.exception]
    assert not train.error, [plain(e.value) for e in train.error]
    told = load_optuna_study(store.config, study_id).get_trials()[0]
    run_id = told.user_attrs["loom_run"]
    assert told.user_attrs["hand_run"] == run_id
    launched = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.id == run_id)
    assert launched.parent_id is None and "suggestion 0" in launched.name

    stale = AppTest.from_file(app._script_path, default_timeout=60)  # the same link again
    open_page(stale, "pages/train.py", suggestion=study_id, trial=str(trial.number))
    assert any("launched already" in plain(e.value) for e in stale.error)


def test_a_study_that_learns_from_hand_runs_takes_them_in_when_shown(app: AppTest) -> None:
    study_id, inside, _ = _study_and_runs(learn=True)
    open_page(app, "pages/tune.py", study=study_id)
    assert any("· learns from hand runs ·" in c.value for c in app.caption)
    (trial,) = load_optuna_study(get_config(), study_id).get_trials()
    assert trial.user_attrs["hand_run"] == inside  # the one inside the space; the other is refused
    assert list(_frame(app, "source")["source"]) == ["hand run"]
