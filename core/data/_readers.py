"""Readers for Parquet, JSON Lines, NumPy ``.npz`` and ZIPs of images → Parquet in the data dir.

Every reader refuses what could execute code or exhaust the machine: pickled arrays and
extension types, archive entries that leave their folder, nested archives, decompression and
image bombs. Images are decoded by Pillow under a pixel cap and stored as PNG (core.images).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from pathlib import PurePosixPath
from typing import Any

from core.errors import DataError

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "jsonl_to_parquet",
    "npz_to_parquet",
    "parquet_to_parquet",
    "zip_to_parquet",
]

Progress = Callable[[float], None]

MAX_IMAGE_PIXELS = 4096 * 4096
MAX_ZIP_ENTRIES = 200_000
MAX_ZIP_TOTAL = 2 << 30  # uncompressed bytes
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per entry
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst")
_BATCH = 65_536


def _write_batches(out: Path, batches, progress: Progress | None, total: int | None):  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if writer is None:
                writer = pq.ParquetWriter(out, batch.schema, compression="zstd")
            writer.write_batch(batch)
            rows += batch.num_rows
            if progress and total:
                progress(0.2 + 0.7 * min(1.0, rows / total))
    except BaseException:
        if writer is not None:
            writer.close()
        out.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    return rows


# --- Parquet -------------------------------------------------------------------------------


def parquet_to_parquet(path: Path, out: Path, progress: Progress | None = None) -> tuple[Any, int, dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"This is not a readable Parquet file: {exc}. Export it again from its source."
        ) from None
    schema = source.schema_arrow
    for field in schema:
        meta = field.metadata or {}
        ext = meta.get(b"ARROW:extension:name")
        if ext is not None or isinstance(field.type, pa.ExtensionType):
            ext_name = (ext or b"?").decode(errors="replace")
            raise DataError(
                f"Column {field.name!r} uses the Arrow extension type {ext_name!r}. "
                "Loom does not load extension types (some carry pickled Python objects that would run "
                "code). Convert the column to a plain type (numbers, strings, dates) and export again."
            )
    plain = pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])  # drops foreign metadata
    names = [f.name for f in plain]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise DataError(
            f"Column name(s) {sorted(dupes)} appear more than once. Rename them and export again."
        )
    batches = (b.cast(plain) for b in source.iter_batches(batch_size=_BATCH))
    try:
        rows = _write_batches(out, batches, progress, source.metadata.num_rows)
    except pa.ArrowException as exc:
        raise DataError(f"The Parquet file is damaged: {exc}. Export it again from its source.") from None
    if rows == 0:
        raise DataError("The Parquet file has columns but no rows. Choose a file with data.")
    return pq.read_schema(out), rows, {}


# --- JSON Lines ----------------------------------------------------------------------------


def jsonl_to_parquet(path: Path, out: Path, progress: Progress | None = None) -> tuple[Any, int, dict]:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise DataError("The file is empty (0 bytes). Choose a JSON Lines file: one JSON object per line.")
    try:
        reader = pj.open_json(path, read_options=pj.ReadOptions(block_size=16 << 20))
        rows = _write_batches(out, reader, progress, None)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"This is not valid JSON Lines: {str(exc).splitlines()[0]}. Each line must be one JSON "
            'object, e.g. {"x": 1, "label": "a"}.'
        ) from None
    if rows == 0:
        raise DataError("The file holds no JSON objects. Put one JSON object per line.")
    return pq.read_schema(out), rows, {}


# --- NumPy .npz ----------------------------------------------------------------------------


def npz_to_parquet(path: Path, out: Path, progress: Progress | None = None) -> tuple[Any, int, dict]:
    """``x`` and ``y`` → features (2-D ``x``) or images (3-D/4-D ``x``) plus ``label``; otherwise
    every array (all 1-D, same length) becomes a column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"This is not a readable .npz file: {exc}. Save it with numpy.savez.") from None
    arrays: dict[str, Any] = {}
    with archive:
        for name in archive.files:
            try:
                arrays[name] = archive[name]
            except ValueError as exc:
                raise DataError(
                    f"Array {name!r} holds Python objects (dtype=object); loading it would unpickle "
                    "data, which can run code. Save it as numbers or fixed-width strings "
                    f"(e.g. arr.astype(float)) instead. ({exc})"
                ) from None
    if not arrays:
        raise DataError("The .npz file holds no arrays.")
    if "x" in arrays and "y" in arrays:
        x, y = arrays["x"], arrays["y"]
        if x.shape[0] != y.shape[0] or y.ndim != 1:
            raise DataError(
                f"`x` and `y` must have the same number of rows and `y` must be 1-D, but got "
                f"x.shape={x.shape}, y.shape={y.shape}."
            )
        if x.ndim == 2:
            columns = {f"x{i}": x[:, i] for i in range(x.shape[1])}
        elif x.ndim in (3, 4):
            columns = {"image": _png_column(_to_uint8(x))}
        else:
            raise DataError(f"`x` must be 2-D (features) or 3-D/4-D (images), but got x.shape={x.shape}.")
        columns["label"] = y
        # Other arrays as long as `y` come along as columns (e.g. `split`: train/test per row,
        # for a split step that takes each row's part from a column).
        for name, extra in arrays.items():
            if name in ("x", "y"):
                continue
            if extra.ndim != 1 or len(extra) != len(y):
                raise DataError(
                    f"Array {name!r} has shape {extra.shape}, but beside `x` and `y` every array must "
                    f"be 1-D with one value per row ({len(y)}). Drop it or reshape it."
                )
            if name in columns:
                raise DataError(f"Array {name!r} would replace the column of that name. Rename it.")
            columns[name] = extra
        table = pa.table(columns)
    else:
        lengths = {n: (a.ndim, len(a) if a.ndim else 0) for n, a in arrays.items()}
        if any(ndim != 1 for ndim, _ in lengths.values()) or len({n for _, n in lengths.values()}) != 1:
            raise DataError(
                "Without arrays named `x` and `y`, every array must be 1-D and equally long to form "
                f"columns, but got {', '.join(f'{k}: {v[0]}-D, {v[1]} rows' for k, v in lengths.items())}."
            )
        table = pa.table(arrays)
    if table.num_rows == 0:
        raise DataError("The arrays are empty.")
    pq.write_table(table, out, compression="zstd")
    if progress:
        progress(0.9)
    return table.schema, table.num_rows, {}


def _to_uint8(x):  # type: ignore[no-untyped-def]
    import numpy as np

    if x.dtype == np.uint8:
        return x
    lo, hi = float(x.min()), float(x.max())
    if np.issubdtype(x.dtype, np.integer) and lo >= 0 and hi <= 255:
        return x.astype(np.uint8)
    if lo >= 0 and hi <= 1:
        return (x * 255).round().astype(np.uint8)
    return ((x - lo) / ((hi - lo) or 1) * 255).round().astype(np.uint8)


def _png_column(images) -> list[bytes]:  # type: ignore[no-untyped-def]
    from core.images import encode_png

    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[-1] not in (3, 4):
        raise DataError(
            f"Images must have 1, 3 or 4 channels (grey, RGB, RGBA), but `x` has {images.shape[-1]}: "
            f"x.shape={images.shape}."
        )
    return [encode_png(img) for img in images]


# --- ZIP of images, one folder per class ---------------------------------------------------


def _size(n: int) -> str:
    """Bytes as a person reads them: 41 KB, 41.9 MB, 2.1 GB (decimal units)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} bytes"


def _safe_member(name: str) -> PurePosixPath:
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"Archive entry {name!r} has an absolute or Windows path. Refusing the archive.")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise DataError(f"Archive entry {name!r} points outside its folder ('..'). Refusing the archive.")
    return path


def zip_to_parquet(path: Path, out: Path, progress: Progress | None = None) -> tuple[Any, int, dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from core.images import encode_png

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"This is not a readable ZIP file: {exc}.") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_ENTRIES:
            raise DataError(f"The archive has {len(infos)} files; the limit is {MAX_ZIP_ENTRIES}.")
        total = 0
        members: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            p = _safe_member(info.filename)
            if p.name.startswith(".") or "__MACOSX" in p.parts:
                continue
            # Sizes first, whatever the entry's name: a bomb is named as one, not as a stray file.
            total += info.file_size
            ratio = info.file_size // max(info.compress_size, 1)
            if ratio > MAX_ZIP_RATIO and info.file_size > 1 << 20:
                raise DataError(
                    f"Archive entry {info.filename!r} would expand to {_size(info.file_size)} from "
                    f"{_size(info.compress_size)} (ratio {ratio:,}:1), over the limit of "
                    f"{MAX_ZIP_RATIO}:1 for an entry over 1 MB: a zip bomb. Refusing the archive."
                )
            if total > MAX_ZIP_TOTAL:
                raise DataError(
                    f"The archive would expand to over {_size(total)} by entry {info.filename!r} (from "
                    f"{_size(path.stat().st_size)}), over the limit of {MAX_ZIP_TOTAL >> 30} GiB: a zip "
                    "bomb, or too much for one upload. Refusing the archive."
                )
            if p.suffix.lower() in _ARCHIVE_SUFFIXES:
                raise DataError(f"Archive entry {info.filename!r} is itself an archive. Unpack it first.")
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(
                    f"Archive entry {info.filename!r} is not a PNG or JPEG image. Keep only images, "
                    "one folder per class (e.g. cats/1.png, dogs/2.jpg)."
                )
            if len(p.parts) < 2:
                raise DataError(
                    f"Image {info.filename!r} is not inside a class folder. Put each image in a folder "
                    "named after its class (e.g. cats/1.png)."
                )
            members.append((info, p.parts[-2]))
        if not members:
            raise DataError("The archive holds no images. Put PNG or JPEG images in one folder per class.")
        images, labels, widths, heights = [], [], [], []
        for n, (info, label) in enumerate(members, 1):
            with archive.open(info) as fh:
                data = fh.read(info.file_size + 1)
            pixels = _checked_pixels(data, info.filename, Image)
            images.append(encode_png(pixels))
            labels.append(label)
            heights.append(pixels.shape[0])
            widths.append(pixels.shape[1])
            if progress and n % 256 == 0:
                progress(0.2 + 0.7 * n / len(members))
    table = pa.table({"image": images, "label": labels, "width": widths, "height": heights})
    pq.write_table(table, out, compression="zstd")
    return table.schema, table.num_rows, {}


def _checked_pixels(data: bytes, name: str, Image):  # type: ignore[no-untyped-def] # noqa: N803
    """The image's pixels as uint8 grey or RGB, decoded by Pillow under the pixel cap."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format not in ("PNG", "JPEG"):
                    raise DataError(f"{name!r} is a {im.format} image; only PNG and JPEG are read.")
                if im.width * im.height > MAX_IMAGE_PIXELS:
                    raise DataError(
                        f"{name!r} is {im.width}x{im.height} pixels, over the cap of {MAX_IMAGE_PIXELS} "
                        "pixels (an image bomb?). Resize it first."
                    )
                im.load()
                rgb = im.convert("L" if im.mode in ("1", "L", "I;16") else "RGB")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DataError(
                f"{name!r} is an image bomb ({exc}). Resize it below {MAX_IMAGE_PIXELS} pixels first."
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{name!r} is not a readable image: {exc}.") from None
    return np.asarray(rgb)
