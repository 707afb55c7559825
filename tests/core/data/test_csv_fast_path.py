"""The one-pass CSV reader against ``pandas.read_csv`` on tricky files.

Blocks are shrunk to a few KiB so that every file here is cut into many segments: a quoted
newline, a doubled quote or a multi-byte character lands on a cut somewhere in each of them.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.data import CsvOptions
from core.data._csv import csv_to_parquet
from core.errors import DataError

SMALL_BLOCK = 4096


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.data._csv_stream.BLOCK_SIZE", SMALL_BLOCK)


def _rows(n: int, make) -> list[str]:  # type: ignore[no-untyped-def]
    return [make(i) for i in range(n)]


def _quoted_newlines(i: int) -> str:
    note = f'"line {i}\nsecond line, with a comma"' if i % 3 == 0 else f'"he said ""hi"" {i}"'
    return f"{i},{note},{i * 0.5}"


CASES = {
    # name: (header, row maker, line end, encoding, expected delimiter, expected encoding)
    "quoted_newlines": ("id,note,x", _quoted_newlines, "\n", "utf-8", ",", "utf-8"),
    "quoted_newlines_crlf": ("id,note,x", _quoted_newlines, "\r\n", "utf-8", ",", "utf-8"),
    "missing_values": (
        "i,f,s",
        lambda i: ",".join(
            [
                "" if i % 4 == 0 else str(i),
                "NA" if i % 5 == 0 else f"{i / 7:.6f}",
                "" if i % 6 == 0 else f"s{i % 9}",
            ]
        ),
        "\n",
        "utf-8",
        ",",
        "utf-8",
    ),
    "mixed_types_late": (
        "a,b",
        lambda i: f"{'oops' if i == 1900 else i},{i % 3}",
        "\n",
        "utf-8",
        ",",
        "utf-8",
    ),
    "bom_and_unicode": (
        "\ufeffname,city",
        lambda i: f"{['Zoë', '漢字', 'naïve 🙂', 'plain'][i % 4]}{i},{['Zürich', 'Málaga', 'Øslo'][i % 3]}",
        "\n",
        "utf-8",
        ",",
        "utf-8",
    ),
    "semicolons_decimal_commas": (
        "a;b;c",
        lambda i: f'{i};{i},5;"x;{i}"',
        "\n",
        "utf-8",
        ";",
        "utf-8",
    ),
    "tabs_blank_lines": (
        "a\tb",
        lambda i: f"{i}\tword {i}" + ("\n" if i % 10 == 0 else ""),
        "\n",
        "utf-8",
        "\t",
        "utf-8",
    ),
    "cp1252": (
        "word;note;name",
        lambda i: f"café {i};“naïve” – {i};Müller € {i % 7}",
        "\r\n",
        "cp1252",
        ";",
        "cp1252",
    ),
    "utf16": ("a,b", lambda i: f"{i},ü{i}", "\n", "utf-16", ",", "utf-16"),
}


def _write(path: Path, header: str, make, end: str, encoding: str, n: int = 4000) -> None:  # type: ignore[no-untyped-def]
    text = end.join([header, *_rows(n, make)])  # no line end after the last row
    path.write_bytes(text.encode(encoding))


def _values(series: pd.Series) -> list:
    out = []
    for v in series.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, bool | int | float):
            out.append(float(v))
        else:
            out.append(str(v))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_same_table_as_pandas(name: str, tmp_path: Path) -> None:
    header, make, end, encoding, delimiter, detected = CASES[name]
    path = tmp_path / f"{name}.csv"
    _write(path, header, make, end, encoding)
    assert path.stat().st_size > 6 * SMALL_BLOCK  # many segments

    result = csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())

    assert result.used == {"delimiter": delimiter, "encoding": detected}
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    ours = pq.read_table(tmp_path / "out.parquet").to_pandas()
    theirs = pd.read_csv(path, sep=delimiter, encoding=detected, float_precision="round_trip")
    theirs.columns = [c.lstrip("\ufeff") for c in theirs.columns]
    assert list(ours.columns) == list(theirs.columns)
    assert result.rows == len(theirs) == len(ours)
    for column in ours.columns:
        assert _values(ours[column]) == _values(theirs[column]), column


def test_a_late_text_value_makes_the_column_text(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    _write(path, *CASES["mixed_types_late"][:4])
    result = csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())
    assert str(result.schema.field("a").type) == "string"
    assert str(result.schema.field("b").type) == "int64"


def test_progress_rises_to_the_end_of_reading(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    _write(path, *CASES["quoted_newlines"][:4])
    seen: list[float] = []
    csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions(), seen.append)
    assert len(seen) > 8 and seen == sorted(seen)
    assert seen[-1] == pytest.approx(0.9)


def test_a_latin1_byte_after_many_ascii_blocks_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "late_latin1.csv"
    rows = [f"{i},plain" for i in range(3000)] + ["3000,Müller", "3001,café"]
    path.write_bytes("\n".join(["id,name", *rows]).encode("latin-1"))
    result = csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())
    assert result.used["encoding"] == "cp1252"
    assert pq.read_table(tmp_path / "out.parquet").column("name").to_pylist()[-2:] == ["Müller", "café"]


def test_bytes_cp1252_leaves_undefined_fall_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "c1.csv"
    path.write_bytes(b"a,b\nx\x81y,1\ncaf\xe9,2\n")  # 0x81 has no cp1252 character
    result = csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())
    assert result.used["encoding"] == "latin-1"
    assert pq.read_table(tmp_path / "out.parquet").column("a").to_pylist() == ["x\x81y", "café"]


def test_a_ragged_row_far_into_the_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    lines = ["a,b,c", *(f'{i},"two\nlines",{i}' for i in range(1500)), "1,2", "3,4,5"]
    path.write_text("\n".join(lines))
    # Line numbers count physical lines: each row above spans two.
    with pytest.raises(DataError, match=r"Line 3002 has 2 fields, too few for the 3 columns"):
        csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())
    assert not (tmp_path / "out.parquet").exists()


def test_an_unclosed_quote_far_into_the_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_text("\n".join(["a,b", *(f"{i},x" for i in range(2000)), '1,"never closed', "2,y", "3,z"]))
    with pytest.raises(DataError, match=r'A quote \("\) opened on line 2002 is never closed'):
        csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())


def test_an_unclosed_quote_that_swallows_a_block_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "unclosed_long.csv"
    body = [f"{i},x" for i in range(3000)]
    path.write_text("\n".join(["a,b", "0,ok", '1,"opens here', *body]))
    with pytest.raises(DataError, match=r'A quote \("\) opened on line 3 is never closed'):
        csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())


def test_a_line_longer_than_a_block_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("a,b\n1,x\n2," + "y" * (3 * SMALL_BLOCK) + "\n3,z\n")
    with pytest.raises(DataError, match=r"A line is longer than"):
        csv_to_parquet(path, tmp_path / "out.parquet", CsvOptions())
