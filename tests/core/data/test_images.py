"""MNIST-size images through the real ingest path: an ``.npz`` of 28x28 digits with its own
train/test column and a ZIP of PNGs by class, stored losslessly and read back by the pipeline;
datasets stored before (Pillow's PNGs) still read the same."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from core.config import AppConfig
from core.data import ingest_file
from core.data import summarize_target
from core.errors import DataError
from core.images import decode_image
from core.pipeline import PipelineSpec
from core.pipeline import run_pandas
from core.store import Store
from core.store import open_store
from tests.mnist_like import write_npz
from tests.mnist_like import write_zip


@pytest.fixture
def local_store(config: AppConfig) -> Store:
    return open_store(config)


def _columns(dataset) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {c["name"]: c for c in dataset.profile_json["columns"]}


def test_an_mnist_shaped_npz_ingests_losslessly_with_its_split(local_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "digits.npz"
    write_npz(path, 2_500, 500, seed=3)
    source = np.load(path)
    ds = ingest_file(local_store, path, "npz", "mnist-like")
    assert ds.n_rows == 3_000
    cols = _columns(ds)
    assert list(cols) == ["image", "label", "split"]
    assert cols["image"]["kind"] == "image"
    assert cols["split"]["kind"] == "categorical" and sorted(n for _, n in cols["split"]["top"]) == [
        500,
        2500,
    ]
    summary = summarize_target(ds.profile_json, "label")
    assert summary.task == "multiclass" and len(summary.classes) == 10
    # The Data page's grid: the first images with their labels, read from the first rows only.
    grid = ds.profile_json["images"]
    assert len(grid) == 24 and [g["label"] for g in grid] == [str(v) for v in source["y"][:24]]
    table = pq.read_table(local_store.path_for("datasets", ds.id, ".parquet"))
    stored = table.column("image").to_pylist()
    assert all(np.array_equal(decode_image(b), x) for b, x in zip(stored, source["x"], strict=True))
    assert table.column("label").to_pylist() == source["y"].tolist()

    # The split step takes each row's part from the file's own column: 2,500 train, 500 test.
    pipeline = PipelineSpec.chain(
        ds.id,
        "label",
        [{"type": "split", "method": "column", "label_column": "split"}, {"type": "scale_images"}],
    )
    frame = run_pandas(pipeline, table.to_pandas()).frame
    assert "split" not in frame.columns
    assert frame["__split__"].value_counts().to_dict() == {"train": 2_500, "test": 500}
    first = frame["image"].iloc[0]
    assert first.shape == (28, 28, 1) and first.dtype == np.float32
    assert np.allclose(first[..., 0], source["x"][0] / 255.0)


def test_a_zip_of_pngs_by_class_ingests(local_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "digits.zip"
    write_zip(path, 600, seed=4)
    ds = ingest_file(local_store, path, "images", "digits zip")
    assert ds.n_rows == 600
    table = pq.read_table(local_store.path_for("datasets", ds.id, ".parquet"))
    assert set(table.column("width").to_pylist()) == {28} == set(table.column("height").to_pylist())
    labels = table.column("label").to_pylist()
    assert sorted(set(labels)) == [str(d) for d in range(10)]
    # Each stored image is the archive's image, pixel for pixel, under its folder's label.
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".png")]
        first = np.asarray(Image.open(io.BytesIO(archive.read(names[0]))))
    assert labels[0] == names[0].split("/")[0]
    assert np.array_equal(decode_image(table.column("image")[0].as_py()), first)
    assert len(ds.profile_json["images"]) == 24


def test_a_dataset_stored_before_with_pillow_pngs_still_scales_the_same() -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)

    def pillow(img: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "PNG")  # what ingest wrote before core.images
        return buf.getvalue()

    old = pd.DataFrame({"image": [pillow(p) for p in pixels], "label": [0, 1] * 3})
    pipeline = PipelineSpec.chain(
        "ds", "label", [{"type": "split", "method": "random", "validation": 0.5}, {"type": "scale_images"}]
    )
    frame = run_pandas(pipeline, old).frame
    for img, source in zip(frame["image"], pixels, strict=True):
        assert np.allclose(img[..., 0], source / 255.0)


def test_images_of_different_sizes_still_scale_one_by_one() -> None:
    from core.images import encode_png

    frame = pd.DataFrame(
        {"image": [encode_png(np.full((4, 4), 255, np.uint8)), encode_png(np.zeros((6, 5, 3), np.uint8))]}
    )
    pipeline = PipelineSpec.chain("ds", "label", [{"type": "scale_images"}])
    out = run_pandas(pipeline, frame.assign(label=[0, 1])).frame
    assert out["image"].iloc[0].shape == (4, 4, 1) and out["image"].iloc[0].max() == 1.0
    assert out["image"].iloc[1].shape == (6, 5, 3)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x": np.zeros((4, 3, 3), np.uint8), "y": np.zeros(4), "split": np.array(["train"] * 3)},
            r"Array 'split' has shape \(3,\).*one value per row \(4\)",
        ),
        (
            {"x": np.zeros((4, 3, 3, 2), np.uint8), "y": np.zeros(4)},
            r"Images must have 1, 3 or 4 channels.*x.shape=\(4, 3, 3, 2\)",
        ),
        (
            {"x": np.zeros((4, 3, 3), np.uint8), "y": np.zeros(4), "label": np.zeros(4)},
            r"Array 'label' would replace the column of that name",
        ),
    ],
)
def test_bad_npz_extras_are_explained(local_store: Store, tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        ingest_file(local_store, path, "npz", "bad")
    assert not any((local_store.data_dir / "datasets").glob("*.parquet"))
