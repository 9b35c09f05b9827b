# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What the node's services (``segment``, ``edit``) share: the frame and the query a request names.

A request carries a ``sensor_msgs/Image`` (width 0 = "the latest frame of this camera") and a query ("" = the node's
current query). :func:`request_inputs` turns both into what the worker needs, or into the one-line reason the service
answers with (``success=false``). Called on the executor thread of the service callback.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Camera, FrameContext, NodeApi
from grounded_sam_ros.ros.query import clean_query

NOT_ACTIVE = "the node is not active: configure and activate it (ros2 lifecycle set ...)"
NO_QUERY = "no query: give one in the request, on the 'query' topic or as the 'query' parameter"


def request_inputs(
    node: NodeApi, camera: Camera, image_msg: Any, query_text: str
) -> Tuple[Optional[FrameContext], str, str]:
    """``(frame, query, "")`` for a request, or ``(None, "", reason)`` when it cannot be served.

    ``frame`` has ``publish=False`` and its image already converted (HxWx3 uint8 RGB), so that a malformed image
    raises ``ValueError`` here, in the callback, and is answered as an invalid request. ``query`` is normalised.
    """
    if not node.active:
        return None, "", NOT_ACTIVE
    if image_msg.width == 0:
        frame = node.latest_frame(camera)
        if frame is None:
            reason = f"no frame received yet on '{camera.topic('image')}'; send one or put an image in the request"
            return None, "", reason
    else:
        frame = FrameContext(camera, image_msg.header, time.monotonic(), publish=False, msg=image_msg,
                             convert=lambda: conversions.image_msg_to_rgb(image_msg))  # fmt: skip
    query = clean_query(query_text) if query_text.strip() else node.query
    if not query:
        return None, "", NO_QUERY
    frame.image  # noqa: B018 - convert now: a bad image is answered as an invalid request
    return frame, query, ""
