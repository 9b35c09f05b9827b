# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OSX's regression heads on the encoder output (module and parameter names as in the published checkpoints).

Coordinates: body heatmaps live on the 16x12 patch grid (x right, y down, z = heatmap depth bin); hand heatmaps
on a 16x16 grid of the hand RoI; hand and face boxes come out in pixels of the 256x192 encoder input.
"""

from __future__ import annotations

import torch
from torch import nn

from grounded_sam_ros.mesh.config import (
    HAND_UPSCALE,
    INPUT_BODY_SHAPE,
    NUM_BETAS,
    NUM_BODY_POS_JOINTS,
    NUM_BODY_ROT_JOINTS,
    NUM_EXPRESSION,
    NUM_HAND_POS_JOINTS,
    NUM_HAND_ROT_JOINTS,
    OUTPUT_HAND_HM_SHAPE,
    OUTPUT_HM_SHAPE,
)
from grounded_sam_ros.mesh.roi_align import roi_align


def linear_stack(dims: list[int], relu_final: bool = False) -> nn.Sequential:
    """Linear layers with ReLU between them (and after the last one when ``relu_final``)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2 or relu_final:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def conv1x1_stack(dims: list[int], bnrelu_final: bool = True) -> nn.Sequential:
    """1x1 convolutions, each followed by BatchNorm + ReLU except possibly the last."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Conv2d(dims[i], dims[i + 1], kernel_size=1))
        if i < len(dims) - 2 or bnrelu_final:
            layers += [nn.BatchNorm2d(dims[i + 1]), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def deconv_stack(dims: list[int]) -> nn.Sequential:
    """x2 transposed convolutions (kernel 4, stride 2, padding 1, no bias), each followed by BatchNorm + ReLU."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [
            nn.ConvTranspose2d(dims[i], dims[i + 1], kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(dims[i + 1]),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def soft_argmax_2d(heatmap: torch.Tensor) -> torch.Tensor:
    """NxJxHxW logits -> NxJx2 expected (x, y) under the spatial softmax, in heatmap pixels."""
    n, j, h, w = heatmap.shape
    prob = nn.functional.softmax(heatmap.reshape(n, j, h * w), dim=2).reshape(n, j, h, w)
    x = (prob.sum(2) * torch.arange(w, dtype=prob.dtype, device=prob.device)).sum(2)
    y = (prob.sum(3) * torch.arange(h, dtype=prob.dtype, device=prob.device)).sum(2)
    return torch.stack((x, y), dim=2)


def soft_argmax_3d(heatmap: torch.Tensor) -> torch.Tensor:
    """NxJxDxHxW logits -> NxJx3 expected (x, y, z) under the softmax, in heatmap bins."""
    n, j, d, h, w = heatmap.shape
    prob = nn.functional.softmax(heatmap.reshape(n, j, d * h * w), dim=2).reshape(n, j, d, h, w)
    x = (prob.sum((2, 3)) * torch.arange(w, dtype=prob.dtype, device=prob.device)).sum(2)
    y = (prob.sum((2, 4)) * torch.arange(h, dtype=prob.dtype, device=prob.device)).sum(2)
    z = (prob.sum((3, 4)) * torch.arange(d, dtype=prob.dtype, device=prob.device)).sum(2)
    return torch.stack((x, y, z), dim=2)


def sample_joint_features(features: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
    """NxCxHxW features at NxJx2 (x, y) pixel positions (bilinear, corners aligned) -> NxJxC."""
    h, w = features.shape[2:]
    grid = torch.stack((joint_xy[..., 0] / (w - 1) * 2 - 1, joint_xy[..., 1] / (h - 1) * 2 - 1), dim=2)
    sampled = nn.functional.grid_sample(features, grid[:, :, None, :], align_corners=True)[:, :, :, 0]
    return sampled.permute(0, 2, 1)


def restore_box(center: torch.Tensor, size: torch.Tensor, aspect: float, extension: float) -> torch.Tensor:
    """Nx2 centre and Nx2 size on the 16x12 grid -> Nx4 XYXY box in 256x192 encoder-input pixels, widened to
    ``aspect`` (w/h) and enlarged by ``extension`` around its centre."""
    sx = INPUT_BODY_SHAPE[1] / OUTPUT_HM_SHAPE[2]
    sy = INPUT_BODY_SHAPE[0] / OUTPUT_HM_SHAPE[1]
    cx, cy = center[:, 0] * sx, center[:, 1] * sy
    w, h = size[:, 0] * sx, size[:, 1] * sy
    w, h = torch.where(w < aspect * h, h * aspect, w), torch.where(w > aspect * h, w / aspect, h)
    w, h = w * extension, h * extension
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=1)


class PositionNet(nn.Module):
    """Features -> joint heatmaps (softmaxed) and their soft-argmax coordinates."""

    def __init__(self, num_joints: int, hm_shape: tuple[int, int, int], feat_dim: int):
        super().__init__()
        self.num_joints, self.hm_shape = num_joints, hm_shape
        self.conv = conv1x1_stack([feat_dim, num_joints * hm_shape[0]], bnrelu_final=False)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.conv(features).reshape(-1, self.num_joints, *self.hm_shape)
        coords = soft_argmax_3d(logits)
        prob = nn.functional.softmax(logits.flatten(2), dim=2).reshape(logits.shape)
        return prob, coords


class BodyRotationNet(nn.Module):
    """Body tokens + joint positions -> root and body 6D rotations; shape and camera tokens -> betas, camera."""

    def __init__(self, feat_dim: int):
        super().__init__()
        joint_feat = NUM_BODY_POS_JOINTS * (512 + 3)
        self.body_conv = linear_stack([feat_dim, 512])
        self.root_pose_out = linear_stack([joint_feat, 6])
        self.body_pose_out = linear_stack([joint_feat, NUM_BODY_ROT_JOINTS * 6])
        self.shape_out = linear_stack([feat_dim, NUM_BETAS])
        self.cam_out = linear_stack([feat_dim, 3])

    def forward(self, body_tokens, shape_token, cam_token, joint_coords):
        n = body_tokens.shape[0]
        feat = torch.cat((self.body_conv(body_tokens), joint_coords), dim=2).reshape(n, -1)
        return self.root_pose_out(feat), self.body_pose_out(feat), self.shape_out(shape_token), self.cam_out(cam_token)


class BoxNet(nn.Module):
    """Features + body heatmaps -> centres (16x12 grid) and sizes of the left hand, right hand and face boxes."""

    def __init__(self, feat_dim: int):
        super().__init__()
        self.deconv = deconv_stack([feat_dim + NUM_BODY_POS_JOINTS * OUTPUT_HM_SHAPE[0], 256, 256, 256])
        self.bbox_center = conv1x1_stack([256, 3], bnrelu_final=False)
        self.lhand_size = linear_stack([256, 256, 2])
        self.rhand_size = linear_stack([256, 256, 2])
        self.face_size = linear_stack([256, 256, 2])

    def forward(self, features: torch.Tensor, joint_hm: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        hm = joint_hm.reshape(joint_hm.shape[0], -1, *OUTPUT_HM_SHAPE[1:])
        feat = self.deconv(torch.cat((features, hm), dim=1))
        centers = soft_argmax_2d(self.bbox_center(feat))  # on the 8x finer map
        boxes = []
        for i, size_net in enumerate((self.lhand_size, self.rhand_size, self.face_size)):
            center = centers[:, i]
            size = size_net(sample_joint_features(feat, center[:, None])[:, 0])
            boxes.append((center / 8, size))
        return boxes


class HandRoI(nn.Module):
    """Upsampled features cropped at both hand boxes (the left one mirrored into a right hand) -> 2Nx C x16x16."""

    def __init__(self, feat_dim: int):
        super().__init__()
        self.deconv = deconv_stack([feat_dim, feat_dim // 2, feat_dim // 4])
        self.conv = conv1x1_stack([feat_dim // 4, feat_dim], bnrelu_final=False)

    def forward(self, features: torch.Tensor, lhand_box: torch.Tensor, rhand_box: torch.Tensor) -> torch.Tensor:
        feat = self.deconv(features)
        # Encoder-input pixels -> pixels of the 4x upsampled 16x12 map
        scale = torch.tensor(
            [
                OUTPUT_HM_SHAPE[2] * HAND_UPSCALE / INPUT_BODY_SHAPE[1],
                OUTPUT_HM_SHAPE[1] * HAND_UPSCALE / INPUT_BODY_SHAPE[0],
            ]
            * 2,
            dtype=feat.dtype,
            device=feat.device,
        )
        index = torch.arange(feat.shape[0], dtype=feat.dtype, device=feat.device)[:, None]
        out_size = OUTPUT_HAND_HM_SHAPE[1:]
        left = roi_align(feat, torch.cat((index, lhand_box * scale), dim=1), out_size, 1.0, 0)
        right = roi_align(feat, torch.cat((index, rhand_box * scale), dim=1), out_size, 1.0, 0)
        return self.conv(torch.cat((torch.flip(left, [3]), right)))


class HandRotationNet(nn.Module):
    """Hand features + hand joint positions -> 15 finger 6D rotations per hand."""

    def __init__(self, feat_dim: int):
        super().__init__()
        self.hand_conv = conv1x1_stack([feat_dim, 512])
        self.hand_pose_out = linear_stack([NUM_HAND_POS_JOINTS * 515, NUM_HAND_ROT_JOINTS * 6])

    def forward(self, features: torch.Tensor, joint_coords: torch.Tensor) -> torch.Tensor:
        feat = sample_joint_features(self.hand_conv(features), joint_coords[:, :, :2])
        return self.hand_pose_out(torch.cat((feat, joint_coords), dim=2).reshape(features.shape[0], -1))


class FaceRegressor(nn.Module):
    """Expression and jaw tokens -> 10 expression coefficients and the jaw 6D rotation."""

    def __init__(self, feat_dim: int):
        super().__init__()
        self.expr_out = linear_stack([feat_dim, NUM_EXPRESSION])
        self.jaw_pose_out = linear_stack([feat_dim, 6])

    def forward(self, expr_token: torch.Tensor, jaw_token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.expr_out(expr_token), self.jaw_pose_out(jaw_token)


def hand_position_net(feat_dim: int) -> PositionNet:
    return PositionNet(NUM_HAND_POS_JOINTS, OUTPUT_HAND_HM_SHAPE, feat_dim)


def body_position_net(feat_dim: int) -> PositionNet:
    return PositionNet(NUM_BODY_POS_JOINTS, OUTPUT_HM_SHAPE, feat_dim)
