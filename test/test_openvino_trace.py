# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What OpenVINO traces of Grounding DINO (grounded_sam_ros.models.openvino_trace) against transformers' own code.

The two-stage proposals keep a pixel only if ``0.01 < (x + 0.5) / valid < 0.99``; for a level 50 pixels wide that
quotient is exactly 0.01 and 0.99 at the borders, and OpenVINO's CPU plugin, dividing through the reciprocal, used
to flip those pixels to valid (the full-size fp32 detector then picked other queries than eager). The traced
replacement decides the test exactly; here it is checked against float32 division for every size up to 4096,
against transformers' function bit for bit, and through OpenVINO itself.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from grounded_sam_ros.models.openvino_trace import border_valid, encoder_output_proposals, traceable

# Level sizes with 50 (both borders exact: 0.5 / 50 = 0.01, 49.5 / 50 = 0.99) and the sizes of an 800x1066 input
SHAPES = [(50, 67), (25, 34), (13, 17)]


def test_border_test_equals_float32_division_for_every_size_up_to_4096():
    valid = torch.arange(1, 4097, dtype=torch.float32).view(-1, 1)
    index = torch.arange(0, 4097, dtype=torch.float32).view(1, -1)
    centre = (index + 0.5) / valid
    expected = (centre > 0.01) & (centre < 0.99)
    assert torch.equal(border_valid(index, valid), expected)
    assert not expected[49, 0] and not expected[49, 49] and expected[49, 1] and expected[49, 48]  # valid = 50


def _core(tiny_models):
    from transformers import AutoModelForZeroShotObjectDetection

    return AutoModelForZeroShotObjectDetection.from_pretrained(tiny_models[0]).eval().model


def _padding(valid_hw, shapes=SHAPES):
    """(1, S) bool padding mask: per level, rows/columns past (valid_h, valid_w) scaled to the level are padding."""
    masks = []
    for height, width in shapes:
        rows = torch.arange(height).view(-1, 1) >= round(valid_hw[0] * height)
        cols = torch.arange(width).view(1, -1) >= round(valid_hw[1] * width)
        masks.append((rows | cols).reshape(1, -1))
    return torch.cat(masks, 1)


@pytest.mark.parametrize("valid_hw", [(1.0, 1.0), (0.8, 0.6), (1.0, 0.5)])
def test_traced_proposals_equal_transformers_bit_for_bit(tiny_models, valid_hw):
    core = _core(tiny_models)
    size = sum(h * w for h, w in SHAPES)
    enc = torch.randn(1, size, core.config.d_model, generator=torch.Generator().manual_seed(0))
    padding = _padding(valid_hw)
    with torch.no_grad():
        expected_query, expected_proposals = core.generate_encoder_output_proposals(enc, padding, SHAPES)
        query, proposals = encoder_output_proposals(core, enc, padding, SHAPES)
    assert torch.equal(proposals, expected_proposals)  # inf where padded or outside (0.01, 0.99), equal elsewhere
    assert torch.equal(query, expected_query)
    assert torch.isinf(proposals).any() and torch.isfinite(proposals).any()


def test_traceable_patches_only_while_tracing(tiny_models):
    core = _core(tiny_models)
    isin = torch.isin
    with traceable(core):
        assert "generate_encoder_output_proposals" in vars(core) and torch.isin is not isin
    assert "generate_encoder_output_proposals" not in vars(core) and torch.isin is isin


def test_openvino_keeps_eager_proposal_validity_at_exact_borders(tiny_models):
    """Regression: converted without the exact test, OpenVINO flips border pixels of a 50-pixel level to valid."""
    ov = pytest.importorskip("openvino")
    core = _core(tiny_models)

    class Proposals(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.core = core

        def forward(self, enc, padding):
            return self.core.generate_encoder_output_proposals(enc, padding, SHAPES)

    size = sum(h * w for h, w in SHAPES)
    enc = torch.randn(1, size, core.config.d_model, generator=torch.Generator().manual_seed(1))
    padding = torch.zeros(1, size, dtype=torch.bool)
    with torch.no_grad():
        expected_query, expected_proposals = Proposals()(enc, padding)
    flipped = {}
    for exact in (False, True):
        module = Proposals()
        with torch.no_grad(), traceable(module) if exact else contextlib.nullcontext():
            model = ov.convert_model(module, example_input=(enc, padding))
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        query, proposals = compiled([enc.numpy(), padding.numpy()]).values()
        flipped[exact] = int((np.isinf(proposals) != np.isinf(expected_proposals.numpy())).sum())
        if exact:
            finite = np.isfinite(proposals)
            np.testing.assert_allclose(proposals[finite], expected_proposals.numpy()[finite], atol=1e-5)
            np.testing.assert_allclose(query, expected_query.numpy(), atol=1e-5)
    assert flipped[True] == 0
    # The plugin's division still flips them when traced as transformers writes it (if this starts failing, a
    # newer OpenVINO divides exactly: the exact test then only costs a few element-wise operations)
    assert flipped[False] > 0
