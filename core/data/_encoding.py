"""Text encodings of delimited files: what Loom reads, what it detects, and what it says when
bytes do not decode.

Detection, when the user leaves the encoding on "detect": a byte-order mark names UTF-8 or UTF-16;
otherwise UTF-8 is tried first. If UTF-8 fails on a file that looks like single-byte text (no
control bytes, and no valid multi-byte UTF-8 before the first bad byte, which would mean a damaged
UTF-8 file rather than another encoding), cp1252 is tried, then latin-1. cp1252 comes first
because it is what Windows and Excel write in Western Europe and it agrees with latin-1 on every
printable latin-1 character; latin-1 only differs in 0x80-0x9F (control codes there, curly
quotes, dashes and the euro sign in cp1252), so a file cp1252 cannot decode falls to latin-1.
This is the order the WHATWG Encoding Standard uses for unlabelled Western text.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from core.errors import DataError

__all__ = ["ENCODINGS", "DecodeFailure", "bom_encoding", "decode_checked", "next_guess", "undecodable"]

ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252")
# Tried in this order after UTF-8 when nothing names the encoding.
_GUESSES = ("cp1252", "latin-1")
# C0 control bytes other than tab, line feed, vertical tab, form feed and carriage return: binary.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")


class DecodeFailure(Exception):
    """Bytes at ``offset`` (in the file) are not valid ``encoding``.

    Internal: the caller decides whether to guess another encoding (see :func:`next_guess`) or to
    tell the user (:func:`undecodable`).
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


def next_guess(failure: DecodeFailure) -> str | None:
    """The encoding to try after ``failure`` when nothing named one, or None to give up."""
    if failure.encoding == "utf-8":
        return _GUESSES[0] if failure.text_like else None
    if failure.encoding in _GUESSES[:-1]:
        return _GUESSES[_GUESSES.index(failure.encoding) + 1]
    return None


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
