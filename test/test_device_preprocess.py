# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pre-processing on the device equals the official processors (same sizes, values within one grey level)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from grounded_sam_ros.data import load_image, sample_image  # noqa: E402
from grounded_sam_ros.models import device_preprocess as dp  # noqa: E402

# (h, w): up- and down-scaling, portrait, landscape, tiny, already at the target size
SIZES = [(480, 640), (640, 480), (1500, 2000), (37, 53), (800, 1333)]
# On a GPU machine the same checks run on CUDA too (and against torchvision's processors, which it can import)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def processors(tiny_models):
    from transformers import AutoProcessor, SamProcessor

    detector, segmenter = tiny_models
    detector_processor = AutoProcessor.from_pretrained(detector).image_processor
    return detector_processor, SamProcessor.from_pretrained(segmenter).image_processor


def _photo(height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(load_image(sample_image("coffee"))).resize((width, height), Image.BILINEAR))


def _levels(a, b, std) -> np.ndarray:
    """|a - b| in grey levels of the uint8 input (undoing the normalisation)."""
    return ((a - b).abs() * torch.tensor(list(std)).view(1, -1, 1, 1) * 255).numpy()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES)
def test_detector_inputs_equal_the_official_processor_within_one_grey_level(processors, size, device):
    official, _ = processors
    image = _photo(*size)
    reference = official(images=Image.fromarray(image), return_tensors="pt")
    ours = {k: v.cpu() for k, v in dp.detector_inputs(image, official, None, device, torch.float32).items()}
    assert ours["pixel_values"].shape == reference["pixel_values"].shape
    levels = _levels(ours["pixel_values"], reference["pixel_values"], official.image_std)
    assert levels.max() <= 1.0 + 1e-3  # the two uint8 resize kernels round some pixels to the neighbouring level
    assert (levels > 0.5).mean() < 0.25
    assert torch.equal(ours["pixel_mask"], reference["pixel_mask"])


def test_detector_size_override_matches_the_processor_given_the_same_size(processors):
    official, _ = processors
    image = _photo(480, 640)
    size = {"shortest_edge": 160, "longest_edge": 266}
    reference = official(images=Image.fromarray(image), return_tensors="pt", size=size)["pixel_values"]
    ours = dp.detector_inputs(image, official, size, "cpu", torch.float32)["pixel_values"]
    assert ours.shape == reference.shape == (1, 3, 160, 213)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES)
def test_sam_inputs_equal_the_official_processor_within_one_grey_level(processors, size, device):
    _, official = processors
    image = _photo(*size)
    reference = official(images=Image.fromarray(image), return_tensors="pt")
    ours = dp.sam_inputs(image, official, device, torch.float32)
    ours["pixel_values"] = ours["pixel_values"].cpu()
    assert ours["original_size"] == tuple(reference["original_sizes"][0].tolist()) == size
    assert ours["resized_size"] == tuple(reference["reshaped_input_sizes"][0].tolist())
    assert ours["pixel_values"].shape == reference["pixel_values"].shape
    levels = _levels(ours["pixel_values"], reference["pixel_values"], official.image_std)
    assert levels.max() <= 1.0 + 1e-3 and (levels > 0.5).mean() < 0.25
    h, w = ours["resized_size"]
    assert not ours["pixel_values"][..., h:, :].any() and not ours["pixel_values"][..., :, w:].any()  # zero padding


def test_sam_size_rounds_half_up_like_the_processor():
    assert dp.sam_size(480, 640, 1024) == (768, 1024)
    assert dp.sam_size(37, 53, 1024) == (715, 1024)  # 37 * 1024 / 53 = 714.87 -> 715
    assert dp.sam_size(1000, 1000, 1024) == (1024, 1024)


def test_auto_uses_the_device_only_for_cuda_in_half_precision():
    assert dp.use_device_preprocess("auto", "cuda", torch.float16)
    assert dp.use_device_preprocess("auto", "cuda:1", torch.bfloat16)
    assert not dp.use_device_preprocess("auto", "cuda", torch.float32)  # the exact path stays exact
    assert not dp.use_device_preprocess("auto", "cpu", torch.bfloat16)
    assert dp.use_device_preprocess("device", "cpu", torch.float32)
    assert not dp.use_device_preprocess("host", "cuda", torch.float16)
    with pytest.raises(ValueError, match="preprocess='gpu'"):
        dp.use_device_preprocess("gpu", "cpu", torch.float32)


def test_pipeline_preprocess_option_switches_both_adapters(tiny_models):
    """The option reaches both adapters; SAM's embedding moves by float-noise only. (The tiny random detector is no
    judge here: its near-tied random scores re-rank on a one-level input change, which trained weights do not.)"""
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = tiny_models
    common = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu", "dtype": "float32"}
    host = build_pipeline(PipelineConfig(**common, preprocess="host"))
    device = build_pipeline(PipelineConfig(**common, preprocess="device"))
    auto = build_pipeline(PipelineConfig(**common))
    assert (device.detector.device_preprocess, device.segmenter.device_preprocess) == (True, True)
    assert (host.detector.device_preprocess, host.segmenter.device_preprocess) == (False, False)
    assert (auto.detector.device_preprocess, auto.segmenter.device_preprocess) == (False, False)  # CPU: host
    image = _photo(120, 160)
    a = host.segmenter.embed(host.segmenter.preprocess(image)).embedding
    b = device.segmenter.embed(device.segmenter.preprocess(image)).embedding
    assert float((a - b).norm() / a.norm()) < 1e-2


def test_bad_preprocess_value_is_refused_by_the_config():
    from grounded_sam_ros.config import PipelineConfig

    with pytest.raises(ValueError, match="preprocess='gpu': expected auto, host or device"):
        PipelineConfig(detector_model="a", segmenter_model="b", preprocess="gpu").validate()
