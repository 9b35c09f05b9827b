# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CUDA checks of the compiled path (skipped without a GPU; `bench/gpu_check.sh` runs them on one)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.slow,
    pytest.mark.timeout(1200),
]


def _pipeline(tiny_models, **options):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = tiny_models
    config = PipelineConfig(detector_model=str(detector), segmenter_model=str(segmenter), device="cuda",
                            box_threshold=0.0, text_threshold=0.0, max_detections=4, **options)  # fmt: skip
    return build_pipeline(config)


def test_cuda_compiled_fp32_equals_eager_with_cuda_graphs(tiny_models, tmp_path):
    eager = _pipeline(tiny_models, dtype="float32")
    compiled = _pipeline(tiny_models, dtype="float32", compile=True, compile_cache_dir=str(tmp_path))
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompt = compiled.text_prompt("cup . person")
    for _ in range(3):  # CUDA graphs are recorded on a later call than the first: check every call
        inputs = compiled.detector.preprocess(image)
        out, reference = compiled.detector.forward(inputs, prompt), eager.detector.forward(inputs, prompt)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.boxes_cxcywh, atol=1e-3)
        sam_inputs = compiled.segmenter.preprocess(image)
        a = compiled.segmenter.embed(sam_inputs).embedding.float()
        b = eager.segmenter.embed(sam_inputs).embedding.float()
        assert float((a - b).norm() / b.norm().clamp_min(1e-30)) < 1e-3


def test_cuda_fp16_pipeline_gives_finite_boxes_and_masks(tiny_models):
    pipe = _pipeline(tiny_models, dtype="auto")
    assert pipe.detector.dtype == torch.float16
    result = pipe(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8), "cup . person")
    assert len(result.detections) == 4
    for det in result.detections:
        assert np.isfinite(det.box).all() and det.mask is not None


def test_cuda_default_settings_preprocess_on_the_gpu_and_compiled_fp16_follows_eager(tiny_models, tmp_path):
    eager = _pipeline(tiny_models, dtype="auto")
    compiled = _pipeline(tiny_models, dtype="auto", compile=True, compile_cache_dir=str(tmp_path))
    assert eager.detector.device_preprocess and eager.segmenter.device_preprocess  # the default on CUDA in fp16
    image = np.random.default_rng(2).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    prompt = compiled.text_prompt("cup . person")
    for _ in range(3):  # CUDA graphs are recorded on a later call than the first
        inputs = eager.segmenter.preprocess(image)
        assert inputs["pixel_values"].is_cuda and inputs["pixel_values"].dtype == torch.float16
        a = compiled.segmenter.embed(inputs).embedding.float()
        b = eager.segmenter.embed(inputs).embedding.float()
        assert float((a - b).norm() / b.norm().clamp_min(1e-30)) < 2e-2  # fp16 rounding of fused vs eager kernels
        detector_inputs = compiled.detector.preprocess(image)  # padded to its bucket on the compiled path
        assert compiled.detector.forward(detector_inputs, prompt).boxes_cxcywh.shape[0] > 0
