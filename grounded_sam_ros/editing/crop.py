# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The region the model repaints: a crop around the mask at the model's resolution, pasted back at full resolution.

The region follows diffusers' ``padding_mask_crop``: the mask's bounding box plus padding, grown to the aspect ratio
of the model's input and shifted (then clipped) to stay inside the image. Resizing is PIL Lanczos both ways, as in
diffusers, so a crop edit equals ``pipe(..., padding_mask_crop=pad)`` on the same inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

# Every side the model sees is a multiple of this (VAE x8 and the UNet's down-sampling need it)
SIZE_MULTIPLE = 8


@dataclass(frozen=True)
class Region:
    """A box of the source image (``x0, y0, x1, y1`` pixels, end exclusive) and the size the model sees it at."""

    x0: int
    y0: int
    x1: int
    y1: int
    model_width: int
    model_height: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def size_for_aspect(width: int, height: int, resolution: int) -> Tuple[int, int]:
    """(w, h), multiples of 8, with about ``resolution**2`` pixels and the aspect ratio of ``width x height``."""
    aspect = width / height
    w = max(SIZE_MULTIPLE, round(resolution * math.sqrt(aspect) / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    h = max(SIZE_MULTIPLE, round(resolution / math.sqrt(aspect) / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    return int(w), int(h)


def mask_region(mask: np.ndarray, resolution: int, padding: int) -> Region:
    """The crop around ``mask`` (H, W) bool that a ``resolution`` x ``resolution`` model repaints.

    Bounding box + ``padding``, grown to a square (the model's aspect) around its centre, shifted into the image.
    When the image is too small for the square (the crop was clipped), the model size follows the crop's aspect.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask is empty: nothing to crop around")
    img_h, img_w = mask.shape
    x0, x1 = max(int(cols[0]) - padding, 0), min(int(cols[-1]) + 1 + padding, img_w)
    y0, y1 = max(int(rows[0]) - padding, 0), min(int(rows[-1]) + 1 + padding, img_h)
    # Grow the short side to the model's aspect ratio (square), centred
    if x1 - x0 > y1 - y0:
        y0, y1 = _grow(y0, y1, x1 - x0, img_h)
    else:
        x0, x1 = _grow(x0, x1, y1 - y0, img_w)
    if x1 - x0 == y1 - y0:
        return Region(x0, y0, x1, y1, resolution, resolution)
    return Region(x0, y0, x1, y1, *size_for_aspect(x1 - x0, y1 - y0, resolution))


def _grow(lo: int, hi: int, target: int, limit: int) -> Tuple[int, int]:
    """Grow [lo, hi) to ``target`` long around its centre, shifted back inside [0, limit), clipped if too long."""
    extra = target - (hi - lo)
    lo, hi = lo - extra // 2, hi + extra - extra // 2
    if hi > limit:
        lo, hi = lo - (hi - limit), limit
    if lo < 0:
        lo, hi = 0, hi - lo
    return lo, min(hi, limit)


def full_region(width: int, height: int, resolution: int) -> Region:
    """The whole image, seen at about ``resolution**2`` pixels with its own aspect ratio."""
    return Region(0, 0, width, height, *size_for_aspect(width, height, resolution))


def crop_for_model(image: np.ndarray, mask: np.ndarray, region: Region):
    """The region of ``image`` (HxWx3 uint8 RGB) and ``mask`` ((H, W) bool) as PIL images at the model's size.

    Returns (RGB image, L mask 0/255), both ``region.model_width x region.model_height``, Lanczos-resized.
    """
    from PIL import Image

    box = (region.x0, region.y0, region.x1, region.y1)
    size = (region.model_width, region.model_height)
    rgb = Image.fromarray(image).crop(box).resize(size, Image.Resampling.LANCZOS)
    grey = Image.fromarray(mask.astype(np.uint8) * 255).crop(box).resize(size, Image.Resampling.LANCZOS)
    return rgb, grey


def paste_back(image: np.ndarray, repainted, region: Region) -> np.ndarray:
    """A copy of ``image`` (HxWx3 uint8 RGB) with ``repainted`` (PIL RGB, model size) resized into ``region``."""
    from PIL import Image

    patch = repainted.convert("RGB").resize((region.width, region.height), Image.Resampling.LANCZOS)
    out = image.copy()
    out[region.y0 : region.y1, region.x0 : region.x1] = np.asarray(patch, dtype=np.uint8)
    return out
