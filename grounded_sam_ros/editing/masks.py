# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""From detections to the edit's masks: which instances, their union, dilation, the feathered blend weight.

Pure numpy + OpenCV. One Euclidean distance transform gives both the dilation and the feather ramp, so the blend
weight is exactly 0 beyond ``dilate + feather`` pixels from the chosen masks: those pixels stay the input's.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from grounded_sam_ros.results import Detection, FrameResult


class NothingToEditError(ValueError):
    """The query found nothing (or nothing was chosen), so there is no mask to repaint."""


def select_instances(
    result: FrameResult,
    labels: Optional[Sequence[str]] = None,
    indices: Optional[Sequence[int]] = None,
    top_k: int = 0,
) -> List[Detection]:
    """The detections to edit, in score order.

    labels: keep detections whose label is one of these (case-insensitive); None/empty = any label.
    indices: positions in ``result.detections`` (sorted by score, 0 = best); None/empty = all.
    top_k: then keep the k best by score; 0 = no limit. Raises :class:`NothingToEditError` when none is left and
    ``ValueError`` for an index out of range.
    """
    if top_k < 0:
        raise ValueError(f"top_k={top_k}: expected an integer >= 0 (0 = all)")
    chosen = list(result.detections)
    if indices:
        bad = [i for i in indices if not -len(chosen) <= i < len(chosen)]
        if bad:
            raise ValueError(
                f"instance index {bad[0]} out of range: the query found {len(chosen)} instance(s) (0 = best score)"
            )
        chosen = [chosen[i] for i in dict.fromkeys(int(i) % len(chosen) for i in indices)]
    if labels:
        wanted = {label.strip().lower() for label in labels}
        chosen = [det for det in chosen if det.label.strip().lower() in wanted]
    chosen.sort(key=lambda det: -det.score)
    if top_k:
        chosen = chosen[:top_k]
    if not chosen:
        found = ", ".join(sorted({d.label for d in result.detections})) or "nothing"
        raise NothingToEditError(f"nothing to edit: query {result.query!r} found {found}" + _which(labels, indices))
    missing = [det.id or det.label for det in chosen if det.mask is None]
    if missing:
        raise ValueError(f"detection(s) {', '.join(missing)} have no mask: run the pipeline with segment=True")
    return chosen


def _which(labels: Optional[Sequence[str]], indices: Optional[Sequence[int]]) -> str:
    parts = []
    if labels:
        parts.append(f"label in {list(labels)}")
    if indices:
        parts.append(f"index in {list(indices)}")
    return f" (no match for {' and '.join(parts)})" if parts else ""


def union_mask(detections: Sequence[Detection], height: int, width: int) -> np.ndarray:
    """Union of the detections' masks at source resolution: (height, width) bool."""
    union = np.zeros((height, width), dtype=bool)
    for det in detections:
        if det.mask is None or det.mask.size == 0:
            continue
        h, w = det.mask.shape
        union[det.mask_y : det.mask_y + h, det.mask_x : det.mask_x + w] |= det.mask
    return union


def blend_weight(mask: np.ndarray, dilate: int, feather: int) -> np.ndarray:
    """Per-pixel weight of the repainted image: (H, W) float32 in [0, 1].

    mask: (H, W) bool. With d the Euclidean distance (pixels) to the nearest mask pixel: 1 where d <= dilate, a
    linear ramp down to 0 over the next ``feather`` pixels, exactly 0 from ``dilate + feather`` on.
    """
    import cv2

    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if not mask.any():
        raise NothingToEditError("the mask is empty: nothing to repaint")
    # Distance of every pixel to the nearest mask pixel (0 inside the mask)
    outside = np.ascontiguousarray(~mask.astype(bool), dtype=np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    if feather == 0:
        return (distance <= dilate).astype(np.float32)
    weight = (dilate + feather - distance) / np.float32(feather)
    return np.clip(weight, 0.0, 1.0).astype(np.float32)


def blend(image: np.ndarray, repainted: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``image`` where ``weight`` is 0 (bit-exact), ``repainted`` where it is 1, a rounded mix in between.

    image, repainted: HxWx3 uint8 RGB of the same size. weight: (H, W) float32 in [0, 1]. Returns HxWx3 uint8 RGB.
    """
    if image.shape != repainted.shape:
        raise ValueError(f"image {image.shape} and repainted {repainted.shape} must have the same shape")
    w = weight[..., None]
    mixed = image.astype(np.float32) * (1.0 - w) + repainted.astype(np.float32) * w
    out = np.rint(mixed).clip(0, 255).astype(np.uint8)
    return np.where(w > 0, out, image)
