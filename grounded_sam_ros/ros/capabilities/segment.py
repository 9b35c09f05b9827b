# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``segment`` (grounded_sam_ros/Segment): a given image, or the latest frame, with a given or the current query.

The callback runs on the executor; the inference runs on the node's worker (before the next frame) through the same
hooks as a streamed frame (depth fills the 3D fields), with nothing published. The service always answers:
``success=false`` with a ``message`` when it cannot.
"""

from __future__ import annotations

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Capability
from grounded_sam_ros.ros.capabilities.requests import request_inputs
from grounded_sam_ros.srv import Segment


class SegmentService(Capability):
    """The ``segment`` service of one camera (its latest frame when the request has no image)."""

    def configure(self) -> None:
        self.service(Segment, "segment", self._on_segment, callback_group=MutuallyExclusiveCallbackGroup())

    def _on_segment(self, request: Segment.Request, response: Segment.Response) -> Segment.Response:
        node = self.node
        response.success = False
        try:
            frame, query, reason = request_inputs(node, self.camera, request.image, request.query)
            if frame is None:
                response.message = reason
                return response
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
