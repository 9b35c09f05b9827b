# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OSX's input pipeline: person box -> crop box -> 512x384 affine crop -> RGB in [0, 1] -> 256x192 nearest.

Faithful to OSX ``common/utils/preprocessing.py`` (``sanitize_bbox``, ``process_bbox``, ``generate_patch_image``)
and the model's ``F.interpolate(img, (256, 192))``: the box is clipped to the image, widened to the 0.75 aspect
ratio around its centre, scaled by 1.25, and warped (bilinear, zero outside the image) so that it fills the crop.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from grounded_sam_ros.mesh.config import BOX_SCALE, INPUT_BODY_SHAPE, INPUT_IMG_SHAPE


def crop_box(box_xyxy: np.ndarray, width: int, height: int, scale: float = BOX_SCALE) -> Optional[np.ndarray]:
    """The crop box OSX uses for a person box.

    box_xyxy: (4,) x0, y0, x1, y1 pixels of a ``width`` x ``height`` image. Returns (4,) float32 x, y, w, h of the
    crop (may extend past the image), or None when the clipped box is empty.
    """
    box = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"a person box is 4 finite numbers x0, y0, x1, y1; got {box_xyxy!r}")
    x, y, w, h = box[0], box[1], box[2] - box[0], box[3] - box[1]
    # Clip as OSX's sanitize_bbox does (xywh with inclusive pixel ends)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1))
    if not (w * h > 0 and x2 > x1 and y2 > y1):
        return None
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    # Widen the short side to the crop's aspect ratio, then enlarge
    aspect = INPUT_IMG_SHAPE[1] / INPUT_IMG_SHAPE[0]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    w, h = w * scale, h * scale
    return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float32)


def crop_transform(box_xywh: np.ndarray, out_shape: tuple[int, int] = INPUT_IMG_SHAPE) -> np.ndarray:
    """2x3 float64 affine map from source-image pixels to crop pixels (out_shape = (height, width))."""
    x, y, w, h = (float(v) for v in box_xywh)
    out_h, out_w = out_shape
    sx, sy = out_w / w, out_h / h
    cx, cy = x + w / 2, y + h / 2
    return np.array([[sx, 0.0, out_w / 2 - sx * cx], [0.0, sy, out_h / 2 - sy * cy]])


def crop_to_image(points: np.ndarray, box_xywh: np.ndarray, out_shape: tuple[int, int] = INPUT_IMG_SHAPE) -> np.ndarray:
    """Nx2 crop pixels (of a crop of ``out_shape``) -> Nx2 source-image pixels."""
    m = crop_transform(box_xywh, out_shape)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (pts - m[:, 2]) / np.array([m[0, 0], m[1, 1]])


def crop_person(image: np.ndarray, box_xywh: np.ndarray) -> np.ndarray:
    """image: HxWx3 uint8 RGB -> 512x384x3 float32 RGB crop, 0..255, zeros outside the image (cv2 bilinear)."""
    import cv2

    m = crop_transform(box_xywh).astype(np.float32)
    out_h, out_w = INPUT_IMG_SHAPE
    crop = cv2.warpAffine(image.astype(np.float32), m, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return crop.astype(np.float32)


def to_network_input(crops: list[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
    """512x384x3 float32 0..255 crops -> Nx3x256x192 float32 in [0, 1] (no mean/std), nearest-downsampled as OSX."""
    batch = torch.from_numpy(np.stack(crops)).to(device).permute(0, 3, 1, 2) / 255.0
    return nn.functional.interpolate(batch, size=INPUT_BODY_SHAPE, mode="nearest")
