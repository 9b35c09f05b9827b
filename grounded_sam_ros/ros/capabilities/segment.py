# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``segment`` (grounded_sam_ros/Segment): a given image, or the latest frame, with a given or the current query.

The callback runs on the executor; the inference runs on the node's worker (before the next frame) through the same
hooks as a streamed frame (depth fills the 3D fields), with nothing published. The service always answers:
``success=false`` with a ``message`` when it cannot.
"""

from __future__ import annotations

import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Capability, FrameContext
from grounded_sam_ros.ros.query import clean_query
from grounded_sam_ros.srv import Segment


class SegmentService(Capability):
    """The ``segment`` service of one camera (its latest frame when the request has no image)."""

    def configure(self) -> None:
        self.service(Segment, "segment", self._on_segment, callback_group=MutuallyExclusiveCallbackGroup())

    def _on_segment(self, request: Segment.Request, response: Segment.Response) -> Segment.Response:
        node = self.node
        response.success = False
        try:
            if not node.active:
                response.message = "the node is not active: configure and activate it (ros2 lifecycle set ...)"
                return response
            if request.image.width == 0:
                frame = node.latest_frame(self.camera)
                if frame is None:
                    topic = self.camera.topic("image")
                    response.message = f"no frame received yet on '{topic}'; send one or put an image in the request"
                    return response
            else:
                image_msg = request.image
                frame = FrameContext(self.camera, image_msg.header, time.monotonic(), publish=False, msg=image_msg,
                                     convert=lambda: conversions.image_msg_to_rgb(image_msg))  # fmt: skip
            query = clean_query(request.query) if request.query.strip() else node.query
            if not query:
                response.message = "no query: give one in the request, on the 'query' topic or as the 'query' parameter"
                return response
            frame.image  # noqa: B018 - convert here, so that a bad image is answered as an invalid request
            result = node.run_on_worker(lambda: node.process(frame, query))
            if result is None:
                response.message = "the node is shutting down"
                return response
            response.detections = conversions.result_to_msg(result, frame.header)
            response.success = True
            response.message = f"{len(result.detections)} detection(s) for '{result.query}'"
        except ValueError as exc:
            response.message = f"invalid request: {exc}"
        except Exception as exc:  # noqa: BLE001 - a service answers, it never raises
            node.count_error(self.camera, f"{type(exc).__name__}: {exc}")
            response.message = f"inference failed: {type(exc).__name__}: {exc}"
        if not response.success:
            node.log_throttled(f"segment: {response.message}")
        return response
