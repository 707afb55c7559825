"""Rough edges of issue 17, each seen in a real browser, with accounts off and on: the Optimizer
Lab's two charts agree on each optimizer's colour; a node left unconnected on the pipeline
canvas is outlined in red at once (it took a reload) and a scaler with no columns says so; the
Train page warns before launch when a feature reaches the model unscaled on a scale far from the
others'; Compare takes two runs with the same name; steering markers at one step merge into one
label; the Tune page's state filter offers every state and a trial enqueued on an ended study is
refused; Predict accepts an ``.npz`` upload.

The runs and the study are written into the store before the app starts (finished runs with
their metrics and markers, Optuna trials): what is tested is how the pages show them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from core.config import AppConfig
from core.data import ingest_file
from core.pipeline import PipelineSpec
from core.pipeline import create_draft
from core.pipeline import save_version
from core.sharing import create_user
from core.sharing import local_viewer
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import RunEvent
from core.store import open_store
from tests.conftest import ROOT
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: F401 - the browser fixture's arguments
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import flow_canvas
from tests.e2e.conftest import open_page
from tests.e2e.conftest import pick
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

RED = "rgb(221, 51, 51)"


class Seeded:
    def __init__(self, server: AppServer, user: str | None, **ids: str) -> None:
        self.server, self.user = server, user
        self.iris, self.wine = ids["iris"], ids["wine"]
        self.twins, self.steered, self.study = ids["twins"], ids["steered"], ids["study"]
        self.trial, self.draft = ids["trial"], ids["draft"]


def _finished_run(store, who, name: str, rows: list[tuple[str, int, float]]) -> str:  # type: ignore[no-untyped-def]
    from core.store import Run
    from core.store import create_run
    from core.store import summarize_run
    from core.store import write_metrics

    run = create_run(store, "train", {"type": "train", "note": name}, name=name, author=who.name)
    write_metrics(store, run.id, [(k, step, v, 1000.0 + step) for k, step, v in rows])
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    summarize_run(store, run.id)
    return run.id


def _ended_study(store, who, dataset) -> str:  # type: ignore[no-untyped-def]
    import optuna

    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.store import Study
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import Param
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import create_study
    from core.tuning import load_optuna_study

    base = TrainSpec(
        default_pipeline(dataset.id, "species", dataset.profile, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=3,
    ).to_dict()
    space = SearchSpace((Param("optimizer.learning_rate", "float", 1e-4, 1e-1, log=True),))
    study_id = create_study(store, StudySpec(base, space.to_dict(), n_trials=3), "ended", viewer=who)
    study = load_optuna_study(store.config, study_id)
    for i in range(3):  # complete trials only: the filter must still offer every state
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE,
                value=1.0 / (i + 1),
                params={"optimizer.learning_rate": 10 ** -(1 + i)},
                distributions=space.distributions(),
                intermediate_values={1: 1.0, 2: 0.5},
            )
        )
    with store.session(SYSTEM) as s:
        s.get(Study, study_id).status = "finished"
    return study_id


def _trial_run(store, who, study_id: str) -> str:  # type: ignore[no-untyped-def]
    """A finished trial of the study, as the driver records one (its spec names study and trial)."""
    from core.store import Run
    from core.store import create_run
    from core.store import thaw
    from core.tuning import get_study
    from core.tuning import load_optuna_study

    base = thaw(get_study(store, study_id, viewer=who).spec["base"])
    trial = load_optuna_study(store.config, study_id).trials[1]
    spec = {**base, "epochs": 1, "trial": {"study": study_id, "trial_id": trial._trial_id, "number": 1}}
    run = create_run(store, "train", spec, name="trial 1", study_id=study_id, author=who.name)
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    return run.id


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-edges")
    store = open_store(AppConfig.for_data_dir(root / "data"))
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    who = viewer_for(store, "ann") if on else local_viewer()
    author = who.name
    iris = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris.csv", author=author)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(0, 1, 300) for i in range(6)})
    frame["proline"] = rng.normal(750, 300, 300)  # hundreds of times wider than the rest
    frame["label"] = rng.integers(0, 3, 300)
    frame.to_csv(root / "wine_like.csv", index=False)
    wine = ingest_file(store, root / "wine_like.csv", "csv", "wine_like.csv", author=author)
    partial = PipelineSpec.chain(
        wine.id, "label", ["split", {"type": "standardize", "columns": ["f0", "f1"]}]
    )
    draft = create_draft(store, "two scaled", partial, viewer=who)
    save_version(store, draft.id, viewer=who)
    twins = [
        _finished_run(store, who, "same name", [("epoch/val_loss", 1, 1.0), ("epoch/val_loss", 2, v)])
        for v in (0.5, 0.7)
    ]
    steered = _finished_run(
        store, who, "steered", [("batch/loss", step, 1.0 / step) for step in range(1, 41)]
    )
    with store.session(SYSTEM) as s:  # pause, a new learning rate and resume, all before step 20
        for action, value in (("pause", None), ("set_lr", 0.01), ("resume", None)):
            message = json.dumps({"action": action, "step": 20, "value": value})
            s.add(RunEvent(run_id=steered, kind="marker", message=message))
    study = _ended_study(store, who, iris)
    trial = _trial_run(store, who, study)
    store.engine.dispose()
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(
        server,
        user,
        iris=iris.id,
        wine=wine.id,
        twins=",".join(twins),
        steered=steered,
        study=study,
        trial=trial,
        draft=draft.id,
    )
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


_TRACE_COLOURS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    el => Object.fromEntries((el._fullData || []).filter(t => t.type === 'scatter' || t.type === 'scattergl')
        .map(t => [t.name, t.line && t.line.color])))"""


def test_optimizer_lab_charts_agree_on_colours(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/optimizer_lab")
    pg.get_by_text("Optimizers (1-4)").wait_for()
    wait_until(
        lambda: (
            len(pg.evaluate(_TRACE_COLOURS)) == 2 and all(len(c) == 3 for c in pg.evaluate(_TRACE_COLOURS))
        ),
        timeout=60,
        interval=0.5,
        what="both Lab charts with three optimizers",
    )
    paths, losses = pg.evaluate(_TRACE_COLOURS)
    assert set(paths) == {"sgd", "momentum", "adam"}
    assert paths == losses, f"the contour and the loss chart disagree: {paths} vs {losses}"
    assert len(set(paths.values())) == 3


def test_unconnected_node_is_outlined_at_once(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/pipeline")
    pg.get_by_text("New pipeline").click()  # folded: the seeded pipeline exists
    name = pg.get_by_label("Name")
    name.fill("edges")
    name.press("Enter")
    pick(pg, "Dataset", "iris.csv · 150 rows")
    pg.wait_for_timeout(1000)  # the pick reruns the page; a click during a rerun can be lost
    pg.get_by_role("button", name="Create").click()
    wait_until(
        lambda: pg.get_by_role("combobox", name="Pipeline", exact=True).input_value() == "edges",
        timeout=30,
        interval=0.2,
        what="the new pipeline to open",
    )
    frames = pg.locator("iframe[title='streamlit_flow.streamlit_flow']")
    wait_until(lambda: frames.count() == 1, timeout=30, interval=0.2, what="the old canvas to go")
    canvas = flow_canvas(pg)
    canvas.get_by_text("Train/validation/test split (s1)").wait_for()
    pg.wait_for_timeout(1000)  # let the page settle: a rerun closes an open list
    box = pg.get_by_role("combobox", name="Add a step")
    box.click()
    box.fill("Standardize")
    pg.get_by_role("option", name="Standardize (z-score)", exact=True).click()
    pg.get_by_role("button", name="Add step").click()
    node = canvas.locator('.react-flow__node[data-id="s2"]')
    node.wait_for()
    # A new Standardize starts on the numeric features: nothing to flag.
    assert RED not in (node.get_attribute("style") or "")
    pg.locator("iframe[title='streamlit_flow.streamlit_flow']").last.scroll_into_view_if_needed()
    canvas.locator('[data-testid="rf__edge-s1-s2"]').click(button="right", force=True)
    canvas.get_by_text("Delete Edge").click()
    wait_until(
        lambda: RED in (node.get_attribute("style") or ""),
        timeout=10,
        interval=0.2,
        what="the unconnected node's red outline, without a reload",
    )
    assert canvas.locator('[data-testid="rf__edge-s1-s2"]').count() == 0
    assert "Traceback" not in pg.content()


def test_train_warns_about_an_unscaled_feature(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/train?dataset={seeded.wine}")
    pick(pg, "Pipeline", "two scaled v1")
    pg.get_by_text("'proline'").wait_for()
    assert "'f3'" not in pg.get_by_test_id("stAlertContentWarning").inner_text()
    # Loom's default pipeline scales every feature: no warning.
    pg.goto(f"{url}/train?dataset={seeded.iris}")
    pg.get_by_role("button", name="Launch").wait_for()
    pg.wait_for_timeout(1000)
    assert pg.get_by_text("are not scaled").count() == 0


def test_a_number_out_of_range_launches_nothing(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    # Issue 27: 3000 typed in Epochs (range 1 to 1,000) showed a range error, and Launch trained
    # the previous value. Now the field reads what was typed, says so, and Launch names it.
    pg.goto(f"{seeded.server.url}/train?dataset={seeded.iris}")
    pg.get_by_text(re.compile(r"Input \(.*\) · [0-9,]+ parameters")).wait_for()
    box = pg.get_by_label("Epochs")
    box.fill("3000")
    box.press("Enter")
    pg.get_by_text("Epochs: between 1 and 1,000.").wait_for()
    pg.get_by_role("button", name="Launch").click()
    pg.get_by_text(
        "Out of range, so nothing was launched: Epochs must be between 1 and 1,000, but got 3,000"
    ).wait_for()
    assert "/train" in pg.url and "run=" not in pg.url
    box.fill("2")  # back in range: the field's message goes
    box.press("Enter")
    wait_until(lambda: pg.get_by_text("Epochs: between 1 and 1,000.").count() == 0, timeout=15)


def test_a_scaler_with_no_columns_says_so(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/pipeline?pipeline={seeded.draft}&node=s2")
    canvas = flow_canvas(pg)
    pg.get_by_role("heading", name="Standardize (z-score) (s2)").wait_for()
    pg.wait_for_timeout(1000)  # settled: a click during a rerun can be lost

    def cleared_and_applied() -> bool:
        if canvas.get_by_text("has no columns").count():
            return True
        clear = pg.get_by_role("button", name="Clear all")
        if clear.count():
            clear.first.click()  # the two columns
        pg.get_by_role("button", name="Apply").click()
        pg.wait_for_timeout(2000)
        return canvas.get_by_text("has no columns").count() > 0

    wait_until(cleared_and_applied, timeout=60, interval=0.5, what="the scaler flagged on its node")
    node = canvas.locator('.react-flow__node[data-id="s2"]')
    assert RED in (node.get_attribute("style") or "")
    pg.get_by_text("Node 's2': Standardize (z-score) has no columns").first.wait_for()


def test_compare_takes_runs_with_the_same_name(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    a, b = seeded.twins.split(",")
    pg.goto(f"{seeded.server.url}/compare?runs={seeded.twins}")
    pg.get_by_text(f"same name ({a[:6]})").first.wait_for()
    pg.get_by_text(f"same name ({b[:6]})").first.wait_for()
    assert "Duplicate column" not in pg.content()


def test_markers_at_one_step_merge(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/jobs?run={seeded.steered}")
    script = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(
        el => ((el.layout && el.layout.annotations) || []).map(a => a.text))"""
    wait_until(lambda: pg.evaluate(script), timeout=60, interval=0.5, what="the batch chart's markers")
    labels = pg.evaluate(script)
    assert labels == ["pause + set_lr 0.01 + resume"], labels


def test_tune_filter_and_enqueue_on_an_ended_study(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    pg.goto(f"{seeded.server.url}/tune?study={seeded.study}")
    states = pg.get_by_test_id("stMultiSelect").filter(has_text="Show trials")
    states.wait_for()
    offered = states.inner_text()
    for state in ("complete", "running", "pruned", "fail", "waiting"):
        assert state in offered, offered
    # A trial enqueued on an ended study would wait forever: refused, saying why.
    pg.get_by_text("Enqueue a trial with hand-picked values").click()
    pg.get_by_label("learning rate", exact=False).first.fill("0.01")
    pg.get_by_role("button", name="Enqueue").click()
    pg.get_by_text("This study has finished").wait_for()


def test_a_promoted_trial_is_named_after_its_study_and_predict_takes_npz(
    seeded: Seeded, pg, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    pg.goto(f"{url}/train?from_run={seeded.trial}")
    pg.get_by_text("Starting from a tuning trial").wait_for()
    pg.get_by_text(re.compile(r"Input \(.*\) · [0-9,]+ parameters")).wait_for()
    pg.wait_for_timeout(500)
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
    run_id = pg.url.split("run=")[1][:32]
    picked = pg.get_by_role("combobox", name="Run", exact=True)
    wait_until(  # not "From the source run on …"
        lambda: picked.input_value().startswith(f"ended · trial 1 · {run_id[:6]}"),
        timeout=30,
        interval=0.2,
        what=lambda: f"the run named after its study and trial, not {picked.input_value()!r}",
    )
    wait_until(
        lambda: pg.get_by_text("succeeded").count() > 0,
        timeout=120,
        interval=1,
        what="the promoted run to finish",
    )
    # Predict takes every format Data takes: .npz was refused ("files are not allowed").
    np.savez(tmp_path / "rows.npz", x=np.ones((3, 4), dtype="float32"))
    pg.goto(f"{url}/predict?model={run_id}")
    pg.get_by_text("New rows (the training data's columns").wait_for()
    pg.wait_for_timeout(1000)  # the page settles (an upload during a rerun can be dropped)

    def uploaded() -> bool:
        if pg.get_by_text("rows.npz").count() == 0:
            pg.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(tmp_path / "rows.npz"))
            pg.wait_for_timeout(1000)
        return pg.get_by_text("rows.npz").count() > 0

    wait_until(uploaded, timeout=30, interval=0.5, what="the .npz upload to be taken")
    assert pg.get_by_text("not allowed").count() == 0
