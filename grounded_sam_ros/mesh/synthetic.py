# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Stand-ins for the files users bring, for tests, demos and benchmarks: a synthetic SMPL-X ``.npz`` (right keys,
shapes and kinematic tree; a stick figure of small spheres instead of the real 10,475-vertex body) and a random
OSX checkpoint written in the published layout. Neither is a body model or a trained network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from grounded_sam_ros.mesh.body_model import NUM_JOINTS
from grounded_sam_ros.mesh.config import Architecture
from grounded_sam_ros.mesh.network import OSXNetwork

# SMPL-X's kinematic tree: the parent of each of the 55 joints
SMPLX_PARENTS = (
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    + [20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38]
    + [21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]
)
_BODY_JOINTS = [  # rest-pose positions, metres, y up, the person's left = +x
    (0, 0, 0), (0.1, -0.1, 0), (-0.1, -0.1, 0), (0, 0.1, 0), (0.1, -0.5, 0), (-0.1, -0.5, 0), (0, 0.22, 0),
    (0.1, -0.9, 0), (-0.1, -0.9, 0), (0, 0.32, 0), (0.1, -0.95, 0.1), (-0.1, -0.95, 0.1), (0, 0.5, 0),
    (0.08, 0.45, 0), (-0.08, 0.45, 0), (0, 0.62, 0), (0.18, 0.45, 0), (-0.18, 0.45, 0), (0.45, 0.45, 0),
    (-0.45, 0.45, 0), (0.7, 0.45, 0), (-0.7, 0.45, 0), (0, 0.58, 0.05), (0.03, 0.66, 0.08), (-0.03, 0.66, 0.08),
]  # fmt: skip


def _icosphere() -> tuple[np.ndarray, np.ndarray]:
    t = (1 + 5**0.5) / 2
    v = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
         [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], dtype=np.float64,
    )  # fmt: skip
    f = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6],
         [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10],
         [8, 6, 7], [9, 8, 1]],
    )  # fmt: skip
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


def rest_joints() -> np.ndarray:
    """55x3 rest-pose joint positions of the synthetic figure (fingers fan out from the wrists)."""
    joints = [np.array(j, dtype=np.float64) for j in _BODY_JOINTS]
    for wrist, side in ((20, 1.0), (21, -1.0)):
        for finger in range(5):
            for k in range(3):
                joints.append(joints[wrist] + np.array([side * 0.04 * (k + 1), 0, 0.02 * (finger - 2)]))
    assert len(joints) == NUM_JOINTS
    return np.stack(joints)


def synthetic_smplx_arrays(seed: int = 0, num_shape: int = 10, num_expr: int = 10) -> dict[str, np.ndarray]:
    """The arrays of a synthetic SMPL-X file: one small sphere per joint, skinned to that joint (and a little to its
    parent), random small shape/expression/pose blend shapes and hand means."""
    rng = np.random.default_rng(seed)
    sphere_v, sphere_f = _icosphere()
    joints = rest_joints()
    verts, faces, weights = [], [], []
    n_s = len(sphere_v)
    for j in range(NUM_JOINTS):
        radius = 0.008 if j >= 25 else 0.04
        verts.append(joints[j] + radius * sphere_v)
        faces.append(sphere_f + j * n_s)
        w = np.zeros((n_s, NUM_JOINTS))
        parent = SMPLX_PARENTS[j]
        w[:, j] = 0.8 if parent >= 0 else 1.0
        if parent >= 0:
            w[:, parent] = 0.2
        weights.append(w)
    v_template = np.concatenate(verts)
    num_verts = len(v_template)
    j_regressor = np.zeros((NUM_JOINTS, num_verts))
    for j in range(NUM_JOINTS):
        j_regressor[j, j * n_s : (j + 1) * n_s] = 1.0 / n_s
    kintree = np.array([[2**32 - 1] + SMPLX_PARENTS[1:], list(range(NUM_JOINTS))], dtype=np.int64)
    return {
        "v_template": v_template,
        "f": np.concatenate(faces).astype(np.uint32),
        "shapedirs": rng.normal(0, 0.01, (num_verts, 3, num_shape + num_expr)),
        "posedirs": rng.normal(0, 0.002, (num_verts, 3, (NUM_JOINTS - 1) * 9)),
        "J_regressor": j_regressor,
        "kintree_table": kintree,
        "weights": np.concatenate(weights),
        "hands_meanl": rng.normal(0, 0.1, 45),
        "hands_meanr": rng.normal(0, 0.1, 45),
        "hands_componentsl": np.eye(45),
        "hands_componentsr": np.eye(45),
        "lmk_faces_idx": np.arange(51, dtype=np.int64) % len(sphere_f),
        "lmk_bary_coords": np.full((51, 3), 1 / 3),
        "dynamic_lmk_faces_idx": np.zeros((79, 17), dtype=np.int64),
        "dynamic_lmk_bary_coords": np.full((79, 17, 3), 1 / 3),
    }


def write_synthetic_smplx(path: str | Path, seed: int = 0) -> Path:
    """Write a synthetic ``SMPLX_NEUTRAL.npz`` (numeric arrays only) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **synthetic_smplx_arrays(seed))
    return path


def random_network(arch: Architecture, seed: int = 0) -> OSXNetwork:
    """An :class:`OSXNetwork` with random weights and random BatchNorm statistics (never subnormal)."""
    torch.manual_seed(seed)
    net = OSXNetwork(arch)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith(("task_tokens", "pos_embed")):
                tensor.normal_(0, 0.02)
            elif name.endswith("running_mean"):
                tensor.normal_(0, 0.1)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
    return net.eval()


def original_state_dict(net: OSXNetwork) -> dict[str, torch.Tensor]:
    """The network's weights under the names of a published checkpoint (``module.`` prefix, ``backbone``,
    ``body_rotation_net``, ``hand_rotation_net``)."""
    renames = (
        ("encoder.", "backbone."),
        ("body_regressor.", "body_rotation_net."),
        ("hand_regressor.", "hand_rotation_net."),
    )
    out = {}
    for key, value in net.state_dict().items():
        for new, old in renames:
            if key.startswith(new):
                key = old + key[len(new) :]
        out["module." + key] = value.clone()
    return out


def write_original_checkpoint(path: str | Path, net: OSXNetwork, extra: dict | None = None) -> Path:
    """``torch.save`` in the published layout: ``{"epoch": ..., "network": {module.*: tensor}}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = original_state_dict(net)
    state.update(extra or {})
    torch.save({"epoch": 13, "network": state}, path)
    return path
