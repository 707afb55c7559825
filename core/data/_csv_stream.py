"""CSV → Parquet in one pass over the file, on every core, with bounded memory.

Three kinds of thread share the work (the heavy parts release the GIL):

- the **reader** reads the file (16 MiB, then 4 MiB at a time), hashes it (SHA-256), checks the
  encoding (a block that is all ASCII is valid UTF-8 as it is; others are decoded strictly, and
  other encodings are transcoded to UTF-8), and cuts the text into *segments* at line ends
  outside quotes;
- **parsers**, one per core, run pyarrow's CSV parser on whole segments, each one block, with the
  column types the first segment settled (as pyarrow's streaming reader does with its first block);
- the **writer** appends the parsed segments to the Parquet file in order, one row group per
  16 MiB of the file.

Each parser also profiles the segment it has just parsed (``_sketch``: counts, moments,
histograms, sketches), while the batch is in memory; the partials merge in the calling thread, so
the dataset is profiled without reading it again.

A line end is outside quotes exactly when the number of ``"`` before it is even (RFC 4180: a quote
inside a quoted field is doubled), so cutting needs no parser. Only a few segments are alive at
once, so memory stays bounded whatever the file's size; nothing reads the file twice.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from core.data._encoding import DecodeFailure
from core.data._encoding import decode_checked
from core.data._profile import profile_of
from core.data._sketch import ProfileBuilder

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BLOCK_SIZE", "LongLine", "UnclosedQuote", "stream_csv"]

BLOCK_SIZE = 16 << 20  # the first segment (types are inferred from it), the longest line, a row group
SEGMENT_SIZE = 4 << 20  # later segments: small enough that filling and draining the pipeline is quick
_WORKERS = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))

Progress = Callable[[float], None]


class UnclosedQuote(Exception):  # noqa: N818 - a signal to the caller, which words the message
    """The file has an odd number of quotes: one opened and never closed."""


class LongLine(Exception):  # noqa: N818
    """No line end outside quotes within :data:`BLOCK_SIZE` bytes."""


@dataclass
class _Segment:
    data: bytes | memoryview  # UTF-8
    first: bool
    read_to: int  # how far into the file the reader had got


@dataclass
class _Totals:
    sha256: str = ""


def _cut(buf: bytes | bytearray, end: int) -> int:
    """Where to cut ``buf[:end]`` (which starts outside quotes): after its last line end outside
    quotes, or 0 if there is none."""
    sep = b"\n"
    last = buf.rfind(sep, 0, end)
    if last < 0:  # old Mac files end lines with a bare \r
        sep = b"\r"
        last = buf.rfind(sep, 0, end)
    if last < 0:
        return 0
    if buf.find(b'"', 0, last) < 0:
        return last + 1
    quotes = _count_quotes(buf, last)
    while last >= 0:
        if quotes % 2 == 0:
            return last + 1
        prev = buf.rfind(sep, 0, last)
        quotes -= buf.count(b'"', prev + 1, last)
        last = prev
    return 0


def _count_quotes(buf: bytes | bytearray, end: int) -> int:
    import numpy as np

    # Vectorised: five times faster than bytes.count on one character (measured).
    return int(np.count_nonzero(np.frombuffer(buf, np.uint8, count=end) == ord('"')))


def _read_block(fh: Any, carry: bytes, size: int) -> tuple[bytearray, int]:
    """A new buffer holding ``carry`` and then up to ``size`` bytes of the file (read straight
    into it: segments are views of it, never copies), and how many bytes were read."""
    buf = bytearray(len(carry) + size)
    buf[: len(carry)] = carry
    view = memoryview(buf)
    got = len(carry)
    while got < len(buf) and (n := fh.readinto(view[got:])):
        got += n
    return buf, got - len(carry)


def _segments(path: Path, encoding: str, totals: _Totals) -> Iterator[_Segment]:
    """The reader: hash, check the encoding, and cut the file into UTF-8 segments."""
    digest = hashlib.sha256()
    utf8 = encoding == "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    seen_non_ascii = False
    carry = b""
    offset = 0
    first = True
    with open(path, "rb", buffering=0) as fh:
        while True:
            # UTF-8 is cut where it lies; other encodings are cut after transcoding.
            lead = carry if utf8 else b""
            block, n = _read_block(fh, lead, BLOCK_SIZE if first else min(SEGMENT_SIZE, BLOCK_SIZE))
            if not n:
                break
            raw = memoryview(block)[len(lead) : len(lead) + n]
            digest.update(raw)  # releases the GIL
            try:
                if utf8:
                    # Bytes past the data read are zeros, and ASCII: one check for the whole block.
                    if decoder.getstate()[0] or not block.isascii():
                        decode_checked(decoder, encoding, raw, offset)
                        seen_non_ascii = True
                    buf: bytes | bytearray = block
                    end = len(carry) + n
                else:
                    buf = carry + decode_checked(decoder, encoding, raw, offset).encode("utf-8")
                    end = len(buf)
            except DecodeFailure as failure:
                failure.text_like = failure.text_like and not seen_non_ascii
                raise
            offset += n
            cut = _cut(buf, end)
            if cut:
                yield _Segment(memoryview(buf)[:cut], first, offset)
                first = False
            elif end > BLOCK_SIZE:
                raise LongLine()
            carry = bytes(buf[cut:end])
        try:
            decode_checked(decoder, encoding, b"", offset, final=True)
        except DecodeFailure as failure:
            failure.text_like = failure.text_like and not seen_non_ascii
            raise
    if _count_quotes(carry, len(carry)) % 2:
        raise UnclosedQuote()
    totals.sha256 = digest.hexdigest()
    if carry.strip() or first:
        yield _Segment(carry, first, offset)


class _Prefetch:
    """Runs an iterator in its own thread, ``depth`` items ahead; its errors re-raise here."""

    def __init__(self, items: Iterator[Any], depth: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), name="loom-csv-reader", daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            self._put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _put(self, message: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _parse_and_profile(
    segment: _Segment, names: list[str], delimiter: str, types: dict, builder: ProfileBuilder | None
) -> tuple[pa.Table, Any]:
    table = _parse(segment, names, delimiter, types)
    return table, builder.part(table) if builder is not None else None


def _parse(segment: _Segment, names: list[str], delimiter: str, types: dict) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(
        use_threads=False,  # one parser per core already
        block_size=len(segment.data) + 1,  # one block: no row can straddle blocks
        column_names=names,
        skip_rows=1 if segment.first else 0,
    )
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    # The reader has already checked the encoding.
    convert = pcsv.ConvertOptions(column_types=types, strings_can_be_null=True, check_utf8=False)
    return pcsv.read_csv(pa.BufferReader(segment.data), read, parse, convert)


def stream_csv(
    path: Path,
    out: Path,
    *,
    encoding: str,
    delimiter: str,
    names: list[str],
    forced: dict[str, Any],
    progress: Progress | None = None,
    profile: bool = True,
) -> tuple[str, pa.Schema | None, int, dict[str, Any] | None]:
    """Read, check, hash, profile and write one CSV file.

    Args:
        forced: Column types to use instead of inferring them (pyarrow types by column name).
        profile: Profile the batches as they parse. Defaults to True (False: the bench's
            "ingest alone").

    Returns:
        The file's SHA-256, the schema written (None when no row was), the number of rows, and
        the profile (None when no row was written).

    Raises:
        DecodeFailure, UnclosedQuote, LongLine: For the caller to word; ``pyarrow.ArrowInvalid``
            from the parser (ragged rows, a value that does not fit the column's type).
    """
    from concurrent.futures import ThreadPoolExecutor

    size = max(1, path.stat().st_size)
    totals = _Totals()
    reader = _Prefetch(_segments(path, encoding, totals), depth=2)
    writer: _BackgroundWriter | None = None
    rows = 0
    pending: list[pa.Table] = []
    blocks = 0
    pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="loom-csv-parse")
    inflight: deque = deque()
    try:
        segments = iter(reader)
        first = next(segments)
        table = _parse(first, names, delimiter, forced)  # settles the column types
        types = dict(zip(table.schema.names, table.schema.types, strict=True))
        writer = _BackgroundWriter(out, table.schema)
        builder = ProfileBuilder(table.schema, table) if profile else None

        def emit(table: pa.Table, segment: _Segment, part: Any) -> None:
            nonlocal rows, blocks
            if builder is not None:
                builder.add(part)
            if table.num_rows:
                pending.append(table)
                rows += table.num_rows
            # One row group per BLOCK_SIZE bytes of the file, cut where pyarrow's streaming
            # reader cut its blocks: the same row groups as before segments were smaller.
            if segment.read_to // BLOCK_SIZE > blocks:
                blocks = segment.read_to // BLOCK_SIZE
                flush()
            if progress:
                progress(0.9 * segment.read_to / size)

        def flush() -> None:
            if pending:
                writer.put(pending[:])
            pending.clear()

        emit(table, first, builder.part(table) if builder is not None else None)
        for segment in segments:
            inflight.append(
                (pool.submit(_parse_and_profile, segment, names, delimiter, types, builder), segment)
            )
            if len(inflight) > _WORKERS:
                future, done = inflight.popleft()
                parsed, part = future.result()
                emit(parsed, done, part)
        while inflight:
            future, done = inflight.popleft()
            parsed, part = future.result()
            emit(parsed, done, part)
        flush()
    except BaseException:
        for future, _ in inflight:
            future.cancel()
        pool.shutdown(wait=True)
        reader.close()
        if writer is not None:
            writer.abort()
        out.unlink(missing_ok=True)
        raise
    pool.shutdown(wait=True)
    reader.close()
    wrote = writer.close() if writer is not None else False
    if not wrote:
        out.unlink(missing_ok=True)
        return totals.sha256, None, 0, None
    return totals.sha256, writer.schema, rows, profile_of(builder) if builder is not None else None


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How each column is written, chosen by measurement on ``bench/ingest.py``'s file (CPU time of
    the writer per 100 MB of CSV: 0.45 s with zstd and dictionaries everywhere, 0.30 s like this,
    for a file 10 % larger):

    - text: dictionary-encoded (repeated values cost almost nothing) and zstd; no min/max
      statistics (nothing reads them, and they were a sixth of the writer's time);
    - floating point: snappy, no dictionary. Parsed decimals are mostly unique doubles, which
      zstd shrinks by a tenth at three times snappy's cost;
    - everything else (integers, booleans, dates): zstd, with statistics (the profile's histogram
      bins come from the numeric columns' min/max).
    """
    import pyarrow as pa

    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    floats = {f.name for f in schema if pa.types.is_floating(f.type)}
    return {
        "compression": {f.name: "snappy" if f.name in floats else "zstd" for f in schema},
        "use_dictionary": text,
        "write_statistics": [f.name for f in schema if f.name not in text],
    }


class _BackgroundWriter:
    """Writes Parquet in a thread while the next segments parse (both release the GIL).

    Each item is the tables of about :data:`BLOCK_SIZE` bytes of CSV, written as one row group
    (as pyarrow's streaming reader made them: the profile runs one task per row group). The queue
    holds at most two, so memory stays bounded.
    """

    def __init__(self, out: Path, schema: pa.Schema) -> None:
        self._out = out
        self.schema = schema
        self._options = parquet_options(schema)
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._wrote = False
        self._thread = threading.Thread(target=self._run, name="loom-parquet-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            while (tables := self._queue.get()) is not None:
                if writer is None:
                    writer = pq.ParquetWriter(self._out, self.schema, **self._options)
                writer.write_table(pa.concat_tables(tables))
                self._wrote = True
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc
            while self._queue.get() is not None:  # drain so the producer never blocks
                pass
        finally:
            if writer is not None:
                try:
                    writer.close()  # writes the footer: can fail too (a full disk)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = self._error or exc

    def put(self, tables: list[pa.Table]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(tables)

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
