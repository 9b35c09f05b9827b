# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Helpers of the benchmark (bench/): the forced box count and the agreement measure. No timing here."""

from __future__ import annotations

import numpy as np

from bench.measure import Frame, agreement, forced_top_k, run_pipeline
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.pipeline import GroundedSamPipeline


def test_forced_top_k_keeps_exactly_k_boxes_whatever_the_thresholds(tiny_pipeline):
    image = load_image(sample_image("rocket"))
    for k in (1, 5):
        config = forced_top_k(tiny_pipeline.config, k)
        pipe = GroundedSamPipeline(tiny_pipeline.detector, tiny_pipeline.segmenter, config)
        frame = run_pipeline(pipe, image, "rocket . sky", to_msg=None)
        assert frame.boxes.shape == (k, 4) and frame.masks.shape == (k,) + image.shape[:2]
        assert {"detector", "sam_encoder", "sam_decoder", "masks", "total"} <= set(frame.seconds)


def _frame(boxes, masks):
    return Frame(np.asarray(boxes, np.float32), np.asarray(masks, bool), {})


def test_agreement_matches_boxes_by_overlap_and_reports_drift_and_mask_iou():
    mask_a = np.zeros((2, 10, 10), bool)
    mask_a[0, :4, :4] = True  # 16 pixels
    mask_a[1, 5:, 5:] = True
    mask_b = mask_a.copy()
    mask_b[0, :4, :2] = False  # half of the first mask gone: IoU 0.5
    reference = _frame([[0, 0, 4, 4], [5, 5, 10, 10]], mask_a)
    # Same objects in the other order, the first box moved by 0.5 px
    other = _frame([[5, 5, 10, 10], [0, 0, 4, 4.5]], mask_b[::-1])
    result = agreement(reference, other)
    assert result["matched"] == 1.0
    assert result["box_drift_max_px"] == 0.5
    assert result["mask_iou_min"] == 0.5 and result["mask_iou_mean"] == 0.75
    # A box far from every reference box is not matched
    far = _frame([[5, 5, 10, 10], [0, 6, 2, 9]], mask_a)
    assert agreement(reference, far)["matched"] == 0.5
