# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Parity: the pipeline equals plain transformers calls on the same tiny weights (fp32).

The expectation is computed here, independently of the pipeline's helpers: processor -> model ->
``post_process_grounded_object_detection`` -> phrase of the best token -> ``SamProcessor`` -> ``SamModel`` ->
``post_process_masks``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor, SamModel, SamProcessor

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.pipeline import build_pipeline

BOX_THRESHOLD = 0.3
TEXT_THRESHOLD = 0.2
QUERY = "Red cup , person. robot arm"
CAPTION = "red cup . person . robot arm ."


def _frames():
    """Real photos of different sizes: odd widths, a portrait frame, and an upscaled odd-sized one."""
    frames = {name: load_image(sample_image(name)) for name in ("chelsea", "rocket", "astronaut", "coffee")}
    big = Image.fromarray(frames["coffee"]).resize((1283, 855), Image.BILINEAR)
    frames["coffee_1283x855"] = np.asarray(big)
    return frames


FRAMES = _frames()


@pytest.fixture(scope="module")
def reference(tiny_models):
    detector_dir, segmenter_dir = tiny_models
    return (
        GroundingDinoProcessor.from_pretrained(detector_dir),
        GroundingDinoForObjectDetection.from_pretrained(detector_dir).eval(),
        SamProcessor.from_pretrained(segmenter_dir),
        SamModel.from_pretrained(segmenter_dir).eval(),
    )


@pytest.fixture(scope="module")
def pipeline(tiny_models):
    detector_dir, segmenter_dir = tiny_models
    return build_pipeline(
        PipelineConfig(
            detector_model=str(detector_dir),
            segmenter_model=str(segmenter_dir),
            device="cpu",
            dtype="float32",
            box_threshold=BOX_THRESHOLD,
            text_threshold=TEXT_THRESHOLD,
        )
    )


def _reference_phrases(tokenizer, input_ids):
    """Token runs between '.' separators (special tokens excluded) and their decoded text."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    dot = tokenizer.convert_tokens_to_ids(".")
    runs, current = [], []
    for pos, tok in enumerate(input_ids):
        if tok in special or tok == dot:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(pos)
    return [(tokenizer.decode([input_ids[p] for p in run]), run) for run in runs]


def _reference(reference, image):
    gd_processor, gd_model, sam_processor, sam_model = reference
    height, width = image.shape[:2]
    pil = Image.fromarray(image)
    inputs = gd_processor(images=pil, text=CAPTION, return_tensors="pt")
    with torch.no_grad():
        outputs = gd_model(**inputs)
    post = gd_processor.post_process_grounded_object_detection(
        outputs,
        inputs.input_ids,
        threshold=BOX_THRESHOLD,
        text_threshold=TEXT_THRESHOLD,
        target_sizes=[(height, width)],
    )[0]
    keep = (torch.sigmoid(outputs.logits[0]).max(-1).values > BOX_THRESHOLD).nonzero()[:, 0]
    probs = torch.sigmoid(outputs.logits[0, keep]).numpy()
    phrases = _reference_phrases(gd_processor.tokenizer, inputs.input_ids[0].tolist())

    expected = []
    for box, score, prob in zip(post["boxes"].numpy(), post["scores"].numpy(), probs):
        phrase_scores = [prob[run].max() for _, run in phrases]
        best = int(np.argmax(phrase_scores))
        box = np.clip(box, 0, [width, height, width, height])
        if phrase_scores[best] > TEXT_THRESHOLD and box[2] > box[0] and box[3] > box[1]:
            expected.append((float(score), box, phrases[best][0]))
    expected.sort(key=lambda e: -e[0])
    if not expected:
        return expected, None, None

    boxes = [[e[1].tolist() for e in expected]]
    sam_inputs = sam_processor(images=pil, input_boxes=boxes, return_tensors="pt")
    with torch.no_grad():
        sam_out = sam_model(**sam_inputs, multimask_output=False)
    masks = sam_processor.post_process_masks(
        sam_out.pred_masks, sam_inputs["original_sizes"], sam_inputs["reshaped_input_sizes"]
    )[0][:, 0].numpy()
    return expected, masks, sam_out.iou_scores[0, :, 0].numpy()


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_matches_plain_transformers(pipeline, reference, name):
    image = FRAMES[name]
    height, width = image.shape[:2]
    expected, masks, iou_scores = _reference(reference, image)
    result = pipeline(image, QUERY)

    assert result.query == "red cup . person . robot arm"
    assert (result.image_width, result.image_height) == (width, height)
    assert len(expected) > 0, "test setup: the tiny model should produce boxes at these thresholds"
    assert len(result.detections) == len(expected)
    for det, (score, box, label), ref_mask, ref_iou in zip(result.detections, expected, masks, iou_scores):
        assert abs(det.score - score) < 1e-3
        np.testing.assert_allclose(det.box, box, atol=0.5)
        assert det.label == label
        mask = det.full_mask(height, width)
        union = np.logical_or(mask, ref_mask).sum()
        iou = np.logical_and(mask, ref_mask).sum() / union if union else 1.0
        assert iou >= 0.99, f"mask IoU {iou:.4f} for {det.label} {det.box}"
        assert abs(det.mask_score - float(np.clip(ref_iou, 0, 1))) < 1e-3
