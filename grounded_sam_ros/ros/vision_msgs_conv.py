# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``vision_msgs`` messages from a :class:`~grounded_sam_ros.results.FrameResult`, for standard perception consumers.

Pure helpers: each takes the ``vision_msgs.msg`` module as an argument (:func:`load` imports it and returns None when
the package is not installed), so this module imports everywhere and the node and the bag writer share one mapping:

- ``Detection2D``: ``results[0].hypothesis`` = (the detection's phrase as ``class_id``, its score); ``bbox`` = the
  box's centre and size in pixels of the source image (``theta`` 0: boxes are axis-aligned); ``id`` = the detection's
  id (instance id, or track id when tracking assigns one). The hypothesis ``pose`` is left at its default: a 2D
  detection has no metric pose.
- ``Detection3D`` (detections with a valid 3D instance only): ``bbox`` centre = the instance's position, ``size`` its
  extents (metres, identity orientation: axis-aligned in the depth optical frame); the hypothesis pose = that centre;
  the array's ``frame_id`` is the depth optical frame the 3D values are in, its stamp the colour frame's.
- ``LabelInfo``: ``class_map`` = the query's phrases with their position in the query as ``class_id`` (the
  ``phrase_index`` of each detection); ``threshold`` = the box threshold.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional, Sequence

from grounded_sam_ros.results import FrameResult


def load() -> Optional[ModuleType]:
    """``vision_msgs.msg``, or None when the package is not installed (``apt install ros-$ROS_DISTRO-vision-msgs``)."""
    try:
        return importlib.import_module("vision_msgs.msg")
    except ImportError:
        return None


def detection_2d_array(result: FrameResult, header: Any, vm: ModuleType) -> Any:
    """A ``vision_msgs/Detection2DArray`` of every detection; ``header`` (std_msgs/Header) as the source frame's."""
    msg = vm.Detection2DArray()
    msg.header = header
    for det in result.detections:
        x0, y0, x1, y1 = (float(v) for v in det.box)
        out = vm.Detection2D()
        out.header = header
        out.id = det.id
        out.bbox.center.position.x = 0.5 * (x0 + x1)
        out.bbox.center.position.y = 0.5 * (y0 + y1)
        out.bbox.center.theta = 0.0
        out.bbox.size_x = x1 - x0
        out.bbox.size_y = y1 - y0
        hypothesis = vm.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = det.label
        hypothesis.hypothesis.score = float(det.score)
        out.results = [hypothesis]
        msg.detections.append(out)
    return msg


def detection_3d_array(result: FrameResult, header: Any, vm: ModuleType) -> Any:
    """A ``vision_msgs/Detection3DArray`` of the detections with a valid 3D instance (see the module docstring)."""
    valid = [det for det in result.detections if det.instance_3d is not None and det.instance_3d.valid]
    out_header = type(header)()
    out_header.stamp = header.stamp
    out_header.frame_id = next((det.instance_3d.frame_id for det in valid if det.instance_3d.frame_id), "")
    out_header.frame_id = out_header.frame_id or header.frame_id
    msg = vm.Detection3DArray()
    msg.header = out_header
    for det in valid:
        i3 = det.instance_3d
        out = vm.Detection3D()
        out.header = out_header
        out.id = det.id
        x, y, z = (float(v) for v in i3.position)
        out.bbox.center.position.x, out.bbox.center.position.y, out.bbox.center.position.z = x, y, z
        out.bbox.size.x, out.bbox.size.y, out.bbox.size.z = (float(v) for v in i3.size)
        hypothesis = vm.ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = det.label
        hypothesis.hypothesis.score = float(det.score)
        hypothesis.pose.pose.position.x, hypothesis.pose.pose.position.y, hypothesis.pose.pose.position.z = x, y, z
        out.results = [hypothesis]
        msg.detections.append(out)
    return msg


def label_info(phrases: Sequence[str], header: Any, vm: ModuleType, threshold: float) -> Any:
    """A ``vision_msgs/LabelInfo`` mapping each phrase's position in the query (``class_id``) to the phrase."""
    msg = vm.LabelInfo()
    msg.header = header
    msg.class_map = [vm.VisionClass(class_id=index, class_name=phrase) for index, phrase in enumerate(phrases)]
    msg.threshold = float(threshold)
    return msg
