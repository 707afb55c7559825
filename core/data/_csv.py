"""CSV/TSV: detect encoding and delimiter, validate, and stream into Parquet with bounded memory.

The file is read once (``_csv_stream``): hashing, the encoding check, cutting into segments,
parsing on every core and writing Parquet overlap. pyarrow's parser refuses rows with too few
fields as well as too many (pandas pads short rows silently). When something is wrong, the
message is worded here, and the line is found by reading the file again (error path only).

We parse with pyarrow inside the Dask task rather than ``dask.dataframe.read_csv``: the latter
runs pandas per block, which pads short rows silently and can split a quoted newline across
blocks. ``bench/ingest.py`` measures the result against ``pandas.read_csv``.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from core.data._csv_stream import BLOCK_SIZE
from core.data._csv_stream import LongLine
from core.data._csv_stream import UnclosedQuote
from core.data._csv_stream import stream_csv
from core.data._encoding import ENCODINGS
from core.data._encoding import DecodeFailure
from core.data._encoding import bom_encoding
from core.data._encoding import decode_checked
from core.data._encoding import next_guess
from core.data._encoding import undecodable
from core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DELIMITERS", "ENCODINGS", "CsvOptions", "CsvResult", "csv_to_parquet", "sniff"]

DELIMITERS = (",", "\t", ";", "|")
_SAMPLE = 256 << 10

Progress = Callable[[float], None]


@dataclass(frozen=True)
class CsvOptions:
    """How to read a delimited text file; ``None`` means "detect".

    Args:
        delimiter: One of ``, \\t ; |``. Defaults to detect.
        encoding: ``utf-8``, ``utf-16``, ``latin-1`` or ``cp1252``. Defaults to detect: UTF-8 or
            UTF-16 by BOM, else UTF-8, else cp1252 then latin-1 for single-byte text (see
            ``_encoding``); binary or damaged UTF-8 is refused rather than garbled.
    """

    delimiter: str | None = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise DataError(
                f"Delimiter {self.delimiter!r} is not supported. Choose one of "
                f"{', '.join(repr(d) for d in DELIMITERS)}."
            )
        if self.encoding is not None and self.encoding not in ENCODINGS:
            raise DataError(
                f"Encoding {self.encoding!r} is not supported. Choose one of {', '.join(ENCODINGS)}."
            )


def _unclosed_quote_line(path: Path, encoding: str) -> int | None:
    # Error path only: where the quote parity last flipped from closed to open, if it ends open.
    inside, opened_at = False, 0
    with open(path, encoding=encoding, newline="") as fh:
        for number, line in enumerate(fh, 1):
            if line.count('"') % 2:
                inside = not inside
                if inside:
                    opened_at = number
    return opened_at if inside else None


def sniff(sample: str, options: CsvOptions, size: int) -> tuple[str, list[str]]:
    """Pick the delimiter and read the header from the decoded start of the file.

    Returns:
        The delimiter and the column names.

    Raises:
        DataError: No header, duplicate or empty column names, no line break in the sample.
    """
    sample = sample.lstrip("\ufeff")
    if not sample.strip():
        raise DataError("The file holds only whitespace. Choose a file with a header row and data rows.")
    if "\n" not in sample and "\r" not in sample and size > _SAMPLE:
        raise DataError(
            f"The first {_SAMPLE // 1024} KiB hold no line break: this is one huge line, not a table. "
            "Check the file is CSV with one record per line."
        )
    delimiter = options.delimiter or _guess_delimiter(sample)
    header = next(csv.reader([sample.splitlines()[0]], delimiter=delimiter))
    names = [h.strip() for h in header]
    if len(names) == 1 and options.delimiter:
        others = [d for d in DELIMITERS if d != delimiter and d in header[0]]
        if others:
            raise DataError(
                f"With delimiter {delimiter!r} the header is a single column {header[0][:80]!r}, "
                f"which contains {others[0]!r}. Choose {others[0]!r} as the delimiter, or 'detect'."
            )
    blanks = [i + 1 for i, n in enumerate(names) if not n]
    if blanks:
        raise DataError(
            f"Column(s) {blanks} have no name in the header row (line 1). Give every column a name."
        )
    seen: dict[str, int] = {}
    for i, n in enumerate(names, 1):
        if n in seen:
            raise DataError(
                f"Column name {n!r} appears twice in the header (columns {seen[n]} and {i}). "
                "Rename one of them; Loom does not guess which is which."
            )
        seen[n] = i
    return delimiter, names


def _guess_delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        # The sniffer wants consistent rows; fall back to the delimiter most common in the header.
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","


_COLUMN = re.compile(r"In CSV column #(\d+)")


@dataclass(frozen=True)
class CsvResult:
    sha256: str
    schema: pa.Schema
    rows: int
    used: dict[str, str]  # the read options actually used: delimiter and encoding
    profile: dict[str, Any] | None = None  # made while parsing (``_sketch``)


def _sample(path: Path, encoding: str, size: int) -> str:
    with open(path, "rb") as fh:
        head = fh.read(_SAMPLE)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    return decode_checked(decoder, encoding, head, 0, final=size <= _SAMPLE)


def csv_to_parquet(
    path: Path,
    out: Path,
    options: CsvOptions,
    progress: Progress | None = None,
    *,
    profile: bool = True,
) -> CsvResult:
    """Hash, check, parse, profile and write Parquet, in one pass over the file.

    Returns:
        The file's SHA-256, the written schema, the number of rows, the options used, and the
        dataset's profile (None with ``profile=False``, which only the bench uses).

    Raises:
        DataError: An empty file, undecodable bytes (with byte and line), an unclosed quote (with
            its line), ragged rows (too many or too few fields, with the line), a line longer than
            the block size, a header with no data rows; the sniffer's problems (see :func:`sniff`).
    """
    import pyarrow as pa

    size = path.stat().st_size
    if size == 0:
        raise DataError("The file is empty (0 bytes). Choose a file with a header row and data rows.")
    with open(path, "rb") as fh:
        head = fh.read(4)
    guessing = options.encoding is None and bom_encoding(head) is None
    encoding = options.encoding or bom_encoding(head) or "utf-8"
    forced: dict[str, pa.DataType] = {}
    # Each restart settles one more thing, so this ends: the next guess of the encoding (UTF-8,
    # then cp1252, then latin-1, which decodes anything), or one more column read as text (a
    # column typed as numbers from the first segment that holds text further down).
    while True:
        try:
            delimiter, names = sniff(_sample(path, encoding, size), options, size)
            sha256, schema, rows, made = stream_csv(
                path,
                out,
                encoding=encoding,
                delimiter=delimiter,
                names=names,
                forced=forced,
                progress=progress,
                profile=profile,
            )
        except DecodeFailure as failure:
            guess = next_guess(failure) if guessing else None
            if guess is None:
                raise undecodable(path, failure) from None
            encoding = guess
            continue
        except UnclosedQuote:
            raise _unclosed(path, encoding) from None
        except LongLine:
            if _unclosed_quote_line(path, encoding):
                raise _unclosed(path, encoding) from None
            raise DataError(
                f"A line is longer than {BLOCK_SIZE >> 20} MiB. That usually means a quote opened and "
                "never closed, or the file has no line breaks. Check the file around its longest line."
            ) from None
        except pa.ArrowInvalid as exc:
            column = _retype(exc, names)
            if column is None:
                raise _explain(exc, path, delimiter, names, encoding) from None
            if column in forced:  # pragma: no cover - text always converts to text
                raise DataError(
                    f"Could not settle the type of column {column!r}; please report this file."
                ) from None
            forced[column] = pa.string()
            continue
        break
    if rows == 0 or schema is None:
        raise DataError(
            f"The file has a header ({len(names)} columns: {', '.join(names[:5])}"
            f"{'…' if len(names) > 5 else ''}) but no data rows. Add rows below the header."
        )
    return CsvResult(sha256, schema, rows, {"delimiter": delimiter, "encoding": encoding}, made)


def _unclosed(path: Path, encoding: str) -> DataError:
    return DataError(
        f'A quote (") opened on line {_unclosed_quote_line(path, encoding)} is never closed: the rest '
        "of the file would be read as one field. Close the quote, or double quotes inside quoted "
        'fields ("").'
    )


def _retype(exc: Exception, names: list[str]) -> str | None:
    message = str(exc)
    column = _COLUMN.search(message)
    if column and "conversion error" in message:
        return names[int(column.group(1))]
    return None


def _explain(exc: Exception, path: Path, delimiter: str, names: list[str], encoding: str) -> DataError:
    message = str(exc)
    if "Expected" in message and "columns" in message:
        line = _first_ragged_line(path, delimiter, len(names), encoding)
        got = re.search(r"got (\d+)", message)
        n = int(got.group(1)) if got else None
        kind = "too many" if n is not None and n > len(names) else "too few"
        where = f"Line {line}" if line else "A row"
        return DataError(
            f"{where} has {n} fields, {kind} for the {len(names)} columns of the header "
            f"(delimiter {delimiter!r}). Fix that row, or choose another delimiter if the whole "
            "file looks wrong."
        )
    return DataError(f"The file cannot be read as CSV: {message}. Check the delimiter and encoding.")


def _first_ragged_line(path: Path, delimiter: str, width: int, encoding: str) -> int | None:
    # Error path only: the parsers see segments and do not know line numbers.
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for row in reader:
            if len(row) != width:
                return reader.line_num
    return None
