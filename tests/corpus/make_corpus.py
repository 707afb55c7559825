"""Writes the hostile and malformed input corpus in this folder (small files, committed).

    python tests/corpus/make_corpus.py

Each file is named for what is wrong with it; ``tests/core/data/test_bad_inputs.py`` maps each
to the message a user must see.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

HERE = Path(__file__).resolve().parent
# Unpickling this would create the file `loom_canary_pwned` in the working directory.
CANARY_PICKLE = b"cbuiltins\nopen\n(Vloom_canary_pwned\nVw\ntR."


def _png(color: int, size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _zip(name: str, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(HERE / name, "w", compression) as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)


def main() -> None:
    w = lambda name, data: (HERE / name).write_bytes(data)  # noqa: E731
    # CSV
    w("empty.csv", b"")
    w("whitespace.csv", b"  \n\n  \n")
    w("header_only.csv", b"a,b,c\n")
    w("semicolons.csv", b"a;b;c\n1;2;3\n4;5;6\n")
    w("bom.csv", b"\xef\xbb\xbfname,value\nx,1\ny,2\n")
    w("utf16.csv", "name,value\nx,1\ny,2\n".encode("utf-16"))
    w("latin1.csv", "city,temp\nZürich,3\nMálaga,18\n".encode("latin-1"))
    w("cp1252.csv", "word;note;name\ncafé;naïve;Müller\n€ 5;“quoted”;Æsa\n".encode("cp1252"))
    # Valid UTF-8 (é) and then a latin-1 byte: a damaged UTF-8 file, not one to guess about.
    w("damaged_utf8.csv", "name,value\ncafé,1\n".encode() + "Málaga,2\n".encode("latin-1"))
    w("ragged_long.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    w("ragged_short.csv", b"a,b,c\n1,2,3\n4,5\n7,8,9\n")
    w("unbalanced_quotes.csv", b'a,b\n1,"fine"\n2,"oops\n3,x\n4,y\n')
    w("huge_line.csv", b"a," + b"x" * 300_000)
    w("duplicate_columns.csv", b"a,b,a\n1,2,3\n")
    w("blank_column_name.csv", b"a,,c\n1,2,3\n")
    w("garbage.csv", bytes(range(256)) * 8)
    w("constant_and_empty.csv", b"id,same,empty,y\n1,k,,0\n2,k,,1\n3,k,,0\n4,k,,1\n")
    w(
        "html_and_injection.csv",
        b"<script>alert(1)</script>,note\n"
        b'"<img src=x onerror=alert(1)>","=cmd|\'/c calc\'!A1"\n'
        b'"[x](javascript:alert(1))",@SUM(1)\n',
    )
    # JSON Lines
    w("bad.jsonl", b'{"a": 1}\n{"a": \n')
    w("good.jsonl", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    # NumPy
    np.savez(HERE / "object_array.npz", x=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    np.savez(HERE / "xy_mismatch.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    np.savez(HERE / "columns.npz", height=np.array([1.5, 1.7]), weight=np.array([50.0, 70.0]))
    # Parquet with a (pickle-based) Python extension type in its schema
    field = pa.field(
        "payload",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": CANARY_PICKLE,
        },
    )
    pq.write_table(
        pa.table([pa.array([b"a", b"b"])], schema=pa.schema([field])), HERE / "pickled_extension.parquet"
    )
    pq.write_table(pa.table({"x": [1, 2, 3], "label": ["a", "b", "a"]}), HERE / "good.parquet")
    w("not_parquet.parquet", b"PAR1 but not really")
    # ZIPs of images
    good = {
        f"{cls}/{i}.png": _png(40 * i + (100 if cls == "dogs" else 0))
        for cls in ("cats", "dogs")
        for i in range(3)
    }
    _zip("images_good.zip", good)
    _zip("zip_traversal.zip", {"cats/1.png": _png(1), "../evil.png": _png(2)})
    _zip("zip_absolute.zip", {"/tmp/evil.png": _png(2)})
    _zip("zip_backslash.zip", {"..\\evil.png": _png(2)})
    _zip("zip_nested.zip", {"cats/1.png": _png(1), "cats/inner.zip": b"PK\x05\x06" + b"\0" * 18})
    _zip("zip_bomb.zip", {"cats/big.png": b"\0" * (40 << 20)})
    _zip("zip_bomb_any_name.zip", {"payload/big.bin": b"\0" * (40 << 20)})  # named as a bomb all the same
    _zip("zip_image_bomb.zip", {"cats/bomb.png": _png_header_only(60_000, 60_000)})
    _zip("zip_not_image.zip", {"cats/readme.txt": b"hello"})
    _zip("zip_no_class_folder.zip", {"1.png": _png(1)})


if __name__ == "__main__":
    main()
