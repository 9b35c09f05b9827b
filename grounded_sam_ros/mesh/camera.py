# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Where the mesh is: OSX's virtual per-crop camera, the real camera, and metric depth.

OSX predicts a translation ``t`` such that ``vertices + t`` seen by a *virtual* pinhole camera of the crop (focal
5000 px and principal point at the centre of the 256x192 encoder input) lands on the person. In source-image pixels
that camera has focal ``5000 * crop_w / 192`` and its principal point at the crop centre (OSX's demo renders with
exactly this). Without calibration that is all there is: the mesh's pose and shape are meaningful, ``t`` says where
it projects in the image, but its depth ``t_z`` (metres) is only what a 5000 px camera would need, not a distance.

With the real intrinsics (``CameraInfo.k``) we keep the root joint's pixel and the apparent size: the root moves
along its pixel ray to depth ``z * f_real / f_virtual``. That distance assumes the predicted body size is right
(SMPL-X betas are metric); a depth image removes the assumption: the mesh slides along the same ray until its
visible surface meets the measured depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from grounded_sam_ros.mesh.config import FOCAL, INPUT_BODY_SHAPE, PRINCIPAL_POINT


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of the source image (rectified, no distortion)."""

    fx: float
    fy: float
    cx: float
    cy: float

    @staticmethod
    def from_k(k) -> "Intrinsics":
        """From a row-major 3x3 K (``sensor_msgs/CameraInfo.k``, 9 numbers)."""
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.shape != (9,) or k[0] <= 0 or k[4] <= 0:
            raise ValueError(f"K must be 9 numbers with positive fx, fy; got {k.tolist()}")
        return Intrinsics(float(k[0]), float(k[4]), float(k[2]), float(k[5]))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Nx3 camera-frame points (x right, y down, z forward) -> Nx2 pixels."""
        p = np.asarray(points, dtype=np.float64)
        return np.stack((self.fx * p[:, 0] / p[:, 2] + self.cx, self.fy * p[:, 1] / p[:, 2] + self.cy), axis=1)


def virtual_camera(crop_xywh: np.ndarray) -> Intrinsics:
    """OSX's virtual camera of one crop, in source-image pixels (crop_xywh: the crop box x, y, w, h)."""
    x, y, w, h = (float(v) for v in crop_xywh)
    sx, sy = w / INPUT_BODY_SHAPE[1], h / INPUT_BODY_SHAPE[0]
    return Intrinsics(FOCAL[0] * sx, FOCAL[1] * sy, PRINCIPAL_POINT[0] * sx + x, PRINCIPAL_POINT[1] * sy + y)


def to_real_camera(
    root_joint: np.ndarray, translation: np.ndarray, crop_xywh: np.ndarray, real: Intrinsics
) -> np.ndarray:
    """Re-express OSX's translation in the real camera.

    root_joint: (3,) the body's root joint in the model frame (metres, without translation); translation: (3,) OSX's
    virtual-camera translation. Returns (3,) the translation that puts the root joint on the same pixel at depth
    ``z * f_real / f_virtual`` (same apparent size) in the real camera.
    """
    virtual = virtual_camera(crop_xywh)
    root_virtual = np.asarray(root_joint, dtype=np.float64) + np.asarray(translation, dtype=np.float64)
    if root_virtual[2] <= 0:
        raise ValueError(f"the root joint is behind the virtual camera (z = {root_virtual[2]:.3f} m)")
    u, v = virtual.project(root_virtual[None])[0]
    f_virtual = (virtual.fx + virtual.fy) / 2
    f_real = (real.fx + real.fy) / 2
    depth = root_virtual[2] * f_real / f_virtual
    root_real = np.array([(u - real.cx) / real.fx * depth, (v - real.cy) / real.fy * depth, depth])
    return root_real - np.asarray(root_joint, dtype=np.float64)


def slide_to_depth(
    root_joint: np.ndarray, translation: np.ndarray, mesh_depth: float, measured_depth: float
) -> np.ndarray:
    """Move a real-camera translation along the root joint's pixel ray so that a surface the mesh puts at
    ``mesh_depth`` metres comes to ``measured_depth`` (e.g. the median rendered vs measured depth under the person).
    Every depth shifts by the same amount; the root's pixel is kept."""
    root = np.asarray(root_joint, dtype=np.float64) + np.asarray(translation, dtype=np.float64)
    if root[2] <= 0 or not np.isfinite(measured_depth) or measured_depth <= 0:
        raise ValueError(f"cannot slide to depth {measured_depth!r}: root depth {root[2]:.3f} m")
    new_depth = root[2] + (measured_depth - mesh_depth)
    if new_depth <= 0:
        raise ValueError(f"the depth correction would put the root behind the camera ({new_depth:.3f} m)")
    return root * (new_depth / root[2]) - np.asarray(root_joint, dtype=np.float64)


def median_depth(depth: np.ndarray, mask: np.ndarray, min_points: int = 30) -> Optional[float]:
    """Median of the valid (finite, > 0) depth values under an HxW bool mask, metres; None with too few."""
    values = depth[mask]
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.median(values)) if values.size >= min_points else None
