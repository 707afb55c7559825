"""Image steps: resize, scale to [0, 1], augment training rows.

The `image` column holds PNG bytes (from ingest) or, after scaling, float arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import SpecError
from core.pipeline._step_base import ROW_COLUMN
from core.pipeline._step_base import SPLIT_COLUMN
from core.pipeline._step_base import BaseStep
from core.pipeline._step_base import row_uniform


def _decode(png: bytes) -> np.ndarray:
    from core.images import decode_image

    return decode_image(png)


def _encode(arr: np.ndarray) -> bytes:
    from core.images import encode_png

    return encode_png(arr)


def _check_images(step: BaseStep, schema: dict[str, str]) -> None:
    if "image" not in schema:
        raise SpecError(
            f"{step.title}: this dataset has no `image` column. Image steps need an image dataset."
        )


@dataclass(frozen=True)
class ResizeImages(BaseStep):
    type: ClassVar[str] = "resize_images"
    title: ClassVar[str] = "Resize images"
    height: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        if not (1 <= int(self.height) <= 1024 and 1 <= int(self.width) <= 1024):
            raise SpecError(
                f"{self.title}: `1 <= height, width <= 1024` must hold, but got "
                f"(height={self.height}, width={self.width})."
            )

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from PIL import Image

        def one(png: Any) -> Any:
            if not isinstance(png, bytes):
                raise SpecError(f"{self.title}: put it before 'Scale images to [0, 1]'.")
            arr = _decode(png)
            return _encode(
                np.asarray(Image.fromarray(arr).resize((self.width, self.height), Image.Resampling.BILINEAR))
            )

        return df.assign(image=df["image"].map(one))


@dataclass(frozen=True)
class ScaleImages(BaseStep):
    """Pixels → float32 in [0, 1], shaped (height, width, channels): what a network takes."""

    type: ClassVar[str] = "scale_images"
    title: ClassVar[str] = "Scale images to [0, 1]"

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from core.images import decode_images

        pixels = decode_images(df["image"].tolist())
        if pixels and len({p.shape for p in pixels}) == 1:
            # One shape (MNIST and most datasets): scale all images in one array operation;
            # each row holds a view of it.
            batch = np.stack(pixels).astype(np.float32) / np.float32(255.0)
            if batch.ndim == 3:
                batch = batch[..., None]
            return df.assign(image=list(batch))
        scaled = [p.astype(np.float32) / np.float32(255.0) for p in pixels]
        return df.assign(image=[p[..., None] if p.ndim == 2 else p for p in scaled])


@dataclass(frozen=True)
class AugmentImages(BaseStep):
    """Random flips and rotations of training rows only; validation and test stay untouched.

    Each row's draw is a hash of its position and the seed, so it is the same on every engine.
    """

    type: ClassVar[str] = "augment_images"
    title: ClassVar[str] = "Augment images (train only)"
    train_only: ClassVar[bool] = True
    flip: bool = True
    max_rotation: float = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= float(self.max_rotation) <= 180:
            raise SpecError(
                f"{self.title}: `0 <= max_rotation <= 180` must hold, but got {self.max_rotation}."
            )

    def check(self, schema: dict[str, str]) -> None:
        _check_images(self, schema)
        if SPLIT_COLUMN not in schema:
            raise SpecError(f"{self.title}: put a split before it, so only training rows are augmented.")

    def transform(self, df: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
        from PIL import Image

        train = (df[SPLIT_COLUMN] == "train").to_numpy()
        rows = df[ROW_COLUMN].to_numpy()
        u_flip, u_rot = row_uniform(rows, self.seed), row_uniform(rows, self.seed + 1)
        images = df["image"].tolist()
        for i in np.flatnonzero(train):
            img = images[i]
            if not isinstance(img, bytes):
                raise SpecError(f"{self.title}: put it before 'Scale images to [0, 1]'.")
            pil = Image.fromarray(_decode(img))
            if self.flip and u_flip[i] < 0.5:
                pil = pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if self.max_rotation:
                pil = pil.rotate((u_rot[i] * 2 - 1) * self.max_rotation, resample=Image.Resampling.BILINEAR)
            images[i] = _encode(np.asarray(pil))
        return df.assign(image=images)
