# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Person boxes -> SMPL-X meshes: crop (OSX preprocessing), regress (OSX network), skin (SMPL-X), place (camera).

The estimator is given a built network and body model and never opens files itself; :meth:`MeshEstimator.from_files`
is the one place that does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from grounded_sam_ros.mesh.body_model import SMPLX, load_smplx
from grounded_sam_ros.mesh.camera import Intrinsics, median_depth, slide_to_depth, to_real_camera, virtual_camera
from grounded_sam_ros.mesh.checkpoint import load_network
from grounded_sam_ros.mesh.network import OSXNetwork, SmplxParams
from grounded_sam_ros.mesh.preprocess import crop_box, crop_person, crop_to_image, to_network_input

PARAM_NAMES = ("root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose", "betas", "expression")
BODY_ARGS = ("betas", "root_pose", "body_pose", "lhand_pose", "rhand_pose", "jaw_pose", "expression")  # SMPLX order


@dataclass
class HumanMesh:
    """One person's mesh.

    box: (4,) XYXY pixels, the person box given; crop: (4,) x, y, w, h pixels, the crop OSX saw; params: SMPL-X
    parameters (axis-angle radians, see :class:`SmplxParams`), each a float32 array; translation: (3,) metres,
    added to the model-frame vertices; camera: "virtual" (OSX's per-crop camera: depth not metric), "real"
    (re-expressed in the given intrinsics) or "real+depth" (distance fixed by the depth image); intrinsics: the
    camera ``vertices`` project with; vertices: Vx3 float32 metres in that camera's optical frame (x right, y down,
    z forward), translation included; joints: 55x3 likewise (joints[0] = pelvis); hand/face boxes XYXY pixels.
    """

    box: np.ndarray
    crop: np.ndarray
    params: dict[str, np.ndarray]
    translation: np.ndarray
    camera: str
    intrinsics: Intrinsics
    vertices: np.ndarray
    joints: np.ndarray
    lhand_box: np.ndarray
    rhand_box: np.ndarray
    face_box: np.ndarray
    id: str = ""
    label: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready parameters (no vertices)."""
        r = lambda a: [round(float(x), 6) for x in np.asarray(a).reshape(-1)]  # noqa: E731
        return {
            "id": self.id,
            "label": self.label,
            "box": r(self.box),
            "crop_xywh": r(self.crop),
            "camera": self.camera,
            "intrinsics": {k: round(v, 4) for k, v in vars(self.intrinsics).items()},
            "translation": r(self.translation),
            "root_joint": r(self.joints[0]),
            **{name: r(self.params[name]) for name in PARAM_NAMES},
            "lhand_box": r(self.lhand_box),
            "rhand_box": r(self.rhand_box),
            "face_box": r(self.face_box),
        }


class MeshEstimator:
    """Not thread-safe; load once, call from one thread."""

    def __init__(self, network: OSXNetwork, body: SMPLX, device: str = "cpu"):
        self.network = network.eval()
        self.body = body.to(device=device, dtype=torch.float32)
        self.device = torch.device(device)
        self.faces = body.faces.cpu().numpy()
        self._dtype = next(network.parameters()).dtype

    @classmethod
    def from_files(cls, model: str | Path, smplx_model: str | Path, device: str = "cpu", dtype=torch.float32):
        """Load the OSX / SMPLer-X checkpoint and the SMPL-X ``.npz`` (fix-it errors when either is missing)."""
        body = load_smplx(smplx_model)
        network = load_network(model, device=device, dtype=dtype)
        return cls(network, body, device)

    @torch.inference_mode()
    def __call__(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        intrinsics: Optional[Intrinsics] = None,
        depth: Optional[np.ndarray] = None,
        masks: Optional[Sequence[Optional[np.ndarray]]] = None,
        measured: Optional[Sequence[Optional[float]]] = None,
    ) -> list[HumanMesh]:
        """image: HxWx3 uint8 RGB; boxes: Nx4 XYXY pixels of ``image``. Optional: the camera's intrinsics, a depth
        image registered to ``image`` (HxW float32 metres, 0/NaN = none) and per-box HxW bool masks (where to
        compare depths; the box when absent) or, instead of a depth image, per-box ``measured`` distances (metres,
        None = unknown) of the visible surface, e.g. from the detections' 3D fields. Boxes whose clipped area is
        empty are skipped. A distance only applies with ``intrinsics``."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be HxWx3 uint8 RGB, got {image.shape} {image.dtype}")
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        height, width = image.shape[:2]

        # Crop every box that overlaps the image
        kept = [(i, crop) for i, box in enumerate(boxes) if (crop := crop_box(box, width, height)) is not None]
        if not kept:
            return []
        params, verts, joints = self.forward([crop_person(image, crop) for _, crop in kept])

        # Place each person in the best camera known
        people = []
        for n, (i, crop) in enumerate(kept):
            cam, t, kind = virtual_camera(crop), params.cam_trans[n].cpu().numpy().astype(np.float64), "virtual"
            if intrinsics is not None:
                t, cam, kind = to_real_camera(joints[n, 0], t, crop, intrinsics), intrinsics, "real"
                known = measured[i] if measured is not None else None
                if depth is not None or known is not None:
                    given = masks[i] if masks is not None else None
                    mask = given if given is not None else _box_mask(boxes[i], height, width)
                    t, kind = self._fix_depth(verts[n], joints[n, 0], t, cam, mask, depth, known)
            people.append(
                HumanMesh(
                    box=boxes[i].copy(),
                    crop=crop,
                    params={k: getattr(params, k)[n].cpu().numpy() for k in PARAM_NAMES},
                    translation=t.astype(np.float32),
                    camera=kind,
                    intrinsics=cam,
                    vertices=(verts[n] + t).astype(np.float32),
                    joints=(joints[n] + t).astype(np.float32),
                    lhand_box=_crop_box_to_image(params.lhand_box[n], crop),
                    rhand_box=_crop_box_to_image(params.rhand_box[n], crop),
                    face_box=_crop_box_to_image(params.face_box[n], crop),
                    extra={"input_index": i},
                )
            )
        return people

    @torch.inference_mode()
    def forward(self, crops: list[np.ndarray]) -> tuple[SmplxParams, np.ndarray, np.ndarray]:
        """512x384x3 float32 crops -> (float32 parameters, NxVx3 vertices and Nx55x3 joints in the model frame)."""
        x = to_network_input(crops, self.device).to(self._dtype)
        params = self.network(x)
        params = SmplxParams(**{k: v.float() for k, v in vars(params).items()})
        out = self.body(*(getattr(params, k) for k in BODY_ARGS))
        return params, out.vertices.cpu().numpy(), out.joints.cpu().numpy()

    def _fix_depth(self, vertices, root, t, cam, mask, depth=None, measured=None, iterations: int = 3):
        """Slide along the root's ray until the median rendered depth of the mesh's visible surface under ``mask``
        equals the measured one: the median of ``depth`` on the same pixels, or the given ``measured`` distance.
        A few rounds, as the silhouette changes with distance. Returns (translation, camera kind)."""
        from grounded_sam_ros.mesh.render import rasterize

        kind = "real"
        if depth is not None and depth.shape != mask.shape:
            raise ValueError(f"depth {depth.shape} and image/mask {mask.shape} must have the same size")
        measured_ok = mask & np.isfinite(depth) & (depth > 0) if depth is not None else mask
        for _ in range(iterations):
            _, rendered = rasterize(vertices + t, self.faces, cam, *mask.shape)
            both = measured_ok & np.isfinite(rendered)
            target = median_depth(depth, both) if depth is not None else (measured if both.any() else None)
            if target is None:
                break
            t, kind = slide_to_depth(root, t, float(np.median(rendered[both])), target), "real+depth"
        return t, kind


def _crop_box_to_image(box: torch.Tensor, crop: np.ndarray) -> np.ndarray:
    """(4,) XYXY pixels of the 512x384 crop -> (4,) float32 XYXY pixels of the source image."""
    return crop_to_image(box.cpu().numpy().reshape(2, 2), crop).reshape(4).astype(np.float32)


def _box_mask(box: np.ndarray, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x1, y1 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
    mask[y0:y1, x0:x1] = True
    return mask
