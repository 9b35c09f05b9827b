# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``detections`` (grounded_sam_ros/DetectionArray): every frame's result, stamped with the source frame's header."""

from __future__ import annotations

from grounded_sam_ros.msg import DetectionArray
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Capability, FrameContext
from grounded_sam_ros.ros.qos import OUTPUT_QOS


class Detections(Capability):
    """Publishes each result as a DetectionArray (masks cropped to their boxes, 3D fields when depth filled them)."""

    def configure(self) -> None:
        self._pub = self.publisher(DetectionArray, "detections", OUTPUT_QOS)

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        if frame.publish:
            self._pub.publish(conversions.result_to_msg(result, frame.header))
