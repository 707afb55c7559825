"""CSV/TSV: detect encoding and delimiter, validate, and stream into Parquet with bounded memory.

Two streaming passes over the file, each holding one block in memory:

1. bytes: SHA-256, strict UTF-8 check (the first bad byte is reported with its line), quote
   parity (an odd count of ``"`` means a quote never closes), line count for progress;
2. pyarrow's streaming CSV reader → ``ParquetWriter``, batch by batch. Unlike pandas, it refuses
   rows with too few fields as well as too many.

We parse with pyarrow inside the Dask task rather than ``dask.dataframe.read_csv``: the latter
runs pandas per block, which pads short rows silently and can split a quoted newline across
blocks. ``bench/ingest.py`` measures the result against ``pandas.read_csv``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CsvOptions", "FileScan", "csv_to_parquet", "scan_bytes", "sniff"]

DELIMITERS = (",", "\t", ";", "|")
ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252")
_CHUNK = 8 << 20
BLOCK_SIZE = 16 << 20  # the longest line pyarrow accepts
_SAMPLE = 256 << 10

Progress = Callable[[float], None]


@dataclass(frozen=True)
class CsvOptions:
    """How to read a delimited text file; ``None`` means "detect".

    Args:
        delimiter: One of ``, \\t ; |``. Defaults to detect.
        encoding: ``utf-8``, ``utf-16``, ``latin-1`` or ``cp1252``. Defaults to detect (UTF-8 or
            UTF-16 by BOM; anything else must be chosen, so no text is silently garbled).
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


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    lines: int
    encoding: str
    bom: int


def _detect_encoding(head: bytes) -> tuple[str, int]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0  # Python's utf-16 codec reads and drops the BOM itself
    return "utf-8", 0


def scan_bytes(path: Path, encoding: str | None, progress: Progress | None = None) -> FileScan:
    """Pass 1: hash, validate the encoding and quotes, count lines.

    Raises:
        DataError: Empty file, undecodable bytes (with line and byte offset), or an unclosed quote.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
    if size == 0:
        raise DataError("The file is empty (0 bytes). Choose a file with a header row and data rows.")
    detected, bom = _detect_encoding(head)
    enc = encoding or detected
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(enc)(errors="strict")
    lines = quotes = offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                line = lines + chunk[: exc.start].count(b"\n") + 1
                raise DataError(
                    f"Byte {bad} (line {line}) is not valid {enc}: {chunk[exc.start : exc.start + 4]!r}. "
                    "Choose the file's encoding under 'Encoding' (latin-1 or cp1252 for most "
                    "Western European exports), or re-save the file as UTF-8."
                ) from None
            lines += text.count("\n")
            quotes += text.count('"')
            offset += len(chunk)
            if progress:
                progress(0.2 * offset / size)
    if quotes % 2:
        line = _unclosed_quote_line(path, enc)
        raise DataError(
            f'A quote (") opened on line {line} is never closed: the rest of the file would be read '
            'as one field. Close the quote, or double quotes inside quoted fields ("").'
        )
    return FileScan(digest.hexdigest(), size, lines, enc, bom)


def _unclosed_quote_line(path: Path, encoding: str) -> int:
    # Only on the error path: find where the quote parity last flipped from closed to open.
    inside, opened_at = False, 0
    with open(path, encoding=encoding, newline="") as fh:
        for number, line in enumerate(fh, 1):
            if line.count('"') % 2:
                inside = not inside
                if inside:
                    opened_at = number
    return opened_at


def sniff(path: Path, options: CsvOptions, scan: FileScan) -> tuple[str, list[str]]:
    """Pick the delimiter and read the header.

    Returns:
        The delimiter and the column names.

    Raises:
        DataError: No header, duplicate or empty column names, no line break in the sample.
    """
    with open(path, encoding=scan.encoding, newline="") as fh:
        sample = fh.read(_SAMPLE)
    sample = sample.lstrip("\ufeff")
    if not sample.strip():
        raise DataError("The file holds only whitespace. Choose a file with a header row and data rows.")
    if "\n" not in sample and "\r" not in sample and scan.size > _SAMPLE:
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


_ROW = re.compile(r"Row #(\d+)")
_COLUMN = re.compile(r"In CSV column #(\d+)")


def csv_to_parquet(
    path: Path,
    out: Path,
    options: CsvOptions,
    scan: FileScan,
    progress: Progress | None = None,
) -> tuple[pa.Schema, int, dict[str, str]]:
    """Pass 2: parse and write Parquet, streaming.

    Returns:
        The written schema, the number of rows, and the read options actually used.

    Raises:
        DataError: Ragged rows (too many or too few fields, with the line), a line longer than
            the block size, or a header with no data rows.
    """
    import pyarrow as pa

    delimiter, names = sniff(path, options, scan)
    forced: dict[str, pa.DataType] = {}
    # A column inferred as numbers from the first block may hold text further down: restart
    # with that column read as text (at most once per column).
    for _ in range(len(names) + 1):
        try:
            schema, rows = _stream(path, out, delimiter, names, scan, forced, progress)
        except _Retype as exc:
            forced[exc.column] = pa.string()
            continue
        break
    else:  # pragma: no cover - each retry fixes one more column
        raise DataError("Could not settle the column types; please report this file.")
    if rows == 0:
        out.unlink(missing_ok=True)
        raise DataError(
            f"The file has a header ({len(names)} columns: {', '.join(names[:5])}"
            f"{'…' if len(names) > 5 else ''}) but no data rows. Add rows below the header."
        )
    return schema, rows, {"delimiter": delimiter, "encoding": scan.encoding}


class _Retype(Exception):
    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


def _stream(path, out, delimiter, names, scan, forced, progress):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    # "utf8" is pyarrow's no-transcoding fast path; anything else goes through Python's codecs.
    encoding = "utf8" if scan.encoding == "utf-8" else scan.encoding
    read = pcsv.ReadOptions(
        block_size=BLOCK_SIZE, encoding=encoding, column_names=names, skip_rows=1, use_threads=True
    )
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(column_types=forced, strings_can_be_null=True)
    rows = 0
    writer = _BackgroundWriter(out)
    try:
        reader = pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        for batch in reader:
            writer.put(batch)
            rows += batch.num_rows
            if progress and scan.lines:
                progress(0.2 + 0.7 * min(1.0, rows / scan.lines))
    except pa.ArrowInvalid as exc:
        writer.abort()
        raise _explain(exc, path, delimiter, names, scan) from None
    except BaseException:
        writer.abort()
        raise
    if not writer.close():  # no batch at all: header only
        return None, 0
    return pq.read_schema(out), rows


class _BackgroundWriter:
    """Writes Parquet in a thread while the next block parses (both release the GIL).

    The queue holds at most two batches, so memory stays bounded.
    """

    def __init__(self, out: Path) -> None:
        import queue
        import threading

        self._out = out
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._wrote = False
        self._thread = threading.Thread(target=self._run, name="loom-parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import pyarrow.parquet as pq

        writer = None
        try:
            while (batch := self._queue.get()) is not None:
                if writer is None:
                    writer = pq.ParquetWriter(self._out, batch.schema, compression="zstd")
                writer.write_batch(batch)
                self._wrote = True
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc
            while self._queue.get() is not None:  # drain so the producer never blocks
                pass
        finally:
            if writer is not None:
                writer.close()

    def put(self, batch) -> None:  # type: ignore[no-untyped-def]
        if self._error is not None:
            raise self._error
        self._queue.put(batch)

    def close(self) -> bool:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._wrote

    def abort(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._out.unlink(missing_ok=True)


def _explain(exc: Exception, path, delimiter, names, scan):  # type: ignore[no-untyped-def]
    message = str(exc)
    column = _COLUMN.search(message)
    if column and "conversion error" in message:
        return _Retype(names[int(column.group(1))])
    if "straddling" in message or "straddles" in message:
        return DataError(
            f"A line is longer than {BLOCK_SIZE >> 20} MiB. That usually means a quote opened and "
            "never closed, or the file has no line breaks. Check the file around its longest line."
        )
    if "Expected" in message and "columns" in message:
        line = _first_ragged_line(path, delimiter, len(names), scan.encoding)
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
    # Error path only: the threaded reader does not know row numbers.
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for row in reader:
            if len(row) != width:
                return reader.line_num
    return None
