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
