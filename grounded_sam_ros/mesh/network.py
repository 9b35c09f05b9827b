# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The encoder-only OSX network (``osx_l_wo_decoder``; the same graph as SMPLer-X): crop -> SMPL-X parameters.

Attribute names are the published checkpoints' (``encoder``, ``body_position_net``, ``body_regressor``, ``box_net``,
``hand_roi_net``, ``hand_position_net``, ``hand_regressor``, ``face_regressor``), so a ``state_dict`` loads as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from grounded_sam_ros.mesh.config import (
    DEPTH_FACTOR,
    INPUT_BODY_SHAPE,
    INPUT_FACE_SHAPE,
    INPUT_HAND_SHAPE,
    INPUT_IMG_SHAPE,
    NUM_HAND_ROT_JOINTS,
    Architecture,
)
from grounded_sam_ros.mesh.heads import (
    BodyRotationNet,
    BoxNet,
    FaceRegressor,
    HandRoI,
    HandRotationNet,
    body_position_net,
    hand_position_net,
    restore_box,
)
from grounded_sam_ros.mesh.rotations import rot6d_to_axis_angle
from grounded_sam_ros.mesh.vit import ViTEncoder


@dataclass
class SmplxParams:
    """What the network regresses for N people; every pose is axis-angle (radians) in SMPL-X's joint frames.

    root_pose Nx3, body_pose Nx63 (21 joints), lhand_pose / rhand_pose Nx45 (15 joints, hand mean NOT included:
    the body model adds it), jaw_pose Nx3, betas Nx10, expression Nx10, cam_trans Nx3 metres in the virtual crop
    camera; lhand_box / rhand_box / face_box Nx4 XYXY pixels of the 512x384 crop.
    """

    root_pose: torch.Tensor
    body_pose: torch.Tensor
    lhand_pose: torch.Tensor
    rhand_pose: torch.Tensor
    jaw_pose: torch.Tensor
    betas: torch.Tensor
    expression: torch.Tensor
    cam_trans: torch.Tensor
    lhand_box: torch.Tensor
    rhand_box: torch.Tensor
    face_box: torch.Tensor

    def __getitem__(self, index) -> "SmplxParams":
        return SmplxParams(**{k: v[index] for k, v in vars(self).items()})


def camera_translation(cam_param: torch.Tensor) -> torch.Tensor:
    """Nx3 raw camera output -> Nx3 translation (x, y metres; z = DEPTH_FACTOR * sigmoid, metres) as OSX does."""
    return torch.cat((cam_param[:, :2], (DEPTH_FACTOR * torch.sigmoid(cam_param[:, 2]))[:, None]), dim=1)


class OSXNetwork(nn.Module):
    """Nx3x256x192 crops in [0, 1] -> :class:`SmplxParams`."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        feat_dim = arch.embed_dim
        self.encoder = ViTEncoder(arch)
        self.body_position_net = body_position_net(feat_dim)
        self.body_regressor = BodyRotationNet(feat_dim)
        self.box_net = BoxNet(feat_dim)
        self.hand_roi_net = HandRoI(feat_dim)
        self.hand_position_net = hand_position_net(feat_dim)
        self.hand_regressor = HandRotationNet(feat_dim)
        self.face_regressor = FaceRegressor(feat_dim)

    def forward(self, body_img: torch.Tensor) -> SmplxParams:
        if body_img.shape[1:] != (3, *INPUT_BODY_SHAPE):
            raise ValueError(
                f"OSX takes Nx3x{INPUT_BODY_SHAPE[0]}x{INPUT_BODY_SHAPE[1]} crops, got {tuple(body_img.shape)}"
            )
        n = body_img.shape[0]
        features, tokens = self.encoder(body_img)
        shape_token, cam_token, expr_token, jaw_token = tokens[:, 0], tokens[:, 1], tokens[:, 2], tokens[:, 3]
        body_tokens = tokens[:, 6:]

        # Body: joint heatmaps, then rotations from the joint tokens and positions
        body_hm, body_joints = self.body_position_net(features)
        root6d, body6d, betas, cam_param = self.body_regressor(body_tokens, shape_token, cam_token, body_joints)
        root_pose = rot6d_to_axis_angle(root6d)
        body_pose = rot6d_to_axis_angle(body6d.reshape(n, -1, 6)).reshape(n, -1)

        # Hand and face boxes (encoder-input pixels)
        (lc, ls), (rc, rs), (fc, fs) = self.box_net(features, body_hm)
        hand_aspect = INPUT_HAND_SHAPE[1] / INPUT_HAND_SHAPE[0]
        lhand_box = restore_box(lc, ls, hand_aspect, 2.0)
        rhand_box = restore_box(rc, rs, hand_aspect, 2.0)
        face_box = restore_box(fc, fs, INPUT_FACE_SHAPE[1] / INPUT_FACE_SHAPE[0], 1.5)

        # Hands: RoI features (left mirrored), joint positions, finger rotations
        hand_feat = self.hand_roi_net(features, lhand_box, rhand_box)
        _, hand_joints = self.hand_position_net(hand_feat)
        hand6d = self.hand_regressor(hand_feat, hand_joints)
        hand_pose = rot6d_to_axis_angle(hand6d.reshape(2 * n, -1, 6))
        # Mirror the left hand's rotations back: (x, y, z) -> (x, -y, -z)
        lhand_pose = (hand_pose[:n] * hand_pose.new_tensor([1.0, -1.0, -1.0])).reshape(n, NUM_HAND_ROT_JOINTS * 3)
        rhand_pose = hand_pose[n:].reshape(n, NUM_HAND_ROT_JOINTS * 3)

        # Face
        expression, jaw6d = self.face_regressor(expr_token, jaw_token)

        to_crop = body_img.new_tensor(
            [INPUT_IMG_SHAPE[1] / INPUT_BODY_SHAPE[1], INPUT_IMG_SHAPE[0] / INPUT_BODY_SHAPE[0]] * 2
        )
        return SmplxParams(
            root_pose=root_pose,
            body_pose=body_pose,
            lhand_pose=lhand_pose,
            rhand_pose=rhand_pose,
            jaw_pose=rot6d_to_axis_angle(jaw6d),
            betas=betas,
            expression=expression,
            cam_trans=camera_translation(cam_param),
            lhand_box=lhand_box * to_crop,
            rhand_box=rhand_box * to_crop,
            face_box=face_box * to_crop,
        )
