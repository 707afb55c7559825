"""Studies that learn from people (issue 30): hand runs join a study as completed trials, by
selection and automatically, once each, refused with the setting that falls outside the space;
the study's next suggestion is asked once, launched as suggested (told when its run ends) or
with changes (failed, and the run joins as a hand run). On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from optuna.trial import TrialState
from sqlalchemy import update

from core.data import ingest_file
from core.errors import NotFoundError
from core.errors import SpecError
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.store import SYSTEM
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import get_events
from core.store import summarize_run
from core.store import write_metrics
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import SearchSpace
from core.tuning import StudySpec
from core.tuning import add_hand_runs
from core.tuning import claim_suggestion
from core.tuning import create_study
from core.tuning import hand_run_candidates
from core.tuning import study_trials
from core.tuning import suggest_next
from core.tuning import sync_hand_runs

ASSETS = Path(__file__).resolve().parents[3] / "assets"
LR = Param("optimizer.learning_rate", "float", 1e-4, 0.1, log=True)
UNITS = Param("model.layers.0.units", "int", 4, 32)
ADA = Viewer.local("ada")


@pytest.fixture
def base(store: Store) -> dict:
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    return TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=2,
    ).to_dict()


def _study(store: Store, base: dict, *, learn: bool = False, sampler: str = "random") -> str:
    spec = StudySpec(base, SearchSpace((LR, UNITS)).to_dict(), sampler=sampler, learn_from_hand_runs=learn)
    return create_study(store, spec, viewer=ADA)


def _hand_run(
    store: Store, base: dict, lr: float, units: int = 8, *, status: str = "succeeded", loss: float = 0.5
) -> str:
    spec = copy.deepcopy(base)
    spec["optimizer"]["learning_rate"] = lr
    spec["model"]["layers"][0]["units"] = units
    run = create_run(
        store, "train", spec, name=f"hand {lr}", dataset_id=spec["pipeline"]["dataset_id"], author="ada"
    )
    write_metrics(store, run.id, [("epoch/val_loss", 1, loss + 0.2, 0.0), ("epoch/val_loss", 2, loss, 0.0)])
    summarize_run(store, run.id)
    _set_status(store, run.id, status)
    return run.id


def _set_status(store: Store, run_id: str, status: str) -> None:
    with store.session(SYSTEM) as s:
        s.execute(update(Run).where(Run.id == run_id).values(status=status))


def _trials(store: Store, study_id: str) -> list:
    return study_trials(store, study_id, viewer=SYSTEM).get_trials(deepcopy=False)


def test_selected_hand_runs_join_as_completed_trials_once_and_outsiders_are_refused(store, base) -> None:  # type: ignore[no-untyped-def]
    study_id = _study(store, base)
    good = _hand_run(store, base, 0.01, 16, loss=0.3)
    outside = _hand_run(store, base, 0.5)  # the learning rate is above the space's 0.1
    running = _hand_run(store, base, 0.01, status="running")

    candidates = {c.run_id: c for c in hand_run_candidates(store, study_id, viewer=ADA)}
    assert candidates[good].reason == "" and candidates[good].objective == (pytest.approx(0.3),)
    assert candidates[good].values == {LR.path: 0.01, UNITS.path: 16}
    assert "learning rate is outside the study's space" in candidates[outside].reason
    assert "optimizer.learning_rate=0.5" in candidates[outside].reason
    assert "has not finished (running)" in candidates[running].reason

    with pytest.raises(SpecError, match="learning rate is outside the study's space"):
        add_hand_runs(store, study_id, [outside], viewer=ADA)
    assert add_hand_runs(store, study_id, [good], viewer=ADA) == {good: 0}
    (trial,) = _trials(store, study_id)
    assert trial.state == TrialState.COMPLETE and trial.value == pytest.approx(0.3)
    assert trial.params == {LR.path: 0.01, UNITS.path: 16}
    assert trial.user_attrs["hand_run"] == good and trial.user_attrs["loom_run"] == good
    assert any(e.kind == "hand_run" and study_id in e.message for e in get_events(store, good, viewer=SYSTEM))
    # No double-add: refused, and no longer offered.
    with pytest.raises(SpecError, match="joined this study already"):
        add_hand_runs(store, study_id, [good], viewer=ADA)
    assert good not in {c.run_id for c in hand_run_candidates(store, study_id, viewer=ADA)}
    assert len(_trials(store, study_id)) == 1
    with pytest.raises(SpecError, match="at least one run"):
        add_hand_runs(store, study_id, [], viewer=ADA)


def test_two_requests_at_once_add_a_run_once(store, base) -> None:  # type: ignore[no-untyped-def]
    study_id = _study(store, base)
    run_id = _hand_run(store, base, 0.01)

    def add() -> str:
        try:
            add_hand_runs(store, study_id, [run_id], viewer=ADA)
        except SpecError as exc:
            return str(exc)
        return "added"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: add(), range(2)))
    assert outcomes.count("added") == 1
    assert any("joined this study already" in o for o in outcomes)
    assert len(_trials(store, study_id)) == 1


def test_only_the_owner_adds_and_other_datasets_and_families_are_refused(store, base) -> None:  # type: ignore[no-untyped-def]
    study_id = _study(store, base)
    run_id = _hand_run(store, base, 0.01)
    with pytest.raises(NotFoundError):  # not shared with bob: not there, to him
        add_hand_runs(store, study_id, [run_id], viewer=Viewer(name="bob"))
    other = copy.deepcopy(base)
    other["pipeline"]["dataset_id"] = "elsewhere"
    run = create_run(store, "train", other, author="ada")
    _set_status(store, run.id, "succeeded")
    with pytest.raises(SpecError, match="another dataset"):
        add_hand_runs(store, study_id, [run.id], viewer=ADA)


def test_a_study_that_learns_from_hand_runs_takes_the_owners_new_runs_when_they_end(store, base) -> None:  # type: ignore[no-untyped-def]
    learner = _study(store, base, learn=True)
    plain = _study(store, base)
    run_id = _hand_run(store, base, 0.02, status="running")
    assert sync_hand_runs(store, learner) == []  # not finished yet
    _set_status(store, run_id, "succeeded")
    assert sync_hand_runs(store, learner) == [0]
    assert sync_hand_runs(store, learner) == []  # once
    assert _trials(store, learner)[0].user_attrs["hand_run"] == run_id
    assert sync_hand_runs(store, plain) == [] and _trials(store, plain) == []


def test_the_next_suggestion_is_asked_once_and_its_run_is_told_when_it_ends(store, base) -> None:  # type: ignore[no-untyped-def]
    study_id = _study(store, base, sampler="tpe")
    first = suggest_next(store, study_id, viewer=ADA)
    again = suggest_next(store, study_id, viewer=ADA)
    assert again.number == first.number and again.values == first.values  # an open one is reused
    assert set(first.values) == {LR.path, UNITS.path}
    assert first.train["optimizer"]["learning_rate"] == first.values[LR.path]
    (trial,) = _trials(store, study_id)
    assert trial.state == TrialState.RUNNING and trial.user_attrs["suggested"]

    run_id = _hand_run(
        store, base, first.values[LR.path], first.values[UNITS.path], status="running", loss=0.25
    )
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, run_id).spec_json)
    message = claim_suggestion(store, study_id, first.number, run_id, train, viewer=ADA)
    assert "runs as suggested" in message
    with pytest.raises(SpecError, match="launched already"):
        claim_suggestion(store, study_id, first.number, run_id, train, viewer=ADA)
    assert suggest_next(store, study_id, viewer=ADA).number == first.number + 1  # a new one
    assert sync_hand_runs(store, study_id) == []  # still running
    _set_status(store, run_id, "succeeded")
    assert sync_hand_runs(store, study_id) == [first.number]
    told = _trials(store, study_id)[first.number]
    assert told.state == TrialState.COMPLETE and told.value == pytest.approx(0.25)
    assert told.user_attrs["loom_run"] == run_id


def test_a_suggestion_launched_with_changes_fails_and_its_run_joins_as_a_hand_run(store, base) -> None:  # type: ignore[no-untyped-def]
    study_id = _study(store, base)
    suggestion = suggest_next(store, study_id, viewer=ADA)
    lr = 0.0123 if suggestion.values[LR.path] != 0.0123 else 0.02
    run_id = _hand_run(store, base, lr, suggestion.values[UNITS.path], status="running", loss=0.4)
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, run_id).spec_json)
    message = claim_suggestion(store, study_id, suggestion.number, run_id, train, viewer=ADA)
    assert "joins the study as a hand run" in message and "optimizer.learning_rate" in message
    failed = _trials(store, study_id)[suggestion.number]
    assert failed.state == TrialState.FAIL and "launched with changes" in failed.user_attrs["outcome"]
    _set_status(store, run_id, "succeeded")
    (number,) = sync_hand_runs(store, study_id)
    joined = _trials(store, study_id)[number]
    assert joined.state == TrialState.COMPLETE and joined.params[LR.path] == pytest.approx(lr)
    assert sync_hand_runs(store, study_id) == []


def test_a_suggestion_launched_as_a_seed_group_learns_every_seeds_result(store, base) -> None:  # type: ignore[no-untyped-def]
    """The Train form's "Repeat with N seeds" on a suggestion: the first run is the trial, the
    group's other seeds join as hand runs when they end (each with its own result)."""
    study_id = _study(store, base, sampler="tpe")
    first = suggest_next(store, study_id, viewer=ADA)
    lr, units = first.values[LR.path], first.values[UNITS.path]
    group = [_hand_run(store, base, lr, units, status="running", loss=loss) for loss in (0.25, 0.3, 0.35)]
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, group[0]).spec_json)
    message = claim_suggestion(
        store, study_id, first.number, group[0], train, viewer=ADA, seed_runs=group[1:]
    )
    assert "runs as suggested" in message
    assert "The seed group's other 2 runs join as hand runs when they end." in message
    assert sync_hand_runs(store, study_id) == []  # all still running
    for run_id in group:
        _set_status(store, run_id, "succeeded")
    told = sync_hand_runs(store, study_id)
    assert len(told) == 3 and first.number in told
    trials = {t.user_attrs.get("loom_run"): t for t in _trials(store, study_id)}
    assert [trials[r].value for r in group] == pytest.approx([0.25, 0.3, 0.35])
    assert all(trials[r].state == TrialState.COMPLETE for r in group)
    assert sync_hand_runs(store, study_id) == []  # once

    # With changes: the suggestion fails, and every seed joins as a hand run.
    second = suggest_next(store, study_id, viewer=ADA)
    lr = 0.0123 if second.values[LR.path] != 0.0123 else 0.02
    changed = [_hand_run(store, base, lr, second.values[UNITS.path], status="running") for _ in range(2)]
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, changed[0]).spec_json)
    message = claim_suggestion(
        store, study_id, second.number, changed[0], train, viewer=ADA, seed_runs=changed[1:]
    )
    assert (
        "Launched with changes" in message
        and "The seed group's other run joins as a hand run when it ends." in message
    )
    for run_id in changed:
        _set_status(store, run_id, "succeeded")
    assert len(sync_hand_runs(store, study_id)) == 2


def test_hand_runs_and_launched_suggestions_count_toward_n_trials(store, base) -> None:  # type: ignore[no-untyped-def]
    """As Optuna's MaxTrialsCallback counts a trial added with add_trial, the driver counts what
    people add (core.tuning.count_trials, read when it starts and after each sync while it
    runs): a hand run and a launched suggestion count, an open suggestion, a queued trial and
    a retry do not."""
    import optuna

    from core.tuning import count_trials
    from core.tuning._storage import optuna_storage

    study_id = _study(store, base, sampler="tpe")
    assert count_trials(_trials(store, study_id)) == (0, 0)
    add_hand_runs(store, study_id, [_hand_run(store, base, 0.01, 16, loss=0.3)], viewer=ADA)
    assert count_trials(_trials(store, study_id)) == (1, 1)

    first = suggest_next(store, study_id, viewer=ADA)
    assert count_trials(_trials(store, study_id)) == (1, 1)  # open: nobody launched it yet
    run_id = _hand_run(store, base, first.values[LR.path], first.values[UNITS.path], status="running")
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, run_id).spec_json)
    claim_suggestion(store, study_id, first.number, run_id, train, viewer=ADA)
    assert count_trials(_trials(store, study_id)) == (2, 2)  # launched: the study's trial now

    # The driver's own: an asked trial counts, a queued one and a retry do not.
    study = optuna.load_study(study_name=study_id, storage=optuna_storage(store.config))
    own = study.ask()
    study.tell(own, 0.5)
    study.enqueue_trial({LR.path: 0.01, UNITS.path: 8}, user_attrs={"retry_of": own.number})
    assert count_trials(_trials(store, study_id)) == (3, 2)
    retry = study.ask()
    assert retry.user_attrs.get("retry_of") == own.number
    assert count_trials(_trials(store, study_id)) == (3, 2)

    # Launched with changes: the failed suggestion does not count, its run once, when it joins.
    second = suggest_next(store, study_id, viewer=ADA)
    lr = 0.0123 if second.values[LR.path] != 0.0123 else 0.02
    changed = _hand_run(store, base, lr, second.values[UNITS.path], status="running", loss=0.2)
    with store.session(SYSTEM) as s:
        train = dict(s.get(Run, changed).spec_json)
    assert "with changes" in claim_suggestion(store, study_id, second.number, changed, train, viewer=ADA)
    assert count_trials(_trials(store, study_id)) == (3, 2)
    _set_status(store, changed, "succeeded")
    assert len(sync_hand_runs(store, study_id)) == 1
    assert count_trials(_trials(store, study_id)) == (4, 3)
