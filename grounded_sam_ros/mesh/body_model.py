# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The SMPL-X body model with our own linear blend skinning, read from the user's ``SMPLX_NEUTRAL.npz``.

OSX's conventions: hand poses are full axis-angle (no PCA) with the model's mean hand pose added; 10 shape and 10
expression coefficients; eye poses zero. Output units are metres, no translation applied. At zero pose the body
stands in the SMPL-X model frame (y up, facing +z); OSX's predicted root pose rotates it into the camera's optical
frame (x right, y down, z forward).

The SMPL-X files are under a non-commercial licence and need a registration: they are never shipped or downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from grounded_sam_ros.mesh.config import NUM_BETAS, NUM_EXPRESSION
from grounded_sam_ros.mesh.rotations import axis_angle_to_matrix

WHERE_TO_GET = (
    "register at https://smpl-x.is.tue.mpg.de/ (free for non-commercial research; read its licence), download "
    "'SMPL-X v1.1 (NPZ+PKL)' and point mesh.smplx_model / --smplx-model at models/smplx/SMPLX_NEUTRAL.npz"
)
REQUIRED_KEYS = (
    "v_template",
    "f",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "kintree_table",
    "weights",
    "hands_meanl",
    "hands_meanr",
)
NUM_JOINTS = 55  # root, 21 body, jaw, 2 eyes, 2 x 15 finger joints
SHAPE_SPACE_DIM = 300  # shapedirs columns before the expression directions in SMPL-X v1.1
EXPRESSION_SPACE_DIM = 100


@dataclass
class BodyOutput:
    """vertices: NxVx3 float metres; joints: Nx55x3 (the kinematic joints; joints[:, 0] is the pelvis / root)."""

    vertices: torch.Tensor
    joints: torch.Tensor


class SMPLX(nn.Module):
    """SMPL-X with OSX's settings. ``faces`` is Fx3 int64 vertex indices (counter-clockwise seen from outside)."""

    def __init__(self, arrays: dict[str, np.ndarray], num_betas: int = NUM_BETAS, num_expression: int = NUM_EXPRESSION):
        super().__init__()
        v_template = np.asarray(arrays["v_template"], dtype=np.float32)
        num_verts = v_template.shape[0]
        shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float32)
        if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_verts, 3):
            raise ValueError(f"shapedirs must be {num_verts}x3xK, got {shapedirs.shape}")
        # v1.0 files have 10 shape + 10 expression directions; v1.1 files 300 + 100
        expr_start = SHAPE_SPACE_DIM if shapedirs.shape[2] >= SHAPE_SPACE_DIM + EXPRESSION_SPACE_DIM else 10
        if shapedirs.shape[2] < expr_start + num_expression or num_betas > expr_start:
            raise ValueError(
                f"shapedirs has {shapedirs.shape[2]} directions: too few for {num_betas} + {num_expression}"
            )
        kintree = np.asarray(arrays["kintree_table"]).astype(np.int64)
        parents = kintree[0].copy()
        parents[0] = -1
        if parents.shape[0] != NUM_JOINTS or np.any(parents[1:] >= np.arange(1, NUM_JOINTS)):
            raise ValueError(f"kintree_table must describe {NUM_JOINTS} joints with parents before children")

        self.register_buffer("v_template", torch.from_numpy(v_template))
        self.register_buffer("shapedirs", torch.from_numpy(shapedirs[:, :, :num_betas].copy()))
        self.register_buffer(
            "exprdirs", torch.from_numpy(shapedirs[:, :, expr_start : expr_start + num_expression].copy())
        )
        posedirs = np.asarray(arrays["posedirs"], dtype=np.float32).reshape(num_verts * 3, -1).T
        self.register_buffer("posedirs", torch.from_numpy(posedirs.copy()))  # (J-1)*9 x V*3
        self.register_buffer("J_regressor", torch.from_numpy(np.asarray(arrays["J_regressor"], dtype=np.float32)))
        self.register_buffer("lbs_weights", torch.from_numpy(np.asarray(arrays["weights"], dtype=np.float32)))
        hand_mean = np.concatenate([np.asarray(arrays["hands_meanl"]), np.asarray(arrays["hands_meanr"])])
        self.register_buffer("hand_mean", torch.from_numpy(hand_mean.astype(np.float32)))
        self.register_buffer("faces", torch.from_numpy(np.asarray(arrays["f"]).astype(np.int64)))
        self.parents = parents.tolist()
        self.num_betas, self.num_expression = num_betas, num_expression

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    def forward(
        self,
        betas: torch.Tensor,
        root_pose: torch.Tensor,
        body_pose: torch.Tensor,
        lhand_pose: torch.Tensor,
        rhand_pose: torch.Tensor,
        jaw_pose: torch.Tensor,
        expression: torch.Tensor,
    ) -> BodyOutput:
        """Shapes: betas Nx10, root_pose Nx3, body_pose Nx63, lhand/rhand_pose Nx45, jaw_pose Nx3, expression Nx10."""
        n = betas.shape[0]
        eyes = root_pose.new_zeros((n, 6))
        hands = torch.cat((lhand_pose, rhand_pose), dim=1) + self.hand_mean
        full_pose = torch.cat((root_pose, body_pose, jaw_pose, eyes, hands), dim=1).reshape(n, NUM_JOINTS, 3)

        # Shape and expression blend shapes, then the rest-pose joints
        coeffs = torch.cat((betas, expression), dim=1)
        dirs = torch.cat((self.shapedirs, self.exprdirs), dim=2)
        v_shaped = self.v_template + torch.einsum("nk,vck->nvc", coeffs, dirs)
        joints = torch.einsum("jv,nvc->njc", self.J_regressor, v_shaped)

        # Pose blend shapes from the non-root rotations
        rots = axis_angle_to_matrix(full_pose)  # N x J x 3 x 3
        eye = torch.eye(3, dtype=rots.dtype, device=rots.device)
        pose_feature = (rots[:, 1:] - eye).reshape(n, -1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).reshape(n, -1, 3)

        # Kinematic chain: world transform of every joint, then skinning
        posed_joints, transforms = self._chain(rots, joints)
        blend = torch.einsum("vj,njab->nvab", self.lbs_weights, transforms)
        v_homo = torch.cat((v_posed, v_posed.new_ones((n, v_posed.shape[1], 1))), dim=2)
        vertices = torch.einsum("nvab,nvb->nva", blend, v_homo)[..., :3]
        return BodyOutput(vertices=vertices, joints=posed_joints)

    def _chain(self, rots: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posed joint positions NxJx3 and the skinning transforms NxJx4x4 (rest pose -> posed)."""
        n = rots.shape[0]
        rel = joints.clone()
        rel[:, 1:] = joints[:, 1:] - joints[:, self.parents[1:]]
        local = torch.zeros((n, NUM_JOINTS, 4, 4), dtype=rots.dtype, device=rots.device)
        local[..., :3, :3] = rots
        local[..., :3, 3] = rel
        local[..., 3, 3] = 1
        world = [local[:, 0]]
        for j in range(1, NUM_JOINTS):
            world.append(world[self.parents[j]] @ local[:, j])
        world_t = torch.stack(world, dim=1)
        posed_joints = world_t[..., :3, 3]
        # Remove the rest-pose joint position so the transform acts on rest-pose vertices
        offset = torch.einsum("njab,njb->nja", world_t[..., :3, :3], joints)
        skin = world_t.clone()
        skin[..., :3, 3] = posed_joints - offset
        return posed_joints, skin


def load_smplx(path: str | Path) -> SMPLX:
    """Read ``SMPLX_NEUTRAL.npz`` (numeric arrays only: ``allow_pickle=False``) and build the body model."""
    path = Path(path).expanduser()
    if path.is_dir():
        for candidate in (path / "SMPLX_NEUTRAL.npz", path / "smplx" / "SMPLX_NEUTRAL.npz"):
            if candidate.is_file():
                path = candidate
                break
    if not path.is_file():
        raise FileNotFoundError(f"SMPL-X model {path} not found. The body model is not shipped: {WHERE_TO_GET}")
    if path.suffix != ".npz":
        raise ValueError(f"{path}: only the .npz SMPL-X files are read (pickle .pkl files are refused); {WHERE_TO_GET}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in REQUIRED_KEYS if k not in data.files]
            if missing:
                raise ValueError(f"{path} is not an SMPL-X model file: missing {', '.join(missing)}; {WHERE_TO_GET}")
            arrays = {k: data[k] for k in REQUIRED_KEYS}
    except (OSError, ValueError) as exc:
        if "SMPL-X" in str(exc):
            raise
        raise ValueError(f"cannot read {path} as an SMPL-X .npz ({exc}); {WHERE_TO_GET}") from None
    return SMPLX(arrays)
