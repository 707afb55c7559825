"""core.images: the PNG codec of the ``image`` column — its own PNGs read without Pillow, every
other image (older datasets' Pillow PNGs, JPEG, palettes, 16 bits) still read by Pillow."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.images import decode_image
from core.images import decode_images
from core.images import encode_png

RNG = np.random.default_rng(0)


def _pillow(arr: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(28, 28), (5, 7, 3), (9, 4, 4), (1, 1)])
@pytest.mark.parametrize("level", [0, 1, 9])
def test_own_pngs_round_trip_and_are_standard_pngs(shape: tuple[int, ...], level: int) -> None:
    img = RNG.integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(img, level)
    assert np.array_equal(decode_image(data), img)
    with Image.open(io.BytesIO(data)) as im:  # any viewer opens it
        im.load()
        assert np.array_equal(np.asarray(im), img)


def test_a_single_channel_image_comes_back_two_dimensional() -> None:
    img = RNG.integers(0, 256, (6, 6, 1), dtype=np.uint8)
    assert decode_image(encode_png(img)).shape == (6, 6)


@pytest.mark.parametrize(
    ("arr", "fmt", "options"),
    [
        (RNG.integers(0, 256, (28, 28), dtype=np.uint8), "PNG", {}),  # what older datasets hold
        (RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG", {"optimize": True}),
        (np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1)), "JPEG", {"quality": 100}),
    ],
)
def test_other_images_are_read_by_pillow_unchanged(arr: np.ndarray, fmt: str, options: dict) -> None:
    data = _pillow(arr, fmt, **options)
    with Image.open(io.BytesIO(data)) as im:
        expected = np.asarray(im)
    assert np.array_equal(decode_image(data), expected)


def test_palette_and_sixteen_bit_pngs_go_to_pillow() -> None:
    palette = Image.fromarray(RNG.integers(0, 256, (6, 6, 3), dtype=np.uint8)).quantize(8)
    buf = io.BytesIO()
    palette.save(buf, "PNG")
    assert np.array_equal(decode_image(buf.getvalue()), np.asarray(palette))
    deep = Image.fromarray(RNG.integers(0, 65535, (4, 4), dtype=np.uint16))
    buf = io.BytesIO()
    deep.save(buf, "PNG")
    assert decode_image(buf.getvalue()).shape == (4, 4)


def test_a_png_whose_data_is_cut_short_is_an_error_not_garbage() -> None:
    data = encode_png(RNG.integers(0, 256, (28, 28), dtype=np.uint8), level=6)
    with pytest.raises(OSError):
        decode_image(data[: len(data) // 2])


def test_decode_images_keeps_the_order() -> None:
    imgs = [np.full((3, 3), i, np.uint8) for i in range(5)]
    assert [int(p[0, 0]) for p in decode_images([encode_png(i) for i in imgs])] == list(range(5))


@pytest.mark.parametrize(
    ("arr", "message"),
    [
        (np.zeros((4, 4), np.float32), "uint8"),
        (np.zeros((4, 4, 2), np.uint8), r"\(h, w\) or \(h, w, 1\|3\|4\)"),
    ],
)
def test_encode_refuses_what_it_cannot_write(arr: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_png(arr)
