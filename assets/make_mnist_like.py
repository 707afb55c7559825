"""MNIST-shaped data without a download: 28x28 uint8 digits 0-9 drawn with Pillow's built-in
font, each one slanted, turned, scaled, shifted, thickened or thinned at random, then blurred
and given noise and a random stroke brightness (seeded, CC0). A network must learn the glyphs'
shapes under those changes; nothing is shipped as a big file.

    python assets/make_mnist_like.py OUT.npz [--train 60000] [--test 10000] [--seed 0]
    python assets/make_mnist_like.py OUT.zip --train 2000 --test 0     # PNGs, one folder per class

The ``.npz`` holds ``x`` (N, 28, 28) uint8, ``y`` (N,) int64 and ``split`` ("train" for the
first ``--train`` rows, then "test"): Loom's split step takes the parts from that column
(method ``column``), so a run trains and is tested on exactly the rows a bare script uses.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

SIZE = 28
_CANVAS = 56  # glyphs are drawn and transformed at twice the size, then shrunk (anti-aliasing)


def _glyphs() -> list[list[np.ndarray]]:
    """Each digit drawn centred on a 56x56 canvas, in three stroke widths: [digit][width]."""
    from PIL import Image
    from PIL import ImageDraw
    from PIL import ImageFont

    font = ImageFont.load_default(size=40)  # Pillow's own font: the same on every machine
    glyphs = []
    for digit in range(10):
        widths = []
        for stroke in range(3):
            canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
            ImageDraw.Draw(canvas).text(
                (_CANVAS / 2, _CANVAS / 2),
                str(digit),
                fill=255,
                font=font,
                anchor="mm",
                stroke_width=stroke,
                stroke_fill=255,
            )
            widths.append(np.asarray(canvas))
        glyphs.append(widths)
    return glyphs


def make_mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images and labels: ``x`` (n, 28, 28) uint8 in [0, 255], ``y`` (n,) int64 in 0-9,
    classes balanced up to one image.

    Args:
        n: How many images. Defaults to none; e.g. 70,000 for MNIST's train + test.
        seed: Seeds every random choice. Defaults to 0.

    Returns:
        ``(x, y)``.
    """
    from PIL import Image
    from PIL import ImageFilter

    rng = np.random.default_rng(seed)
    glyphs = [[Image.fromarray(g) for g in widths] for widths in _glyphs()]
    y = rng.permutation(np.arange(n) % 10).astype(np.int64)
    stroke = rng.integers(0, 3, n)
    angle = np.deg2rad(rng.normal(0, 12, n))
    shear = rng.normal(0, 0.2, n)
    scale = rng.uniform(0.75, 1.2, n)
    aspect = rng.uniform(0.8, 1.2, n)
    shift = rng.normal(0, 2.5, (n, 2))  # in canvas pixels
    x = np.empty((n, SIZE, SIZE), np.uint8)
    c = _CANVAS / 2
    for i in range(n):
        # The inverse map (output pixel -> source pixel) of scale, shear and rotation about the centre.
        cos, sin = np.cos(angle[i]), np.sin(angle[i])
        forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear[i]], [0, 1]])
        forward = forward @ np.diag([scale[i] * aspect[i], scale[i]])
        inv = np.linalg.inv(forward)
        offset = np.array([c, c]) - inv @ (np.array([c, c]) + shift[i])
        matrix = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
        img = glyphs[y[i]][stroke[i]].transform(
            (_CANVAS, _CANVAS), Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR
        )
        x[i] = np.asarray(
            img.filter(ImageFilter.GaussianBlur(0.8)).resize((SIZE, SIZE), Image.Resampling.BOX)
        )
    brightness = rng.uniform(0.6, 1.0, (n, 1, 1))
    noise = rng.normal(0, 18, x.shape)
    dots = (rng.random(x.shape) < 0.01) * rng.uniform(80, 255, x.shape)  # stray specks
    out = np.clip(x * brightness + noise + dots, 0, 255)
    return out.round().astype(np.uint8), y


def write_npz(path: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """``x``, ``y`` and ``split`` (train rows first, then test) into ``path``."""
    x, y = make_mnist_like(n_train + n_test, seed)
    split = np.array(["train"] * n_train + ["test"] * n_test)
    np.savez(path, x=x, y=y, split=split)


def write_zip(path: Path, n: int, seed: int = 0) -> None:
    """``n`` images as PNGs in one folder per class (``3/00017.png``) into ``path``."""
    from PIL import Image

    x, y = make_mnist_like(n, seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "PNG")
            archive.writestr(f"{label}/{i:05d}.png", buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="an .npz (x, y, split) or a .zip (PNGs by class)")
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.suffix == ".zip":
        write_zip(args.out, args.train + args.test, args.seed)
    else:
        write_npz(args.out, args.train, args.test, args.seed)


if __name__ == "__main__":
    main()
