# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Post-processing stages on plain arrays: box selection (thresholds, labels, NMS, top-k) and mask up-sampling.

Everything here works on fabricated model outputs as well as real ones, which is how it is tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from grounded_sam_ros.prompts import assign_phrases


@dataclass
class BoxSelection:
    """Boxes kept for one frame, sorted by score (highest first).

    boxes: (N, 4) float32 XYXY pixels of the source image, clipped to it.
    scores: (N,) float32 detector confidence (best token probability).
    phrase_index: (N,) int64 index of the phrase each box is grounded to.
    query_index: (N,) int64 index of the detector query each box came from.
    """

    boxes: np.ndarray
    scores: np.ndarray
    phrase_index: np.ndarray
    query_index: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) centre-x, centre-y, width, height -> (N, 4) x_min, y_min, x_max, y_max (same units)."""
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) XYXY boxes -> (N, M) float32."""
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(0).prod(axis=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy class-agnostic non-maximum suppression.

    boxes: (N, 4) XYXY; scores: (N,). Returns indices of kept boxes, highest score first. A box is suppressed when
    its IoU with a kept, higher-scoring box is strictly greater than ``iou_threshold``; 1.0 keeps everything.
    """
    order = np.argsort(-scores, kind="stable")
    if iou_threshold >= 1.0 or order.size <= 1:
        return order
    iou = box_iou(boxes[order], boxes[order])
    suppressed = np.zeros(order.size, dtype=bool)
    keep: List[int] = []
    for i in range(order.size):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)]


def select_boxes(
    token_probs: np.ndarray,
    boxes_cxcywh: np.ndarray,
    spans: Sequence[Tuple[int, int]],
    image_size: Tuple[int, int],
    box_threshold: float,
    text_threshold: float,
    nms_iou: float = 1.0,
    max_detections: int = 0,
) -> BoxSelection:
    """Turn raw detector outputs into the frame's boxes.

    token_probs: (Q, T) float32 sigmoid scores of Q detector queries against T text positions.
    boxes_cxcywh: (Q, 4) float32 centre-x, centre-y, width, height normalised to [0, 1] of the source image.
    spans: per phrase, (start, end) token positions (see :class:`~grounded_sam_ros.prompts.PhraseSpans`).
    image_size: (height, width) of the source image in pixels.

    A box is kept when its score (best token probability over the whole caption, as in Grounding DINO) is above
    ``box_threshold`` and the best-scoring phrase's score is above ``text_threshold``; it is labelled with that phrase.
    Boxes are clipped to the image; boxes with no area left are dropped. Then NMS (class-agnostic) and top-k.
    """
    height, width = image_size
    scores = token_probs.max(axis=1) if token_probs.shape[1] else np.zeros(len(token_probs), np.float32)
    keep = np.flatnonzero(scores > box_threshold)
    phrase_index, phrase_score = assign_phrases(token_probs[keep], spans)
    grounded = phrase_score > text_threshold
    keep, phrase_index = keep[grounded], phrase_index[grounded]

    # Normalised centre boxes -> clipped XYXY pixels of the source image
    boxes = cxcywh_to_xyxy(boxes_cxcywh[keep].astype(np.float64)) * np.array([width, height, width, height])
    boxes = np.clip(boxes, 0.0, [width, height, width, height]).astype(np.float32)
    has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    keep, phrase_index, boxes = keep[has_area], phrase_index[has_area], boxes[has_area]

    # Sort by score, suppress overlaps, cap the count
    order = nms(boxes, scores[keep], nms_iou)
    if max_detections > 0:
        order = order[:max_detections]
    return BoxSelection(
        boxes=boxes[order],
        scores=scores[keep][order].astype(np.float32),
        phrase_index=phrase_index[order],
        query_index=keep[order],
    )


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float32 matrix equal to 1-D bilinear resizing with ``align_corners=False``.

    Applying it on both axes (``Ry @ x @ Rx.T``) reproduces ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False, antialias=False)`` to float rounding.
    """
    # Source coordinates in float32, as torch computes them, so the weights match to the last bit
    scale = np.float32(in_size / out_size)
    src = scale * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0)).astype(np.float64)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    frac = src - i0
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, i0), 1.0 - frac)
    np.add.at(matrix, (rows, i1), frac)
    return matrix.astype(np.float32)


@dataclass(frozen=True)
class MaskUpsampler:
    """Up-samples SAM's low-resolution mask logits to the source image, only where a mask can be.

    SAM predicts (h, w) logits over its padded square input (e.g. 256x256 for a 1024 pad). The reference
    post-processing resizes them to the pad size, crops the padding, resizes to the source size and thresholds at 0.
    Bilinear resizing is linear and separable, so the whole chain is one matrix per axis:
    ``full = Ly @ logits @ Lx.T`` with ``Ly``: (H, h) and ``Lx``: (W, w). Its weights are non-negative, so a source
    pixel can only be inside when some contributing low-res logit is positive: rows/columns outside that support are
    never computed. The result equals the reference to float rounding at a fraction of the cost.
    """

    rows: np.ndarray  # (H, h) float32
    cols: np.ndarray  # (W, w) float32

    @classmethod
    def create(
        cls,
        low_res: Tuple[int, int],
        pad_size: Tuple[int, int],
        resized: Tuple[int, int],
        original: Tuple[int, int],
    ) -> "MaskUpsampler":
        """low_res (h, w) logits -> pad_size -> crop to resized (h, w) -> original (H, W)."""
        rows = bilinear_matrix(resized[0], original[0]) @ bilinear_matrix(low_res[0], pad_size[0])[: resized[0]]
        cols = bilinear_matrix(resized[1], original[1]) @ bilinear_matrix(low_res[1], pad_size[1])[: resized[1]]
        return cls(rows=rows, cols=cols)

    def __call__(self, logits: np.ndarray, threshold: float = 0.0) -> Tuple[np.ndarray, int, int]:
        """logits: (h, w) float32 low-res mask logits -> ``(crop, x, y)``: tight (h', w') bool crop and its offset."""
        positive = logits > threshold
        live_rows = np.flatnonzero(positive.any(axis=1))
        if live_rows.size == 0:
            return np.zeros((0, 0), dtype=bool), 0, 0
        live_cols = np.flatnonzero(positive.any(axis=0))
        r0, r1, c0, c1 = live_rows[0], live_rows[-1] + 1, live_cols[0], live_cols[-1] + 1
        # Source rows/columns that receive weight from the live low-res band
        y = np.flatnonzero((self.rows[:, r0:r1] > 0).any(axis=1))
        x = np.flatnonzero((self.cols[:, c0:c1] > 0).any(axis=1))
        y0, y1, x0, x1 = y[0], y[-1] + 1, x[0], x[-1] + 1
        # Every low-res row/column those pixels draw from (negative logits can pull a pixel down)
        ly = self.rows[y0:y1]
        lx = self.cols[x0:x1]
        ra, rb = _support(ly)
        ca, cb = _support(lx)
        block = ly[:, ra:rb] @ logits[ra:rb, ca:cb] @ lx[:, ca:cb].T > threshold
        ys = np.flatnonzero(block.any(axis=1))
        if ys.size == 0:
            return np.zeros((0, 0), dtype=bool), 0, 0
        xs = np.flatnonzero(block.any(axis=0))
        crop = block[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
        return crop, int(x0 + xs[0]), int(y0 + ys[0])


def _support(matrix: np.ndarray) -> Tuple[int, int]:
    """First and one-past-last column of ``matrix`` holding a non-zero weight."""
    cols = np.flatnonzero((matrix != 0).any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1
