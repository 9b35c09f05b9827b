# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The speed options of PipelineConfig (compile, backend, detector_max_size): validation and the detector resize."""

from __future__ import annotations

import numpy as np
import pytest

from grounded_sam_ros.config import PipelineConfig


@pytest.mark.parametrize(
    "changes",
    [
        {"backend": "tensorrt"},
        {"detector_max_size": -1},
        {"detector_max_size": 5000},
        {"detector_max_size": 1.5},
        {"compile": True, "backend": "openvino"},
        {"shape_buckets": "yes"},
    ],
)
def test_bad_speed_options_are_refused_with_the_field_name(changes):
    with pytest.raises(ValueError, match=next(iter(changes)) if "compile" not in changes else "compile"):
        PipelineConfig().replace(**changes)


def test_detector_max_size_sets_the_short_side_like_the_processor(tiny_models):
    """The detector input equals Grounding DINO's processor called with the same size (short side, long side at
    1333/800 of it)."""
    from transformers import AutoProcessor

    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector_dir, segmenter_dir = tiny_models
    config = PipelineConfig(detector_model=str(detector_dir), segmenter_model=str(segmenter_dir), device="cpu",
                            dtype="float32", detector_max_size=128, segment=False)  # fmt: skip
    pipe = build_pipeline(config)
    image = np.random.default_rng(0).integers(0, 255, (480, 1280, 3), dtype=np.uint8)
    inputs = pipe.detector.preprocess(image)
    processor = AutoProcessor.from_pretrained(detector_dir).image_processor
    from PIL import Image

    expected = processor(images=Image.fromarray(image), size={"shortest_edge": 128, "longest_edge": 213},
                         return_tensors="pt")  # fmt: skip
    # 1280x480 at short side 128 would be 341 wide: the long-side limit (213) wins
    assert tuple(inputs["pixel_values"].shape[-2:]) == tuple(expected["pixel_values"].shape[-2:]) == (80, 213)
    np.testing.assert_allclose(inputs["pixel_values"].numpy(), expected["pixel_values"].numpy(), atol=1e-6)
    pipe.detector.set_max_size(0)  # back to the processor's own (240 for the tiny model)
    assert pipe.detector.preprocess(image)["pixel_values"].shape[-2] == 150  # 400 / 1280 * 480


def test_cli_speed_flags_reach_the_config():
    from grounded_sam_ros.cli import build_parser, config_from_args

    args = build_parser().parse_args(["warmup", "--size", "640x480", "--size", "1280X720", "--compile",
                                      "--compile-cache-dir", "/tmp/c", "--detector-max-size", "512"])  # fmt: skip
    assert args.size == [(640, 480), (1280, 720)]
    config = config_from_args(args)
    assert (config.compile, config.compile_cache_dir, config.detector_max_size) == (True, "/tmp/c", 512)
    assert config_from_args(build_parser().parse_args(["warmup", "--backend", "openvino"])).backend == "openvino"
    assert config.shape_buckets == "auto"
    assert config_from_args(build_parser().parse_args(["warmup", "--shape-buckets", "off"])).shape_buckets == "off"
    for bad in (["--size", "640"], ["--size", "0x480"], ["--backend", "onnx"], ["--shape-buckets", "maybe"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["warmup", *bad])
