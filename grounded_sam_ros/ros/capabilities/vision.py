# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The standard perception messages, when ``vision_msgs`` is installed (``publish_vision_msgs``, on by default).

Topics (in the camera's namespace)::

    detections_2d  vision_msgs/Detection2DArray   out  every frame, header = the source frame's
    detections_3d  vision_msgs/Detection3DArray   out  with use_depth: the detections with a valid 3D instance
    label_info     vision_msgs/LabelInfo          out  reliable + transient local: class_id -> phrase of the query;
                                                       published on activation and whenever the query changes

The mapping is :mod:`grounded_sam_ros.ros.vision_msgs_conv`'s. Without the package the node says so once and
publishes everything else.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional

from std_msgs.msg import Header

from grounded_sam_ros.prompts import parse_query
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import vision_msgs_conv
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS

PARAMS = (
    ParamSpec(
        "publish_vision_msgs",
        True,
        "When the vision_msgs package is installed, also publish 'detections_2d' (Detection2DArray), "
        "'detections_3d' (Detection3DArray, with use_depth) and 'label_info' (LabelInfo, latched).",
        CONFIGURE,
    ),
)


class VisionMsgs(Capability):
    """vision_msgs outputs of one camera (see the module docstring)."""

    PARAMS = PARAMS

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._vm = None
        self._pub_2d = self._pub_3d = self._pub_labels = None
        self._lock = threading.Lock()  # label_info is published from the worker and from the executor
        self._label_query: Optional[str] = None  # the query of the last label_info published
        self._status = "off"

    def configure(self) -> None:
        settings = self.node.settings
        if not settings.publish_vision_msgs:
            return
        self._vm = vision_msgs_conv.load()
        if self._vm is None:
            self._status = "not installed"
            if self.camera.index == 0:
                self.node.get_logger().info(
                    "vision_msgs is not installed: detections_2d, detections_3d and label_info are not published "
                    "(apt install ros-$ROS_DISTRO-vision-msgs)"
                )
            return
        self._status = "on"
        self._pub_2d = self.publisher(self._vm.Detection2DArray, "detections_2d", OUTPUT_QOS)
        if settings.use_depth:
            self._pub_3d = self.publisher(self._vm.Detection3DArray, "detections_3d", OUTPUT_QOS)
        self._pub_labels = self.publisher(self._vm.LabelInfo, "label_info", LATCHED_QOS)

    def cleanup(self) -> None:
        super().cleanup()
        self._vm = None
        self._pub_2d = self._pub_3d = self._pub_labels = None
        self._label_query = None

    def on_activate(self) -> None:
        self._publish_labels(self.node.query, force=True)

    def on_query(self, query: str) -> None:
        if self.node.active:
            self._publish_labels(query)

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        if self._vm is None or not frame.publish:
            return
        self._publish_labels(result.query)  # the labels of what follows (a capability may have set the query)
        self._pub_2d.publish(vision_msgs_conv.detection_2d_array(result, frame.header, self._vm))
        if self._pub_3d is not None:
            self._pub_3d.publish(vision_msgs_conv.detection_3d_array(result, frame.header, self._vm))

    def _publish_labels(self, query: str, force: bool = False) -> None:
        with self._lock:
            if self._pub_labels is None or (query == self._label_query and not force):
                return
            header = Header()
            header.stamp = self.node.get_clock().now().to_msg()
            phrases = parse_query(query) if query else []
            threshold = self.node.settings.box_threshold
            self._pub_labels.publish(vision_msgs_conv.label_info(phrases, header, self._vm, threshold))
            self._label_query = query

    def diagnostics(self) -> Dict[str, str]:
        return {"vision_msgs": self._status}
