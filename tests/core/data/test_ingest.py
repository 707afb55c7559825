from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.config import AppConfig
from core.data import CsvOptions
from core.data import delete_dataset
from core.data import detect_format
from core.data import get_dataset
from core.data import ingest_file
from core.data import list_datasets
from core.data import rename_dataset
from core.data import resolve_server_path
from core.data import save_upload
from core.data import summarize_target
from core.errors import DataError
from core.errors import NotFoundError
from core.store import SYSTEM
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import open_store

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus"
ASSETS = ROOT / "assets"


@pytest.fixture
def local_store(config: AppConfig) -> Store:
    return open_store(config)


def _columns(dataset) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {c["name"]: c for c in dataset.profile_json["columns"]}


def test_iris_csv_profile(local_store: Store) -> None:
    ds = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    assert (ds.n_rows, ds.n_cols) == (150, 5)
    cols = _columns(ds)
    assert cols["species"]["kind"] == "categorical"
    assert cols["species"]["unique"] == 3
    assert sorted(n for _, n in cols["species"]["top"]) == [50, 50, 50]
    assert cols["sepal_length_cm"]["kind"] == "numeric"
    assert cols["sepal_length_cm"]["stats"]["min"] == 4.3
    assert sum(cols["sepal_length_cm"]["hist"]["counts"]) == 150
    corr = ds.profile_json["correlation"]
    assert corr["columns"] == ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
    assert corr["matrix"][0][0] == pytest.approx(1.0)
    assert len(ds.profile_json["preview"]["rows"]) == 20
    assert ds.read_options == {"delimiter": ",", "encoding": "utf-8"}
    table = pq.read_table(local_store.path_for("datasets", ds.id, ".parquet"))
    assert table.num_rows == 150


def test_housing_missing_values_and_dates(local_store: Store) -> None:
    ds = ingest_file(local_store, ASSETS / "housing.csv", "csv", "housing")
    cols = _columns(ds)
    assert cols["rooms"]["missing"] > 0 and cols["neighbourhood"]["missing"] > 0
    assert cols["sold_on"]["kind"] == "datetime"
    assert cols["has_garden"]["kind"] == "boolean"
    summary = summarize_target(ds.profile_json, "price")
    assert summary.task == "regression"


def test_digits_npz_is_an_image_dataset(local_store: Store) -> None:
    ds = ingest_file(local_store, ASSETS / "digits_8x8.npz", "npz", "digits")
    assert ds.n_rows == 1797
    cols = _columns(ds)
    assert cols["image"]["kind"] == "image"
    assert len(ds.profile_json["images"]) == 24
    summary = summarize_target(ds.profile_json, "label")
    assert summary.task == "multiclass" and len(summary.classes) == 10


def test_zip_of_images(local_store: Store) -> None:
    ds = ingest_file(local_store, CORPUS / "images_good.zip", "images", "pets")
    table = pq.read_table(local_store.path_for("datasets", ds.id, ".parquet"))
    assert table.column("label").to_pylist() == ["cats"] * 3 + ["dogs"] * 3
    assert table.column("width").to_pylist() == [8] * 6
    assert table.column("image")[0].as_py().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "options", "columns"),
    [
        ("bom.csv", {}, ["name", "value"]),
        ("utf16.csv", {}, ["name", "value"]),
        ("latin1.csv", {"encoding": "latin-1"}, ["city", "temp"]),
        ("semicolons.csv", {}, ["a", "b", "c"]),
        ("good.jsonl", {}, ["a", "b"]),
        ("good.parquet", {}, ["x", "label"]),
        ("columns.npz", {}, ["height", "weight"]),
    ],
)
def test_readers(local_store: Store, name: str, options: dict, columns: list[str]) -> None:
    ds = ingest_file(local_store, CORPUS / name, detect_format(name), name, CsvOptions(**options))
    assert [c["name"] for c in ds.profile_json["columns"]] == columns
    assert ds.n_rows == {"semicolons.csv": 2, "good.parquet": 3}.get(name, 2)


def test_latin1_text_is_decoded_not_garbled(local_store: Store) -> None:
    ds = ingest_file(local_store, CORPUS / "latin1.csv", "csv", "x", CsvOptions(encoding="latin-1"))
    assert ds.profile_json["preview"]["rows"][0][0] == "Zürich"


@pytest.mark.parametrize(
    ("name", "first_row", "delimiter"),
    [
        ("latin1.csv", ["Zürich", "3"], ","),
        ("cp1252.csv", ["café", "naïve", "Müller"], ";"),
    ],
)
def test_single_byte_encodings_are_detected(
    local_store: Store, name: str, first_row: list, delimiter: str
) -> None:
    # Encoding left to detect: not UTF-8, but text, so cp1252 (latin-1's superset for text).
    ds = ingest_file(local_store, CORPUS / name, "csv", name)
    assert ds.read_options == {"delimiter": delimiter, "encoding": "cp1252"}
    assert ds.profile_json["preview"]["rows"][0] == first_row
    if name == "cp1252.csv":  # the characters latin-1 lacks
        assert ds.profile_json["preview"]["rows"][1] == ["€ 5", "“quoted”", "Æsa"]


def test_flags_constant_and_empty_columns(local_store: Store) -> None:
    ds = ingest_file(local_store, CORPUS / "constant_and_empty.csv", "csv", "flags")
    cols = _columns(ds)
    assert cols["same"]["flags"] == ["constant"]
    assert cols["empty"]["flags"] == ["all missing"]
    assert cols["y"]["flags"] == []


def test_html_is_kept_as_data(local_store: Store) -> None:
    ds = ingest_file(local_store, CORPUS / "html_and_injection.csv", "csv", "<b>x</b>")
    assert ds.profile_json["columns"][0]["name"] == "<script>alert(1)</script>"
    assert ds.name == "<b>x</b>"


def test_column_typed_as_numbers_then_text_is_retyped(local_store: Store, tmp_path: Path) -> None:
    # Far beyond pyarrow's first block, so type inference has already settled on integers.
    path = tmp_path / "mixed.csv"
    with open(path, "w") as fh:
        fh.write("a,b\n")
        fh.writelines(f"{i},{i}\n" for i in range(1_200_000))
        fh.write("x,1\n")
    ds = ingest_file(local_store, path, "csv", "mixed")
    cols = _columns(ds)
    assert ds.n_rows == 1_200_001
    assert cols["a"]["dtype"] == "string" and cols["b"]["kind"] == "numeric"


def test_identical_content_reuses_the_dataset(local_store: Store) -> None:
    first = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    again = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris again")
    assert again.id == first.id
    assert len(list_datasets(local_store, viewer=SYSTEM)) == 1
    files = list((local_store.data_dir / "datasets").iterdir())
    assert [f.name for f in files] == [f"{first.id}.parquet"]


def test_same_bytes_other_options_is_another_dataset(local_store: Store) -> None:
    a = ingest_file(local_store, CORPUS / "latin1.csv", "csv", "a", CsvOptions(encoding="latin-1"))
    b = ingest_file(local_store, CORPUS / "latin1.csv", "csv", "b", CsvOptions(encoding="cp1252"))
    assert a.id != b.id and a.content_hash == b.content_hash


def test_rename_and_delete(local_store: Store) -> None:
    ds = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    assert rename_dataset(local_store, ds.id, "  flowers  ", viewer=SYSTEM).name == "flowers"
    with pytest.raises(DataError, match="Please give the dataset a name"):
        rename_dataset(local_store, ds.id, "   ", viewer=SYSTEM)
    me = Viewer.local("me")
    delete_dataset(local_store, ds.id, viewer=me)  # to the trash: its file stays until purged
    assert list_datasets(local_store, viewer=me) == []
    assert local_store.path_for("datasets", ds.id, ".parquet").exists()
    with pytest.raises(NotFoundError):
        get_dataset(local_store, ds.id, viewer=me)


def test_a_dataset_a_kept_run_uses_is_not_purged_from_the_trash(local_store: Store) -> None:
    from core.ops import purge_trash

    ds = ingest_file(local_store, ASSETS / "iris.csv", "csv", "iris")
    run = create_run(local_store, "smoke", {}, name="baseline", dataset_id=ds.id)
    delete_dataset(local_store, ds.id, viewer=SYSTEM)
    [(_, why)] = purge_trash(local_store, days=0).kept
    assert f"used by smoke run 'baseline' ({run.id})" in why
    assert local_store.path_for("datasets", ds.id, ".parquet").exists()


def test_save_upload_names_files_by_id(local_store: Store) -> None:
    upload_id = save_upload(local_store, io.BytesIO(b"a,b\n1,2\n"), "../../etc/passwd.csv", viewer=SYSTEM)
    assert len(upload_id) == 32
    assert (local_store.data_dir / "uploads" / f"{upload_id}.csv").read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(DataError, match=r"Loom cannot read '\.exe'. Supported: \.csv"):
        save_upload(local_store, io.BytesIO(b""), "x.exe", viewer=SYSTEM)


@pytest.mark.parametrize(
    "relative", ["../outside.csv", "/etc/passwd", "..\\x.csv", "sub/../../x.csv", "~/x.csv", ""]
)
def test_server_paths_stay_under_the_root(tmp_path: Path, relative: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="relative to the import root|outside the import root"):
        resolve_server_path(root, relative)


def test_server_path_symlink_out_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(DataError, match="outside the import root"):
        resolve_server_path(root, "link.csv")


def test_server_path_inside_root(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.csv").write_text("a\n1\n")
    assert resolve_server_path(tmp_path, "sub/ok.csv") == (tmp_path / "sub" / "ok.csv").resolve()
    with pytest.raises(DataError, match="LOOM_IMPORT_ROOT"):
        resolve_server_path(None, "sub/ok.csv")
