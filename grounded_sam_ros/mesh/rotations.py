# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Rotation conversions used by OSX: 6D -> rotation matrix -> axis-angle, and axis-angle -> matrix (Rodrigues).

Conventions: a rotation matrix acts on column vectors (``x' = R @ x``); an axis-angle vector is ``axis * angle`` with
the angle in radians in [0, pi]. The 6D representation is OSX's: the six numbers read as a 3x2 matrix (row-major)
whose two columns are Gram-Schmidt-orthonormalised into the first two columns of R.
"""

from __future__ import annotations

import torch
from torch import nn


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) 6D rotations -> (..., 3, 3) rotation matrices (columns b1, b2, b1 x b2)."""
    if x.shape[-1] != 6:
        raise ValueError(f"6D rotations need a last dimension of 6, got shape {tuple(x.shape)}")
    m = x.reshape(*x.shape[:-1], 3, 2)
    a1, a2 = m[..., 0], m[..., 1]
    b1 = nn.functional.normalize(a1, dim=-1)
    b2 = nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_axis_angle(rot: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angle in [0, pi].

    Goes through a unit quaternion computed with Shepperd's method (the largest of w, x, y, z picks the formula), which
    stays accurate at angles near pi, where the antisymmetric part of R vanishes. At exactly pi the axis sign is
    arbitrary (both signs are the same rotation).
    """
    if rot.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrices need shape (..., 3, 3), got {tuple(rot.shape)}")
    r = rot
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    # 4 * the square of each quaternion component, one candidate formula per component
    four_sq = torch.stack(
        (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1
    ).clamp_min(0)
    best = four_sq.argmax(dim=-1, keepdim=True)
    # Rows: the quaternion (w, x, y, z) scaled by 4 * that component
    d21, d02, d10 = r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]
    s10, s02, s21 = r[..., 1, 0] + r[..., 0, 1], r[..., 0, 2] + r[..., 2, 0], r[..., 2, 1] + r[..., 1, 2]
    candidates = torch.stack(
        (
            torch.stack((four_sq[..., 0], d21, d02, d10), dim=-1),
            torch.stack((d21, four_sq[..., 1], s10, s02), dim=-1),
            torch.stack((d02, s10, four_sq[..., 2], s21), dim=-1),
            torch.stack((d10, s02, s21, four_sq[..., 3]), dim=-1),
        ),
        dim=-2,
    )
    q = torch.gather(candidates, -2, best[..., None].expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    q = nn.functional.normalize(q, dim=-1)
    # One hemisphere (w >= 0) gives the angle in [0, pi]
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., 0], q[..., 1:]
    sin_half = xyz.norm(dim=-1)
    angle = 2 * torch.atan2(sin_half, w)
    # angle / sin(angle / 2), with its limit 2 at angle 0
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-8), torch.full_like(angle, 2.0))
    return xyz * scale[..., None]


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) OSX 6D rotations -> (..., 3) axis-angle."""
    return matrix_to_axis_angle(rot6d_to_matrix(x))


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues' formula; exact identity at angle 0)."""
    if aa.shape[-1] != 3:
        raise ValueError(f"axis-angle vectors need a last dimension of 3, got shape {tuple(aa.shape)}")
    angle = aa.norm(dim=-1, keepdim=True)
    axis = aa / angle.clamp_min(1e-12)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(*aa.shape[:-1], 3, 3)
    sin, cos = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(k.shape)
    return eye + sin * k + (1 - cos) * (k @ k)
