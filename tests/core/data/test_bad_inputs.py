"""Every malformed or hostile file in tests/corpus gets its own clear message; nothing is stored,
nothing is written outside the data directory, and no code in the file runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import AppConfig
from core.data import CsvOptions
from core.data import detect_format
from core.data import ingest_file
from core.data import list_datasets
from core.errors import DataError
from core.store import SYSTEM
from core.store import open_store

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

BAD = [
    ("empty.csv", {}, r"The file is empty \(0 bytes\)"),
    ("whitespace.csv", {}, r"only whitespace"),
    ("header_only.csv", {}, r"has a header \(3 columns: a, b, c\) but no data rows"),
    ("semicolons.csv", {"delimiter": ","}, r"single column 'a;b;c', which contains ';'\. Choose ';'"),
    ("latin1.csv", {"encoding": "utf-8"}, r"Byte 11 \(line 2\) is not valid utf-8.*Choose the file's"),
    ("damaged_utf8.csv", {}, r"Byte 20 \(line 3\) is not valid utf-8: b'\\xe1lag'"),
    ("garbage.csv", {}, r"is not valid utf-8"),
    ("ragged_long.csv", {}, r"Line 4 has 4 fields, too many for the 3 columns"),
    ("ragged_short.csv", {}, r"Line 3 has 2 fields, too few for the 3 columns"),
    ("unbalanced_quotes.csv", {}, r'A quote \("\) opened on line 3 is never closed'),
    ("huge_line.csv", {}, r"hold no line break: this is one huge line"),
    ("duplicate_columns.csv", {}, r"Column name 'a' appears twice in the header \(columns 1 and 3\)"),
    ("blank_column_name.csv", {}, r"Column\(s\) \[2\] have no name"),
    ("bad.jsonl", {}, r"This is not valid JSON Lines"),
    ("object_array.npz", {}, r"Array 'x' holds Python objects \(dtype=object\)"),
    (
        "xy_mismatch.npz",
        {},
        r"`x` and `y` must have the same number of rows.*x.shape=\(3, 2\), y.shape=\(4,\)",
    ),
    ("pickled_extension.parquet", {}, r"extension type 'arrow.py_extension_type'.*pickled"),
    ("not_parquet.parquet", {}, r"This is not a readable Parquet file"),
    ("zip_traversal.zip", {}, r"'\.\./evil\.png' points outside its folder"),
    ("zip_absolute.zip", {}, r"'/tmp/evil\.png' has an absolute or Windows path"),
    ("zip_backslash.zip", {}, r"has an absolute or Windows path"),
    ("zip_nested.zip", {}, r"'cats/inner\.zip' is itself an archive"),
    (
        "zip_bomb.zip",
        {},
        r"Archive entry 'cats/big\.png' would expand to 41\.9 MB from \d+(\.\d)? KB \(ratio [\d,]+:1\), "
        r"over the limit of 200:1 for an entry over 1 MB: a zip bomb",
    ),
    (
        "zip_bomb_any_name.zip",
        {},
        r"Archive entry 'payload/big\.bin' would expand to 41\.9 MB .*: a zip bomb",
    ),
    ("zip_image_bomb.zip", {}, r"'cats/bomb\.png' is an image bomb.*Resize it"),
    ("zip_not_image.zip", {}, r"'cats/readme\.txt' is not a PNG or JPEG image"),
    ("zip_no_class_folder.zip", {}, r"is not inside a class folder"),
]


@pytest.mark.parametrize(("name", "options", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_clearly(
    name: str, options: dict, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the pickled canary would land if anything unpickled it
    config = AppConfig.for_data_dir(tmp_path / "data")
    store = open_store(config)
    kept = ingest_file(store, CORPUS / "good.parquet", "parquet", "already stored")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())

    with pytest.raises(DataError, match=message) as info:
        ingest_file(store, CORPUS / name, detect_format(name), name, CsvOptions(**options))

    assert "Traceback" not in str(info.value)
    assert [d.id for d in list_datasets(store, viewer=SYSTEM)] == [kept.id]  # nothing added, nothing lost
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert after == before, "a refused file left something behind"
    assert not (tmp_path / "loom_canary_pwned").exists()
    assert not Path("/tmp/evil.png").exists()


def test_messages_are_unique_per_problem() -> None:
    # A user must be able to tell problems apart: no two cases share an expected message.
    patterns = [re.sub(r"\\.|[()\[\]?*+.]", "", m)[:30] for _, _, m in BAD]
    assert len(patterns) == len(set(patterns))
