# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What changes in Grounding DINO while OpenVINO traces it: the same values, through operations OpenVINO runs alike.

Three things in transformers' Grounding DINO do not survive the conversion as they are:

- ``torch.isin`` and ``torch.special.logit`` have no rule in OpenVINO's PyTorch front end: traced as elementary
  operations (same values).
- The two-stage proposals keep a pixel only if its centre ``(x + 0.5) / valid_width`` (and the same for y) lies
  strictly inside (0.01, 0.99). At the image border that quotient is *exactly* 0.99 for some sizes (49.5 / 50), and
  the CPU plugin computes the division as a multiplication by the reciprocal, one rounding step lower (0.98999995):
  the pixel turns valid, its proposal score changes from the masked value to a real one, and the top-900 query
  selection, hence every box, differs from eager (found at full size: 65 border proposals on one 800x1066 frame).
  While tracing, the test is made in exact integer arithmetic instead — ``100 x + 50 > w`` and ``100 x + 50 < 99 w``,
  i.e. ``0.01 < (x + 0.5) / w < 0.99`` over the rationals — which gives eager float32's answer for every size (a
  quotient within rounding of a threshold without equalling it would need ``w`` > 80 000 px; checked exhaustively
  up to 4096 by ``test/test_openvino_trace.py``). The proposals' values themselves still go through the division: their
  rounding is continuous, not a switch.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator, List, Tuple

import numpy as np
import torch


def border_valid(index: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``0.01 < (index + 0.5) / valid < 0.99`` decided exactly (integer-valued float arithmetic, no division).

    index: pixel indices along one axis, any shape, integer-valued float; valid: valid pixel counts, broadcastable.
    Returns a bool tensor of the broadcast shape, equal to the float32 comparison made by transformers.
    """
    centre = index * 100.0 + 50.0
    return (centre > valid) & (centre < valid * 99.0)


def encoder_output_proposals(
    self: Any, enc_output: torch.Tensor, padding_mask: torch.Tensor, spatial_shapes_list: List[Tuple[int, int]]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """transformers' ``generate_encoder_output_proposals`` (same inputs, outputs and float operations) with the
    validity test of :func:`border_valid`. enc_output: (B, S, C); padding_mask: (B, S) bool, True = padding."""
    batch, dtype, device = enc_output.shape[0], enc_output.dtype, enc_output.device
    proposals, valid = [], []
    start = 0
    for level, (height, width) in enumerate(spatial_shapes_list):
        level_mask = padding_mask[:, start : start + height * width].view(batch, height, width)
        valid_height = (~level_mask[:, :, 0]).sum(1).to(dtype).view(batch, 1, 1)
        valid_width = (~level_mask[:, 0, :]).sum(1).to(dtype).view(batch, 1, 1)
        ys = torch.arange(height, dtype=dtype, device=device).view(1, height, 1).expand(batch, height, width)
        xs = torch.arange(width, dtype=dtype, device=device).view(1, 1, width).expand(batch, height, width)
        centre_x, centre_y = (xs + 0.5) / valid_width, (ys + 0.5) / valid_height
        size = torch.full_like(centre_x, 0.05) * (2.0**level)
        proposals.append(torch.stack((centre_x, centre_y, size, size), -1).view(batch, -1, 4))
        size_ok = np.float32(0.01) < np.float32(0.05) * np.float32(2.0**level) < np.float32(0.99)  # float32, as above
        inside = border_valid(xs, valid_width) & border_valid(ys, valid_height)
        valid.append((inside if size_ok else torch.zeros_like(inside)).view(batch, -1, 1))
        start += height * width
    output_proposals = torch.cat(proposals, 1)
    output_valid = torch.cat(valid, 1)
    output_proposals = torch.log(output_proposals / (1 - output_proposals))
    output_proposals = output_proposals.masked_fill(padding_mask.unsqueeze(-1), float("inf"))
    output_proposals = output_proposals.masked_fill(~output_valid, float("inf"))
    object_query = enc_output.masked_fill(padding_mask.unsqueeze(-1), 0.0).masked_fill(~output_valid, 0.0)
    return self.enc_output_norm(self.enc_output(object_query)), output_proposals


@contextlib.contextmanager
def traceable(model: Any) -> Iterator[None]:
    """While tracing ``model`` (any module; Grounding DINO's core is found inside it): ``torch.isin`` and
    ``torch.special.logit`` as elementary operations, and the exact proposal validity of
    :func:`encoder_output_proposals`. Everything is restored on exit."""
    isin, logit = torch.isin, torch.special.logit

    def plain_isin(elements, test_elements, **kwargs):
        return (elements.unsqueeze(-1) == test_elements.reshape(-1)).any(-1)

    def plain_logit(x, eps=None):
        if eps is not None:
            x = x.clamp(eps, 1.0 - eps)
        return torch.log(x / (1.0 - x))

    cores = [m for m in model.modules() if _has_proposals(m)]
    torch.isin, torch.special.logit = plain_isin, plain_logit
    for core in cores:
        core.generate_encoder_output_proposals = types.MethodType(encoder_output_proposals, core)
    try:
        yield
    finally:
        torch.isin, torch.special.logit = isin, logit
        for core in cores:
            del core.generate_encoder_output_proposals


def _has_proposals(module: Any) -> bool:
    return callable(getattr(type(module), "generate_encoder_output_proposals", None)) and hasattr(module, "enc_output")
