# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pipeline results as rosbags messages (the typestore classes of :func:`grounded_sam_ros.io.bags.typestore`).

The same fields and conventions as ``ros/conversions.py`` builds for rclpy (``result_to_msg``): masks as mono8 crops
at ``mask_x``/``mask_y``, 3D fields from ``instance_3d``, the header copied from the source image. No ROS needed.
"""

from __future__ import annotations

import numpy as np

from grounded_sam_ros.io.bags import new_message, typestore
from grounded_sam_ros.results import Detection, FrameResult

DETECTION_ARRAY_TYPE = "grounded_sam_ros/msg/DetectionArray"
DETECTION_TYPE = "grounded_sam_ros/msg/Detection"
IMAGE_TYPE = "sensor_msgs/msg/Image"


def copy_header(header):
    """A copy of a rosbags ``std_msgs/Header`` (stamp and frame_id)."""
    store = typestore()
    stamp = new_message("builtin_interfaces/msg/Time", store, sec=int(header.stamp.sec),
                        nanosec=int(header.stamp.nanosec))  # fmt: skip
    return new_message("std_msgs/msg/Header", store, stamp=stamp, frame_id=str(header.frame_id))


def image_message(pixels: np.ndarray, header, encoding: str = "rgb8"):
    """An ``HxWx3`` (rgb8) or ``HxW`` (mono8) uint8 array as a rosbags ``sensor_msgs/Image``, ``step = width * C``."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    height, width = pixels.shape[:2]
    return new_message(IMAGE_TYPE, height=height, width=width, encoding=encoding, is_bigendian=0,
                       step=width * channels, data=pixels.reshape(-1), header=copy_header(header))  # fmt: skip


def _crop_message(crop):
    if crop is None or crop.size == 0:
        return new_message(IMAGE_TYPE, encoding="mono8")
    pixels = crop.astype(bool, copy=False).astype(np.uint8) * 255
    return new_message(IMAGE_TYPE, height=crop.shape[0], width=crop.shape[1], encoding="mono8", step=crop.shape[1],
                       data=pixels.reshape(-1))  # fmt: skip


def detection_message(det: Detection):
    """One :class:`Detection` as a rosbags ``grounded_sam_ros/msg/Detection``."""
    store = typestore()
    fields = {
        "id": str(det.id),
        "label": str(det.label),
        "score": float(det.score),
        "mask_score": float(det.mask_score),
        "box": np.asarray(det.box, dtype=np.float32).reshape(4).copy(),
        "mask_x": int(det.mask_x),
        "mask_y": int(det.mask_y),
        "mask": _crop_message(det.mask),
    }
    i3 = det.instance_3d
    if i3 is not None:
        fields.update(has_3d=bool(i3.valid), num_points=int(i3.num_points), frame_3d=str(i3.frame_id))
        if i3.valid:
            px, py, pz = (float(v) for v in np.asarray(i3.position).reshape(3))
            sx, sy, sz = (float(v) for v in np.asarray(i3.size).reshape(3))
            fields["position"] = new_message("geometry_msgs/msg/Point", store, x=px, y=py, z=pz)
            fields["size"] = new_message("geometry_msgs/msg/Vector3", store, x=sx, y=sy, z=sz)
    return new_message(DETECTION_TYPE, store, **fields)


def detections_message(result: FrameResult, header):
    """A :class:`FrameResult` as a rosbags ``grounded_sam_ros/msg/DetectionArray``; ``header`` is the source image's."""
    return new_message(
        DETECTION_ARRAY_TYPE,
        header=copy_header(header),
        image_width=int(result.image_width),
        image_height=int(result.image_height),
        query=result.query,
        detections=[detection_message(det) for det in result.detections],
    )


def message_full_mask(det_msg, height: int, width: int) -> np.ndarray:
    """The ``height x width bool`` mask a rosbags Detection message describes (for readers and tests)."""
    full = np.zeros((height, width), dtype=bool)
    h, w = int(det_msg.mask.height), int(det_msg.mask.width)
    if h and w:
        crop = np.asarray(det_msg.mask.data, np.uint8).reshape(h, int(det_msg.mask.step))[:, :w] != 0
        full[det_msg.mask_y : det_msg.mask_y + h, det_msg.mask_x : det_msg.mask_x + w] = crop
    return full


# ----------------------------------------------------------------------------------------------------------------------
# vision_msgs
# ----------------------------------------------------------------------------------------------------------------------

DETECTION_2D_ARRAY_TYPE = "vision_msgs/msg/Detection2DArray"


def vision_msgs_available() -> bool:
    """True when ``vision_msgs``' message definitions are installed (``share/vision_msgs/msg`` under a prefix of
    ``AMENT_PREFIX_PATH``, as on any ROS machine with the package); they are then registered in the typestore."""
    store = typestore()
    if DETECTION_2D_ARRAY_TYPE in store.fielddefs:
        return True
    try:
        from grounded_sam_ros.io.bags import register_package

        register_package(store, "vision_msgs")
    except ValueError:
        return False
    return DETECTION_2D_ARRAY_TYPE in store.fielddefs


def detection2d_array_message(result: FrameResult, header):
    """A :class:`FrameResult` as a rosbags ``vision_msgs/msg/Detection2DArray`` (needs :func:`vision_msgs_available`).

    Per detection, as the node's ``detections_2d``: ``header`` = the source image's, ``id`` = the instance (or track)
    id, one ``results`` hypothesis with ``class_id`` = the query phrase and ``score`` = the detector score, ``bbox``
    centre and size in pixels of the source image (theta 0). Works with both BoundingBox2D layouts (centre as
    ``vision_msgs/Pose2D`` since Humble, ``geometry_msgs/Pose2D`` before).
    """
    store = typestore()
    detections = []
    for det in result.detections:
        x0, y0, x1, y1 = (float(v) for v in np.asarray(det.box, dtype=np.float64).reshape(4))
        msg = new_message("vision_msgs/msg/Detection2D", store, header=copy_header(header), id=str(det.id))
        hypothesis = new_message("vision_msgs/msg/ObjectHypothesisWithPose", store)
        if hasattr(hypothesis, "hypothesis"):  # Humble and later
            hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = str(det.label), float(det.score)
        else:  # Foxy: the fields sit on ObjectHypothesisWithPose itself
            hypothesis.id, hypothesis.score = str(det.label), float(det.score)
        msg.results = [hypothesis]
        centre = msg.bbox.center
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        if hasattr(centre, "position"):
            centre.position.x, centre.position.y = cx, cy
        else:
            centre.x, centre.y = cx, cy
        msg.bbox.size_x, msg.bbox.size_y = x1 - x0, y1 - y0
        detections.append(msg)
    return new_message(DETECTION_2D_ARRAY_TYPE, store, header=copy_header(header), detections=detections)
