# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Matching detections to tracks: pairwise mask (or box) IoU and an optimal one-to-one assignment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from grounded_sam_ros.postprocess import box_iou
from grounded_sam_ros.results import Detection


def crop_iou(a: Detection, b: Detection) -> float:
    """IoU of two detections' masks, computed on their tight crops (no full-size masks are built)."""
    area_a, area_b = int(a.mask.sum()), int(b.mask.sum())
    if area_a == 0 or area_b == 0:
        return 0.0
    # Overlap of the two crops' rectangles in source pixels
    x0, y0 = max(a.mask_x, b.mask_x), max(a.mask_y, b.mask_y)
    x1 = min(a.mask_x + a.mask.shape[1], b.mask_x + b.mask.shape[1])
    y1 = min(a.mask_y + a.mask.shape[0], b.mask_y + b.mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    part_a = a.mask[y0 - a.mask_y : y1 - a.mask_y, x0 - a.mask_x : x1 - a.mask_x]
    part_b = b.mask[y0 - b.mask_y : y1 - b.mask_y, x0 - b.mask_x : x1 - b.mask_x]
    inter = int(np.logical_and(part_a, part_b).sum())
    return inter / float(area_a + area_b - inter)


def iou_matrix(rows: Sequence[Detection], cols: Sequence[Detection]) -> np.ndarray:
    """(len(rows), len(cols)) float32 IoU: mask IoU where both have a mask, box IoU otherwise."""
    out = np.zeros((len(rows), len(cols)), np.float32)
    if not rows or not cols:
        return out
    boxes = box_iou(np.stack([r.box for r in rows]), np.stack([c.box for c in cols]))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if boxes[i, j] <= 0.0:
                continue  # disjoint boxes: disjoint masks
            if r.mask is not None and c.mask is not None:
                out[i, j] = crop_iou(r, c)
            else:
                out[i, j] = boxes[i, j]
    return out


@dataclass
class Assignment:
    """Pairs (row, col) with IoU >= the threshold, and the rows / columns left without a partner."""

    matches: List[Tuple[int, int]]
    unmatched_rows: List[int]
    unmatched_cols: List[int]


def assign(iou: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], min_iou: float) -> Assignment:
    """Optimal one-to-one assignment maximising total IoU (``scipy.optimize.linear_sum_assignment``).

    iou: (R, C) float32. Pairs with different labels or IoU below ``min_iou`` are never matched.
    """
    from scipy.optimize import linear_sum_assignment

    rows, cols = iou.shape
    gain = iou.astype(np.float64).copy()
    if rows and cols:
        same = np.asarray(row_labels, dtype=object)[:, None] == np.asarray(col_labels, dtype=object)[None, :]
        gain[~same] = 0.0
        gain[gain < min_iou] = 0.0
    matches: List[Tuple[int, int]] = []
    if rows and cols and gain.any():
        for r, c in zip(*linear_sum_assignment(gain, maximize=True)):
            if gain[r, c] > 0.0:
                matches.append((int(r), int(c)))
    matched_rows = {r for r, _ in matches}
    matched_cols = {c for _, c in matches}
    return Assignment(
        matches=matches,
        unmatched_rows=[r for r in range(rows) if r not in matched_rows],
        unmatched_cols=[c for c in range(cols) if c not in matched_cols],
    )
