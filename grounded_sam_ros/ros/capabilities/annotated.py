# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``annotated_image`` (sensor_msgs/Image rgb8): the frame with masks, boxes and labels drawn, for viewers."""

from __future__ import annotations

from typing import Dict

from sensor_msgs.msg import Image

from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.qos import ANNOTATED_QOS


class AnnotatedImage(Capability):
    """Draws only while someone subscribes (drawing a full frame costs milliseconds nobody would see)."""

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._drawn = 0  # images drawn and published

    def configure(self) -> None:
        self._pub = self.publisher(Image, "annotated_image", ANNOTATED_QOS)

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        if not frame.publish or self._pub.get_subscription_count() == 0:
            return
        from grounded_sam_ros.visualize import annotate

        color_by = "id" if self.node.settings.tracking != "off" else "label"  # one colour per track
        drawn = annotate(frame.image, result, color_by=color_by)
        self._pub.publish(conversions.rgb_to_image_msg(drawn, frame.header))
        self._drawn += 1

    def diagnostics(self) -> Dict[str, str]:
        return {"annotated_images": str(self._drawn)}
