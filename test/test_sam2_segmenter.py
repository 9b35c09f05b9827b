# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 as an image segmenter: the torchvision-free pre-processing against hand-computed values, and the adapter
against plain transformers ``Sam2Model`` calls on the same tensors (tiny random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.models import SEGMENTERS, LoadOptions, build_segmenter
from grounded_sam_ros.models.sam2_preprocess import IMAGENET_MEAN, IMAGENET_STD, Sam2Preprocessor
from grounded_sam_ros.pipeline import build_pipeline


@pytest.fixture(scope="module")
def tiny_sam2_dir(tmp_path_factory):
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    return tiny_sam2(tmp_path_factory.mktemp("tiny-sam2"))


def test_constant_image_normalises_to_the_imagenet_formula():
    image = np.zeros((30, 50, 3), np.uint8)
    image[...] = (10, 128, 250)
    pixels = Sam2Preprocessor(size=(8, 8)).pixel_values(image)
    assert pixels.shape == (1, 3, 8, 8) and pixels.dtype == torch.float32
    for c, value in enumerate((10, 128, 250)):
        expected = (value / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        np.testing.assert_allclose(pixels[0, c].numpy(), expected, rtol=1e-5)


def test_bilinear_upscale_ignores_aspect_and_matches_hand_computed_weights():
    # One row [0, 200] resized to 4 columns: sources at -0.25, 0.25, 0.75, 1.25 -> clamped -> 0, 50, 150, 200
    image = np.zeros((1, 2, 3), np.uint8)
    image[0, 1] = 200
    pixels = Sam2Preprocessor(size=(3, 4), image_mean=[0, 0, 0], image_std=[1, 1, 1]).pixel_values(image)
    assert pixels.shape == (1, 3, 3, 4)  # no aspect ratio kept, no padding
    # mean 0 and std 1 leave only the rescale: x / 255
    np.testing.assert_allclose(pixels[0, 0].numpy() * 255.0, [[0, 50, 150, 200]] * 3, atol=1e-4)


def test_uint8_resize_agrees_with_the_float_path_to_one_grey_level():
    # torchvision resizes uint8 natively on CPU and through float32 + round elsewhere
    image = np.random.default_rng(0).integers(0, 256, (37, 61, 3), dtype=np.uint8)
    pre = Sam2Preprocessor(size=(64, 64), image_mean=[0, 0, 0], image_std=[1, 1, 1])
    native = pre.pixel_values(image).numpy() * 255.0  # mean 0, std 1: only the rescale
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    floating = functional.interpolate(pixels, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    assert np.abs(native - floating.round().clamp(0, 255).numpy()).max() <= 1.0 + 1e-3


def test_boxes_scale_per_axis_to_the_square_input():
    boxes = np.array([[64, 48, 320, 240], [0, 0, 640, 480]], np.float32)
    scaled = Sam2Preprocessor().scale_boxes(boxes, (480, 640)).numpy()
    np.testing.assert_allclose(scaled, [[102.4, 102.4, 512, 512], [0, 0, 1024, 1024]], rtol=1e-6)


def test_boxes_match_transformers_own_coordinate_transform():
    from transformers.models.sam2.processing_sam2 import Sam2Processor

    boxes = np.array([[13.5, 7.25, 301.0, 199.9], [1.0, 2.0, 3.0, 4.0]], np.float32)
    # The method uses nothing of the processor's state: call it without building one (needs torchvision)
    expected = Sam2Processor._normalize_coordinates(None, 1024, torch.tensor(boxes), (211, 333), is_bounding_box=True)
    np.testing.assert_array_equal(Sam2Preprocessor().scale_boxes(boxes, (211, 333)).numpy(), expected.numpy())


def test_preprocessor_config_round_trip(tmp_path):
    Sam2Preprocessor(size=(256, 256)).save_pretrained(tmp_path)
    loaded = Sam2Preprocessor.from_pretrained(str(tmp_path), LoadOptions())
    assert loaded.size == (256, 256) and loaded.image_std == list(IMAGENET_STD)


def test_sam2_and_edgetam_are_registered():
    assert {"sam2", "edgetam"} <= set(SEGMENTERS)


def test_edgetam_without_timm_says_what_is_missing(tiny_sam2_dir):
    pytest.importorskip("torch")
    try:
        import timm  # noqa: F401

        pytest.skip("timm is installed")
    except ImportError:
        pass
    with pytest.raises(ModuleNotFoundError, match="timm"):
        build_segmenter("edgetam", str(tiny_sam2_dir), LoadOptions())


@pytest.mark.parametrize("multimask", [False, True])
def test_masks_match_plain_sam2_model(tiny_models, tiny_sam2_dir, multimask):
    from transformers import Sam2Model

    detector_dir, _ = tiny_models
    pipeline = build_pipeline(
        PipelineConfig(
            detector_model=str(detector_dir),
            segmenter_model=str(tiny_sam2_dir),
            segmenter_family="sam2",
            device="cpu",
            dtype="float32",
            box_threshold=0.3,
            text_threshold=0.2,
            multimask=multimask,
        )
    )
    image = load_image(sample_image("coffee"))
    result = pipeline(image, "red cup . person . robot arm")
    assert result.detections, "the tiny detector must keep boxes at these thresholds"
    height, width = image.shape[:2]

    # Reference: plain Sam2Model on the same pixel values and box prompts, official post-processing
    reference = Sam2Model.from_pretrained(tiny_sam2_dir).eval()
    pre = Sam2Preprocessor.from_pretrained(str(tiny_sam2_dir), LoadOptions())
    boxes = np.stack([d.box for d in result.detections])
    with torch.inference_mode():
        out = reference(
            pixel_values=pre.pixel_values(image),
            input_boxes=pre.scale_boxes(boxes, (height, width))[None],
            multimask_output=multimask,
        )
    best = out.iou_scores[0].argmax(dim=1)  # one candidate without multimask
    logits = out.pred_masks[0, torch.arange(len(boxes)), best]
    expected = functional.interpolate(logits[:, None], (height, width), mode="bilinear", align_corners=False)[:, 0] > 0
    for det, want in zip(result.detections, expected.numpy()):
        got = det.full_mask(height, width)
        union = np.logical_or(got, want).sum()
        iou = np.logical_and(got, want).sum() / union if union else 1.0
        assert iou >= 0.99, f"{det.label}: mask IoU {iou:.4f} against plain Sam2Model"
