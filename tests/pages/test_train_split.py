"""The Train page says which split Loom's default pipeline chose: the dataset's own split column
when it has one (MNIST-like data), else the random split."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import open_store
from tests.mnist_like import write_npz
from tests.pages.conftest import open_page

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_the_train_page_says_which_split_the_default_pipeline_chose(app: AppTest, tmp_path: Path) -> None:
    store = open_store(get_config())
    path = tmp_path / "digits.npz"
    write_npz(path, n_train=40, n_test=10)
    digits = ingest_file(store, path, "npz", "digits")
    open_page(app, "pages/train.py", dataset=digits.id)
    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption]
    assert "Split: by the dataset's own `split` column (its train/validation/test rows)." in captions

    iris = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    open_page(app, "pages/train.py", dataset=iris.id)
    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption]
    assert "Split: stratified, 20% validation (seed 0)." in captions
    assert not any("own `" in c for c in captions)


def test_validate_on_another_dataset_beside_the_split(app: AppTest, tmp_path: Path) -> None:
    """As Keras's validation_data: the test file validates, every training row trains; a dataset
    whose columns or classes differ is named and refused at Launch, nothing stored."""
    from core.store import SYSTEM
    from core.store import list_runs
    from tests.conftest import wait_until_ended
    from tests.pages.conftest import plain

    store = open_store(get_config())
    write_npz(tmp_path / "train.npz", n_train=64, n_test=0, seed=1)
    write_npz(tmp_path / "test.npz", n_train=0, n_test=20, seed=2)
    train = ingest_file(store, tmp_path / "train.npz", "npz", "digits train")
    test = ingest_file(store, tmp_path / "test.npz", "npz", "digits test")
    iris = ingest_file(store, ASSETS / "iris.csv", "csv", "iris")
    open_page(app, "pages/train.py", dataset=train.id)
    choice = app.selectbox(key="train_validation")
    assert choice.value == "split"
    assert choice.options[0] == "The split's held-out rows"
    assert any(o.startswith("digits test") for o in choice.options)
    assert not any(o.startswith("digits train") for o in choice.options)  # not itself
    template = app.selectbox(key="train_template_True_False")
    assert template.value == "cnn_article"  # the article's network first for images
    assert template.options[0].startswith("CNN (TensorFlow MNIST article)")
    assert template.options[1].startswith("CNN (keras.io MNIST example)")
    assert any("693,962 parameters" in c.value for c in app.caption)

    # A dataset that differs: named beside the split, refused at Launch.
    choice.set_value(iris.id).run()
    assert not app.exception, [e.value for e in app.exception]
    errors = [plain(e.value) for e in app.error]
    assert any("Validation dataset 'iris' differs from the training data" in e for e in errors), errors
    assert any("lacks column(s) ['image', 'label', 'split']" in e for e in errors), errors
    app.button(key="train_launch").click().run()
    assert not [r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == train.id]

    app.selectbox(key="train_validation").set_value(test.id).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    captions = [c.value for c in app.caption]
    assert any(
        "Trains on all 64 rows of digits train (the split is skipped); validates on the 20 rows" in c
        for c in captions
    ), captions
    app.number_input(key="train_epochs").set_value(1)
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == train.id)
    assert run.spec_json["validation_dataset"] == test.id
    assert (
        run.spec_json["model"]["layers"][0]["type"] == "conv2d" and len(run.spec_json["model"]["layers"]) == 4
    )
    run = wait_until_ended(store, run.id, 180)
    assert run.status == "succeeded", run.status_reason
    assert run.result_json["rows"] == {"train": 64, "validation": 20, "test": 0}
    # The run's specs show what it validated on.
    open_page(app, "pages/jobs.py", run=run.id)
    shown = [plain(m.value) for m in app.markdown]
    assert any(f"validation_dataset: `{test.name} ({test.id[:8]})`" in m for m in shown), shown
    # Tweak and rerun validates on the same dataset.
    open_page(app, "pages/train.py", from_run=run.id)
    assert app.selectbox(key="train_validation").value == test.id
