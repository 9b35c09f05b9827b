# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CPU fast paths: gather-based deformable attention, bfloat16 as autocast over float32 weights, dtype=auto."""

from __future__ import annotations

import pytest
import torch
from transformers.models.grounding_dino.modeling_grounding_dino import MultiScaleDeformableAttention

from grounded_sam_ros.models.deformable_attention import (
    GatherDeformableAttention,
    deformable_attention,
    use_gather_deformable_attention,
)
from grounded_sam_ros.models.precision import weights_dtype
from grounded_sam_ros.pipeline import cpu_has_bf16, resolve_dtype

SHAPES = [(20, 27), (10, 14), (5, 7), (3, 4)]


def _inputs(batch: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    size = sum(h * w for h, w in SHAPES)
    value = torch.randn(batch, size, 8, 32, generator=generator)
    # Some sampling points fall outside [0, 1]: zeros padding must apply
    locations = torch.rand(batch, 50, 8, len(SHAPES), 4, 2, generator=generator) * 1.4 - 0.2
    weights = torch.rand(batch, 50, 8, len(SHAPES), 4, generator=generator)
    starts = torch.tensor([0] + [h * w for h, w in SHAPES[:-1]]).cumsum(0)
    return value, torch.tensor(SHAPES), starts, locations, weights


@pytest.mark.parametrize("batch", [1, 2])
def test_gather_deformable_attention_equals_transformers(batch):
    value, shapes, starts, locations, weights = _inputs(batch)
    expected = MultiScaleDeformableAttention()(value, shapes, SHAPES, starts, locations, weights, 64)
    got = GatherDeformableAttention()(value, shapes, SHAPES, starts, locations, weights, 64)
    assert got.shape == expected.shape == (batch, 50, 8 * 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_gather_deformable_attention_keeps_the_input_dtype():
    value, _, _, locations, weights = _inputs(1)
    out = deformable_attention(value.bfloat16(), SHAPES, locations, weights.bfloat16())
    assert out.dtype == torch.bfloat16
    reference = deformable_attention(value.bfloat16().float(), SHAPES, locations, weights.bfloat16().float())
    torch.testing.assert_close(out.float(), reference, rtol=1e-2, atol=1e-2)


def test_detector_uses_the_gather_attention_on_cpu(tiny_pipeline):
    model = tiny_pipeline.detector.model
    kinds = {type(m).__name__ for m in model.modules()}
    assert "GatherDeformableAttention" in kinds and "MultiScaleDeformableAttention" not in kinds
    assert use_gather_deformable_attention(model) == 0  # nothing left to replace


def test_bfloat16_on_cpu_keeps_float32_weights_and_autocasts(tiny_models):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.pipeline import build_pipeline

    assert weights_dtype("cpu", torch.bfloat16) == torch.float32
    assert weights_dtype("cuda:0", torch.float16) == torch.float16
    detector, segmenter = tiny_models
    config = PipelineConfig(detector_model=str(detector), segmenter_model=str(segmenter), device="cpu",
                            dtype="bfloat16", box_threshold=0.3, text_threshold=0.2)  # fmt: skip
    pipe = build_pipeline(config)
    assert next(pipe.detector.model.parameters()).dtype == torch.float32
    assert next(pipe.segmenter.model.parameters()).dtype == torch.float32
    image = load_image(sample_image("rocket"))
    state = pipe.segmenter.embed(pipe.segmenter.preprocess(image))
    assert state.embedding.dtype == torch.bfloat16  # the encoder ran under autocast
    result = pipe(image, "rocket")
    assert result.detections and all(d.mask is not None for d in result.detections)


def test_auto_dtype():
    assert resolve_dtype("auto", "cuda:0") == torch.float16
    assert resolve_dtype("auto", "cpu") == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
    assert resolve_dtype("float32", "cpu") == torch.float32


def test_folded_rel_pos_attention_equals_transformers(tiny_models):
    import copy

    from transformers import SamModel

    from grounded_sam_ros.models.sam_attention import use_folded_rel_pos_attention

    reference = SamModel.from_pretrained(tiny_models[1]).eval()
    folded = copy.deepcopy(reference)
    assert use_folded_rel_pos_attention(folded) == len(reference.vision_encoder.layers)
    size = reference.config.vision_config.image_size
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference.get_image_embeddings(pixels)
        got = folded.get_image_embeddings(pixels)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
