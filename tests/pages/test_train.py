from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import SYSTEM
from core.store import get_run
from core.store import list_runs
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.waiting import wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_launch_training_from_the_page(app: AppTest) -> None:
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    open_page(app, "pages/train.py", dataset=ds.id)
    assert app.selectbox(key="train_target").value == "species"
    assert app.selectbox(key="train_task_species").value == "multiclass"
    assert any("parameters" in c.value for c in app.caption)
    app.number_input(key="train_epochs").set_value(2)
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == ds.id)
    wait_until_ended(store, run.id, 180)
    assert get_run(store, run.id, viewer=SYSTEM).status == "succeeded", get_run(
        store, run.id, viewer=SYSTEM
    ).status_reason


def test_cnn_is_not_offered_for_tabular_data_and_bad_widths_are_explained(app: AppTest) -> None:
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    open_page(app, "pages/train.py", dataset=ds.id)
    assert app.selectbox(key="train_template_False_False").options == ["MLP"]
    app.selectbox(key="train_target").set_value("price").run()
    assert app.selectbox(key="train_task_price").value == "regression"
    app.text_input(key="train_hidden").set_value("64, many").run()
    assert "Widths must be whole numbers" in plain(app.error[0].value)


def test_finished_training_run_shows_its_evaluation(app: AppTest) -> None:
    store = open_store(get_config())
    run = next((r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.status == "succeeded"), None)
    if run is None:  # this module's first test trains one; run alone, make one here
        test_launch_training_from_the_page(app)
        run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.status == "succeeded")
    open_page(app, "pages/jobs.py", run=run.id)
    labels = [m.label for m in app.metric]
    assert "validation accuracy" in labels and "validation loss" in labels
    assert any("parameters · rows: train" in c.value for c in app.caption)
    assert len(app.get("plotly_chart")) >= 3  # batch, epoch curves and the confusion matrix


def test_resume_a_stopped_run_from_the_jobs_page(app: AppTest) -> None:
    from core.compute import stop_run
    from core.compute import submit_run
    from core.models import mlp_template
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.training import last_checkpoint
    from pages._ui import _compute

    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    open_page(app, "pages/jobs.py")  # starts the app's cluster
    client = _compute(get_config()).client
    spec = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template().to_dict(),
        epochs=500,
        batch_size=16,
    )
    old = submit_run(client, store, "train", spec.to_dict(), name="long", dataset_id=ds.id, viewer=SYSTEM)
    wait_until(lambda: (last_checkpoint(store, old) or 0) >= 1, timeout=120, what="a first checkpoint")
    stop_run(store, old, client, viewer=SYSTEM)
    assert wait_until_ended(store, old, 120).status == "stopped"
    app.query_params["run"] = old
    app.run()
    epoch = last_checkpoint(store, old)
    app.number_input(key=f"until_{old}").set_value(epoch + 1)
    app.button(key=f"resume_run_{old}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    new = app.query_params["run"]
    new = new[0] if isinstance(new, list) else new
    assert new != old
    wait_until_ended(store, new, 180)
    assert get_run(store, new, viewer=SYSTEM).status == "succeeded", get_run(
        store, new, viewer=SYSTEM
    ).status_reason


def test_tweak_and_rerun_prefills_from_the_source_run_and_records_the_parent(app: AppTest) -> None:
    store = open_store(get_config())
    source = next((r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.status == "succeeded"), None)
    if source is None:
        test_launch_training_from_the_page(app)
        source = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.status == "succeeded")
    open_page(app, "pages/train.py", from_run=source.id)
    assert not app.warning, [w.value for w in app.warning]
    assert app.number_input(key="train_epochs").value == source.spec_json["epochs"]
    assert app.selectbox(key="train_target").value == source.spec_json["pipeline"]["target"]
    template = next(s for s in app.selectbox if s.key and s.key.startswith("train_template_"))
    assert template.value == "From the source run"
    app.number_input(key="train_epochs").set_value(1)
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    child = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.parent_id == source.id)
    assert child.parent_kind == "forked"
    assert child.spec_json["model"] == source.spec_json["model"] and child.spec_json["epochs"] == 1


def test_a_number_out_of_range_launches_nothing_and_launch_names_the_field(app: AppTest) -> None:
    # Issue 27: typed 3000 epochs (the field's range is 1 to 1,000) trained the previous value.
    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    before = {r.id for r in list_runs(store, kind="train", viewer=SYSTEM)}
    open_page(app, "pages/train.py", dataset=ds.id)
    app.number_input(key="train_epochs").set_value(3000)
    app.number_input(key="train_batch").set_value(0).run()
    assert app.number_input(key="train_epochs").value == 3000  # read as typed, not the last valid one
    shown = [plain(e.value) for e in app.error]
    assert "Epochs: between 1 and 1,000." in shown and "Batch size: between 1 and 65,536." in shown
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    message = plain(app.error[-1].value)
    assert message.startswith("Out of range, so nothing was launched: ")
    assert "Epochs must be between 1 and 1,000, but got 3,000" in message
    assert "Batch size must be between 1 and 65,536, but got 0" in message
    assert {r.id for r in list_runs(store, kind="train", viewer=SYSTEM)} == before


def test_a_fork_whose_dataset_is_in_the_trash_says_so_and_who_may_restore_it(app: AppTest) -> None:
    from core.data import delete_dataset
    from core.sharing import local_viewer
    from core.store import Dataset
    from core.store import Run
    from core.store import create_run
    from core.store import new_id

    store = open_store(get_config())
    me = local_viewer()
    ingest_file(store, ASSETS / "iris.csv", "csv", "iris")  # another dataset the page could fall back on
    trashed = new_id()
    with store.session(SYSTEM) as s:
        s.add(Dataset(id=trashed, name="OLD-DATA", content_hash="0" * 64, author=me.name))
    spec = {"type": "train", "pipeline": {"dataset_id": trashed, "target": "y"}, "epochs": 1}
    run = create_run(store, "train", spec, name="forked-from", dataset_id=trashed, author=me.name)
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    delete_dataset(store, trashed, viewer=me)
    open_page(app, "pages/train.py", from_run=run.id)
    assert not app.exception, [e.value for e in app.exception]
    errors = [plain(e.value) for e in app.error]
    said = f"The dataset this run trained on, OLD-DATA ({trashed[:8]}), is in the trash: {me.name} deleted it"
    restore = f"Its owner ({me.name}) or an admin of its project can restore it from the trash"
    assert any(said in e and restore in e for e in errors), errors
    assert not any("no longer exists" in e or "does not exist" in e for e in errors), errors


def _path_of(node, key: str, path: tuple[int, ...] = ()) -> tuple[int, ...] | None:  # type: ignore[no-untyped-def]
    """Where the widget ``key`` is drawn: its delta path, as the browser places it."""
    if getattr(node, "key", None) == key:
        return path
    for index, child in getattr(node, "children", {}).items():
        if (found := _path_of(child, key, (*path, index))) is not None:
            return found
    return None


def test_choosing_a_saved_pipeline_moves_no_widget_below_it(app: AppTest) -> None:
    # A widget drawn at another place is another element in the browser: while the pipeline's
    # rerun probed it on the cluster, the Optimizer was on the page twice, and a pick in the old
    # one was undone (stop 36's CI launched adam). What the pipeline draws stays in its container.
    from core.pipeline import PipelineSpec
    from core.pipeline import create_draft
    from core.pipeline import save_version
    from core.sharing import local_viewer

    store = open_store(get_config())
    ds = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    spec = PipelineSpec.chain(
        ds.id, "species", ["split", {"type": "standardize", "columns": ["sepal_length_cm"]}]
    )
    who = local_viewer()
    saved = save_version(store, create_draft(store, "prep", spec, viewer=who).id, viewer=who)
    open_page(app, "pages/train.py", dataset=ds.id)
    keys = ("train_opt", "train_epochs", "train_launch")
    before = {k: _path_of(app._tree, k) for k in keys}
    assert None not in before.values(), before
    app.selectbox(key="train_pipeline").set_value(saved.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(t.label == "Target (from the pipeline)" for t in app.text_input)
    assert {k: _path_of(app._tree, k) for k in keys} == before
    # The saved pipeline's split is named too, as the default's is.
    assert any(c.value.startswith("Split: ") for c in app.caption)
