# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OSX / SMPLer-X constants and the architecture table (one graph, several encoder sizes).

Everything here is read from the published configurations (OSX ``main/config.py`` and the ViT encoder configs;
SMPLer-X ``main/config/config_smpler_x_*.py``); sizes are (height, width) unless named otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Input and output geometry (identical in OSX and SMPLer-X)
INPUT_IMG_SHAPE = (512, 384)  # the affine crop of the person box
INPUT_BODY_SHAPE = (256, 192)  # what the encoder sees (nearest downsampling of the crop)
OUTPUT_HM_SHAPE = (16, 16, 12)  # body heatmap (depth, height, width) = the encoder's 16x12 patch grid
OUTPUT_HAND_HM_SHAPE = (16, 16, 16)
INPUT_HAND_SHAPE = (256, 256)
INPUT_FACE_SHAPE = (192, 192)
BOX_SCALE = 1.25  # person box enlargement before cropping
HAND_UPSCALE = 4  # HandRoI upsamples the 16x12 feature map to 64x48 before RoI Align

# Virtual camera of the crop: focal 5000 px at INPUT_BODY_SHAPE, principal point at the crop centre
FOCAL = (5000.0, 5000.0)
PRINCIPAL_POINT = (INPUT_BODY_SHAPE[1] / 2, INPUT_BODY_SHAPE[0] / 2)  # (x, y)
CAMERA_3D_SIZE = 2.5  # metres; sets the depth range of the predicted translation
DEPTH_FACTOR = math.sqrt(FOCAL[0] * FOCAL[1] * CAMERA_3D_SIZE**2 / (INPUT_BODY_SHAPE[0] * INPUT_BODY_SHAPE[1]))

# SMPL-X parameterisation as OSX regresses it
NUM_TASK_TOKENS = 31  # shape, camera, expression, jaw, 2 hands, 25 body joints
NUM_BODY_POS_JOINTS = 25  # joints the body heatmap locates
NUM_HAND_POS_JOINTS = 20  # per hand
NUM_BODY_ROT_JOINTS = 21  # body pose without the root
NUM_HAND_ROT_JOINTS = 15
NUM_BETAS = 10
NUM_EXPRESSION = 10


@dataclass(frozen=True)
class Architecture:
    """One encoder size. ``feat_dim`` (the ViT width) also sizes every head."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    checkpoint: str  # the published file that has this size
    mlp_ratio: int = 4
    patch_size: int = 16


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("osx_l", 1024, 24, 16, "osx_l_wo_decoder.pth.tar"),
        Architecture("osx_b", 768, 12, 12, "(OSX-B encoder-only, trained yourself)"),
        Architecture("smpler_x_s", 384, 12, 12, "smpler_x_s32.pth.tar"),
        Architecture("smpler_x_b", 768, 12, 12, "smpler_x_b32.pth.tar"),
        Architecture("smpler_x_l", 1024, 24, 16, "smpler_x_l32.pth.tar"),
        Architecture("smpler_x_h", 1280, 32, 16, "smpler_x_h32.pth.tar"),
        # Random weights from grounded_sam_ros.mesh.synthetic, for tests and demos (no published file is this small)
        Architecture("tiny_random", 32, 2, 2, "(random weights, mesh.synthetic)"),
    )
}


def architecture_for(embed_dim: int, depth: int) -> Architecture:
    """The table entry with this ViT width and depth (the head count is not visible in the weights)."""
    for arch in ARCHITECTURES.values():
        if (arch.embed_dim, arch.depth) == (embed_dim, depth):
            return arch
    known = ", ".join(f"{a.name} ({a.embed_dim}x{a.depth})" for a in ARCHITECTURES.values())
    raise ValueError(
        f"no known OSX/SMPLer-X encoder is {embed_dim} wide and {depth} blocks deep; known: {known}. "
        "Pass the architecture explicitly (arch=Architecture(...)) for another size."
    )
