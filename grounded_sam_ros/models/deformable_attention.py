# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Multi-scale deformable attention as one weighted gather (``embedding_bag``), for CPUs.

Grounding DINO's encoder spends most of its time here: transformers' portable implementation samples every level with
``grid_sample`` into a (heads, dim, queries, levels x points) tensor, then multiplies it by the attention weights and
sums — several passes over a tensor of ~300 MB per layer at 800x1066. The same result is a sparse weighted sum: each
output row is sum over levels, points and the 4 bilinear corners of (attention weight x bilinear weight x value row).
``torch.nn.functional.embedding_bag`` with per-sample weights computes exactly that without building the big tensor.
The result equals ``grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False)`` followed by the weighted
sum, up to float rounding (summation order); it is computed in float32 whatever the input dtype.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import torch
from torch import nn

# transformers' class name (Grounding DINO, Deformable DETR, MM-Grounding-DINO share it)
REPLACED_CLASS = "MultiScaleDeformableAttention"


def deformable_attention(
    value: torch.Tensor,
    shapes: List[Tuple[int, int]],
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """value: (B, S, H, D) with S = sum of h*w over levels, level-major, row-major within a level.
    shapes: per level (height, width). sampling_locations: (B, Q, H, L, P, 2) x, y normalised to [0, 1].
    attention_weights: (B, Q, H, L, P). Returns (B, Q, H*D) in ``value``'s dtype.
    """
    batch, size, heads, dim = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    device = value.device
    level_shapes = torch.tensor(shapes, dtype=torch.float32, device=device)
    heights = level_shapes[:, 0].view(1, 1, 1, levels, 1)
    widths = level_shapes[:, 1].view(1, 1, 1, levels, 1)
    starts = torch.cumsum(heights * widths, dim=3) - heights * widths

    # Pixel coordinates as grid_sample(align_corners=False) computes them; the bilinear corners are x0, x0 + 1 and
    # y0, y0 + 1. Zeros padding: a corner outside its level weighs 0 (its index is clamped to stay in the table).
    locations = sampling_locations.float()
    x = locations[..., 0] * widths - 0.5
    y = locations[..., 1] * heights - 0.5
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    weights = attention_weights.float()
    wx0 = (1.0 - fx) * ((x0 >= 0) & (x0 <= widths - 1))
    wx1 = fx * ((x0 >= -1) & (x0 <= widths - 2))
    wy0 = weights * (1.0 - fy) * ((y0 >= 0) & (y0 <= heights - 1))
    wy1 = weights * fy * ((y0 >= -1) & (y0 <= heights - 2))
    # Rows of the value table: each (batch, head) owns a block of `size` rows, levels start at `starts`
    block = (torch.arange(batch, device=device).view(batch, 1, 1, 1, 1) * heads
             + torch.arange(heads, device=device).view(1, 1, heads, 1, 1)) * size  # fmt: skip
    row0 = block + starts + y0.clamp(min=0).minimum(heights - 1) * widths
    row1 = block + starts + (y0 + 1.0).clamp(min=0).minimum(heights - 1) * widths
    col0 = x0.clamp(min=0).minimum(widths - 1)
    col1 = (x0 + 1.0).clamp(min=0).minimum(widths - 1)
    table = value.float().permute(0, 2, 1, 3).reshape(batch * heads * size, dim)
    # One bag per corner, summed: the same sum as one bag over all four corners (up to summation order) without
    # stacking the corners on the last axis, which OpenVINO's CPU plugin runs as a slow reference Concat (13 % of
    # its detector time) and which eager torch pays for as well
    bags = batch * queries * heads
    corners = ((row0 + col0, wy0 * wx0), (row0 + col1, wy0 * wx1), (row1 + col0, wy1 * wx0), (row1 + col1, wy1 * wx1))
    out = None
    for index, corner_weights in corners:
        part = nn.functional.embedding_bag(
            index.long().view(bags, -1), table, per_sample_weights=corner_weights.view(bags, -1), mode="sum"
        )
        out = part if out is None else out + part
    return out.view(batch, queries, heads * dim).to(value.dtype)


class GatherDeformableAttention(nn.Module):
    """Drop-in replacement of transformers' ``MultiScaleDeformableAttention`` module (same forward signature)."""

    def forward(
        self,
        value: torch.Tensor,
        value_spatial_shapes: torch.Tensor,
        value_spatial_shapes_list: List[Tuple[int, int]],
        level_start_index: torch.Tensor,
        sampling_locations: torch.Tensor,
        attention_weights: torch.Tensor,
        im2col_step: int,
    ) -> torch.Tensor:
        return deformable_attention(value, value_spatial_shapes_list, sampling_locations, attention_weights)


def use_gather_deformable_attention(model: Any) -> int:
    """Replace every ``MultiScaleDeformableAttention`` module of ``model`` in place; returns how many were replaced."""
    targets = [
        (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child).__name__ == REPLACED_CLASS
    ]
    for parent, name in targets:
        setattr(parent, name, GatherDeformableAttention())
    return len(targets)
