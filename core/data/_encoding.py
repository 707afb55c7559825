"""Text encodings of delimited files: what Loom reads, how a byte-order mark names one, and what
Loom says when bytes do not decode."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from core.errors import DataError

__all__ = ["ENCODINGS", "DecodeFailure", "bom_encoding", "decode_checked", "undecodable"]

ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252")
# C0 control bytes other than tab, line feed, vertical tab, form feed and carriage return: binary.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")


class DecodeFailure(Exception):
    """Bytes at ``offset`` (in the file) are not valid ``encoding``.

    Internal: the caller words the message (:func:`undecodable`).
    """

    def __init__(self, encoding: str, offset: int, bad: bytes, text_like: bool) -> None:
        super().__init__(encoding, offset, bad, text_like)
        self.encoding = encoding
        self.offset = offset
        self.bad = bad
        self.text_like = text_like


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of the file names, if any."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Python's utf-16 codec reads and drops the BOM itself
    return None


def decode_checked(
    decoder: codecs.IncrementalDecoder,
    encoding: str,
    raw: bytes | memoryview,
    offset: int,
    final: bool = False,
) -> str:
    """Decode the next block of a file; ``offset`` is where ``raw`` starts in the file.

    Raises:
        DecodeFailure: Where the first bad byte is, and whether the file still looks like text.
    """
    pending = len(decoder.getstate()[0])
    try:
        return decoder.decode(raw, final)
    except UnicodeDecodeError as exc:
        data = exc.object
        # Valid multi-byte UTF-8 before the bad byte means a damaged UTF-8 file, not latin-1.
        text_like = not _CONTROL.search(data) and (encoding != "utf-8" or data[: exc.start].isascii())
        bad = bytes(data[exc.start : exc.start + 4])
        raise DecodeFailure(encoding, offset - pending + exc.start, bad, text_like) from None


def undecodable(path: Path, failure: DecodeFailure) -> DataError:
    """The message for bytes that do not decode (counts lines up to the bad byte: error path)."""
    line = 1
    left = failure.offset
    with open(path, "rb") as fh:
        while left > 0 and (chunk := fh.read(min(left, 8 << 20))):
            line += chunk.count(b"\n")
            left -= len(chunk)
    return DataError(
        f"Byte {failure.offset} (line {line}) is not valid {failure.encoding}: {failure.bad!r}. "
        "Choose the file's encoding under 'Encoding' (latin-1 or cp1252 for most "
        "Western European exports), or re-save the file as UTF-8."
    )
