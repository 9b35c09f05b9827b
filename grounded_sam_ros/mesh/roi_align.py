# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""RoI Align in plain PyTorch with mmcv's ``roi_align(..., aligned=False)`` semantics (what OSX's HandRoI calls).

Semantics (mmcv / Detectron ``aligned=False``): box corners are scaled by ``spatial_scale`` with no half-pixel
shift; a box narrower than one pixel is widened to one; each output bin averages a grid of bilinear samples, the grid
being ``sampling_ratio`` x ``sampling_ratio`` or, when ``sampling_ratio <= 0``, ceil(box size / output size) per axis
(so it differs between boxes); a sample more than one pixel outside the map contributes zero, one within that margin
is clamped to the border.
"""

from __future__ import annotations

import torch


def roi_align(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
) -> torch.Tensor:
    """Average-pooled RoI Align.

    features: BxCxHxW float. rois: Kx5 float (batch index, x0, y0, x1, y1) in input coordinates (multiplied by
    ``spatial_scale`` to get feature-map pixels, pixel centres at integer coordinates). Returns KxCxPHxPW.
    """
    if features.dim() != 4:
        raise ValueError(f"features must be BxCxHxW, got shape {tuple(features.shape)}")
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must be Kx5 (batch index, x0, y0, x1, y1), got shape {tuple(rois.shape)}")
    ph, pw = output_size
    _, channels, height, width = features.shape
    k = rois.shape[0]
    if k == 0:
        return features.new_zeros((0, channels, ph, pw))
    rois = rois.to(features.dtype)
    x0, y0 = rois[:, 1] * spatial_scale, rois[:, 2] * spatial_scale
    roi_w = (rois[:, 3] * spatial_scale - x0).clamp_min(1.0)
    roi_h = (rois[:, 4] * spatial_scale - y0).clamp_min(1.0)
    bin_w, bin_h = roi_w / pw, roi_h / ph

    # Sampling grid per box: fixed, or adaptive (ceil of the bin size) and then masked to each box's own count
    if sampling_ratio > 0:
        grid_w = torch.full((k,), sampling_ratio, device=rois.device)
        grid_h = grid_w.clone()
        max_gw = max_gh = sampling_ratio
    else:
        grid_w, grid_h = torch.ceil(bin_w).long(), torch.ceil(bin_h).long()
        max_gw, max_gh = int(grid_w.max().item()), int(grid_h.max().item())
    max_gw, max_gh = max(max_gw, 1), max(max_gh, 1)
    gx = torch.arange(max_gw, device=rois.device, dtype=features.dtype)
    gy = torch.arange(max_gh, device=rois.device, dtype=features.dtype)
    bins_x = torch.arange(pw, device=rois.device, dtype=features.dtype)
    bins_y = torch.arange(ph, device=rois.device, dtype=features.dtype)
    # K x PW x GW sample x; K x PH x GH sample y
    gw_f, gh_f = grid_w.to(features.dtype).clamp_min(1), grid_h.to(features.dtype).clamp_min(1)
    xs = x0[:, None, None] + bins_x[None, :, None] * bin_w[:, None, None]
    xs = xs + (gx[None, None, :] + 0.5) * (bin_w / gw_f)[:, None, None]
    ys = y0[:, None, None] + bins_y[None, :, None] * bin_h[:, None, None]
    ys = ys + (gy[None, None, :] + 0.5) * (bin_h / gh_f)[:, None, None]
    valid_x = (gx[None, :] < grid_w[:, None]).to(features.dtype)  # K x GW
    valid_y = (gy[None, :] < grid_h[:, None]).to(features.dtype)  # K x GH

    # Separable bilinear weights: K x PW x GW x W and K x PH x GH x H
    wx = _axis_weights(xs, width) * valid_x[:, None, :, None]
    wy = _axis_weights(ys, height) * valid_y[:, None, :, None]
    wx = wx.sum(2)  # K x PW x W
    wy = wy.sum(2)  # K x PH x H
    count = (grid_w * grid_h).clamp_min(1).to(features.dtype)
    batch = rois[:, 0].long()
    pooled = torch.einsum("kph,kchw,kqw->kcpq", wy, features[batch], wx)
    return pooled / count[:, None, None, None]


def _axis_weights(coords: torch.Tensor, size: int) -> torch.Tensor:
    """(...) sample coordinates -> (..., size) linear-interpolation weights along one axis, mmcv border rules."""
    outside = (coords < -1.0) | (coords > size)
    c = coords.clamp_min(0)
    low = c.floor().long()
    at_end = low >= size - 1
    low = torch.where(at_end, torch.full_like(low, size - 1), low)
    c = torch.where(at_end, low.to(c.dtype), c)
    high = torch.where(at_end, low, low + 1)
    frac = c - low.to(c.dtype)
    weights = torch.zeros(*coords.shape, size, dtype=coords.dtype, device=coords.device)
    weights.scatter_add_(-1, low[..., None], (1 - frac)[..., None])
    weights.scatter_add_(-1, high[..., None], frac[..., None])
    return weights * (~outside)[..., None].to(coords.dtype)
