# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Plain result types of the pipeline (no ROS types) and their JSON export."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from grounded_sam_ros.masks import encode_rle, uncrop_mask


@dataclass
class Instance3D:
    """Where an instance is, from the depth pixels under its mask.

    ``position``/``size`` are metres in the depth camera's optical frame (x right, y down, z forward).
    ``valid`` is false when fewer than the configured minimum of depth points fell inside the mask: then
    ``position`` and ``size`` are NaN and must not be used.
    """

    position: np.ndarray  # (3,) float32 metres, centre of the robust bounding box of the visible surface
    size: np.ndarray  # (3,) float32 metres, axis-aligned extents of the visible surface
    num_points: int
    valid: bool
    frame_id: str = ""


@dataclass
class Detection:
    """One grounded, segmented instance.

    ``box`` is (4,) float32 XYXY in pixels of the source image. ``mask`` is the instance mask cropped to its tight
    bounding box: (h, w) bool with ``mask_x``/``mask_y`` the column/row of its top-left pixel in the source image;
    an empty mask is (0, 0) at offset (0, 0). ``mask`` is None when segmentation was disabled.

    With tracking (:mod:`grounded_sam_ros.tracking`) ``id`` is a track id, the same for the same object from frame
    to frame. ``propagated`` is true when this frame's mask came from the video model's memory rather than from a
    detection (``score`` is then the score of the track's last detection), and ``age`` counts the frames since the
    track was last detected (0 on a frame where it was detected).
    """

    label: str
    score: float
    box: np.ndarray
    mask: Optional[np.ndarray] = None
    mask_x: int = 0
    mask_y: int = 0
    mask_score: float = 0.0
    id: str = ""
    phrase_index: int = -1
    instance_3d: Optional[Instance3D] = None
    propagated: bool = False
    age: int = 0

    def full_mask(self, height: int, width: int) -> np.ndarray:
        """The mask at source resolution: (height, width) bool."""
        if self.mask is None:
            raise RuntimeError("this detection has no mask: the pipeline ran with segment=False")
        return uncrop_mask(self.mask, self.mask_x, self.mask_y, height, width)


@dataclass
class FrameResult:
    """Everything the pipeline found in one frame; ``detections`` sorted by score, highest first."""

    image_width: int
    image_height: int
    query: str
    detections: List[Detection] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)  # stage name -> seconds

    def to_dict(self, image: str = "") -> dict:
        """JSON-ready dict: ``{"image", "width", "height", "query", "detections": [...]}``; masks as COCO RLE."""
        dets = []
        for det in self.detections:
            entry = {
                "id": det.id,
                "label": det.label,
                "score": round(float(det.score), 6),
                "mask_score": round(float(det.mask_score), 6),
                "box": [round(float(v), 3) for v in det.box],
                "propagated": bool(det.propagated),
                "age": int(det.age),
            }
            if det.mask is not None:
                entry["mask"] = encode_rle(det.full_mask(self.image_height, self.image_width))
            if det.instance_3d is not None:
                i3 = det.instance_3d
                entry["position"] = [float(v) for v in i3.position] if i3.valid else None
                entry["size"] = [float(v) for v in i3.size] if i3.valid else None
                entry["num_points"] = int(i3.num_points)
            dets.append(entry)
        return {
            "image": image,
            "width": int(self.image_width),
            "height": int(self.image_height),
            "query": self.query,
            "detections": dets,
        }

    def to_json(self, image: str = "", indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(image), indent=indent)
