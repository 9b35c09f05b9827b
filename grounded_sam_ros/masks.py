# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Mask helpers: tight crops with offsets, and COCO run-length encoding (pure numpy, no ROS)."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def crop_mask(mask: np.ndarray) -> Tuple[np.ndarray, int, int]:
    """Crop a full-size mask to its tight bounding box.

    mask: (H, W) bool (any dtype; nonzero = inside). Returns ``(crop, x, y)`` where crop is (h, w) bool and
    ``x``/``y`` are the column/row of its top-left pixel. An empty mask gives a (0, 0) crop at (0, 0).
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    mask = mask.astype(bool, copy=False)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=bool), 0, 0
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return mask[y0:y1, x0:x1].copy(), int(x0), int(y0)


def uncrop_mask(crop: np.ndarray, x: int, y: int, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`crop_mask`: paste an (h, w) crop at column ``x``, row ``y`` of an all-false (H, W) bool."""
    full = np.zeros((height, width), dtype=bool)
    h, w = crop.shape[:2]
    if h == 0 or w == 0:
        return full
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ValueError(f"mask crop {w}x{h} at ({x}, {y}) does not fit in a {width}x{height} image")
    full[y : y + h, x : x + w] = crop.astype(bool, copy=False)
    return full


def encode_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE of an (H, W) bool mask: ``{"size": [H, W], "counts": [...]}``.

    Counts are run lengths in column-major (Fortran) order, starting with a run of zeros — the layout
    pycocotools' ``frPyObjects`` reads.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    # Positions where the value changes, plus both ends
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def decode_rle(rle: dict) -> np.ndarray:
    """Inverse of :func:`encode_rle` for uncompressed counts: (H, W) bool."""
    height, width = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != height * width:
        raise ValueError(f"RLE counts sum to {counts.sum()}, expected {height}*{width}={height * width}")
    values = np.zeros(counts.size, dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((height, width), order="F")
