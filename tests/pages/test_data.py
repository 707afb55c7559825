from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def _param(at: AppTest, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _add_sample(at: AppTest, label_start: str) -> str:
    sample = at.selectbox(key="sample_pick")
    sample.set_value(next(o for o in sample.options if o.startswith(label_start)))
    at.button(key="sample_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_id = _param(at, "ingest")
    assert run_id
    store = open_store(get_config())
    wait_until_ended(store, run_id, 60)
    at.run()  # the watcher sees the finished job and switches the URL to the dataset
    assert not at.exception, [e.value for e in at.exception]
    return run_id


def test_sample_ingest_shows_profile(app: AppTest) -> None:
    open_page(app, "pages/data.py")
    _add_sample(app, "Iris")
    dataset_id = _param(app, "dataset")
    assert dataset_id and not _param(app, "ingest")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Rows"] == "150" and metrics["Columns"] == "5"
    assert app.selectbox(key="target_column").value == "species"
    assert any("multiclass" in m.value for m in app.markdown)
    assert app.get("plotly_chart")


def test_image_sample_and_target(app: AppTest) -> None:
    open_page(app, "pages/data.py")
    _add_sample(app, "Handwritten")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Rows"] == "1,797"
    assert app.selectbox(key="target_column").value == "label"

    def walk(node):  # type: ignore[no-untyped-def]
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    assert "image" in {getattr(n, "type", "?") for n in walk(app._tree)}


def test_unknown_dataset_in_url_falls_back(app: AppTest) -> None:
    open_page(app, "pages/data.py", dataset="f" * 32)
    assert not app.exception
    assert any("does not exist or is not shared with you" in e.value for e in app.error) or any(
        "No datasets yet" in i.value for i in app.info
    )


def test_text_target_is_explained(app: AppTest) -> None:
    open_page(app, "pages/data.py")
    _add_sample(app, "Housing")
    app.selectbox(key="target_column").set_value("sold_on").run()
    assert "holds dates" in plain(app.error[0].value)


def test_html_in_names_and_cells_is_shown_as_text(app: AppTest) -> None:
    from pathlib import Path

    from core.data import ingest_file

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    store = open_store(get_config())
    ds = ingest_file(store, corpus / "html_and_injection.csv", "csv", "<img src=x onerror=alert(1)>")
    open_page(app, "pages/data.py", dataset=ds.id)
    frames = [d.value for d in app.dataframe]
    preview = next(f for f in frames if "note" in f.columns)
    assert list(preview.columns) == ["<script>alert(1)</script>", "note"]
    assert preview.iloc[0, 0] == "<img src=x onerror=alert(1)>"
    for md in app.markdown:
        assert "<script>" not in md.value and "<img" not in md.value


def test_an_mnist_size_dataset_shows_a_grid_of_images_with_labels(app: AppTest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from core.data import ingest_file
    from tests.mnist_like import write_npz

    npz = tmp_path / "mnist_like.npz"
    write_npz(npz, 2_500, 500, seed=1)
    labels = np.load(npz)["y"][:24]
    dataset = ingest_file(open_store(get_config()), npz, "npz", "mnist-like")
    open_page(app, "pages/data.py", dataset=dataset.id)
    assert not app.exception, [e.value for e in app.exception]
    assert {m.label: m.value for m in app.metric}["Rows"] == "3,000"
    assert any(c.value.startswith("The first 24 of 3,000 images") for c in app.caption)
    grids = app.get("image")
    assert len(grids) == 1
    shown = grids[0].proto.imgs
    assert [i.caption for i in shown] == [str(v) for v in labels]
    assert all(i.url for i in shown)  # each thumbnail is served
