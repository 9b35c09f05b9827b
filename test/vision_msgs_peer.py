# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Second process of the vision_msgs test: subscribes to the node's vision_msgs topics, prints each message as JSON.

Usage: ``python test/vision_msgs_peer.py`` with ``ROS_DOMAIN_ID`` and the environment of a built vision_msgs
(``vision_msgs_workspace.env``) set by the test, which reads the lines ``{"topic": ..., "msg": {...}}`` from stdout.
Runs until SIGINT. ``label_info`` is subscribed reliable + transient local: a latched message arrives even though
this process starts after it was published.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def to_plain(value: Any) -> Any:
    """A ROS message as nested dicts / lists / numbers / strings."""
    if hasattr(value, "get_fields_and_field_types"):
        return {name: to_plain(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def main() -> None:
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo

    rclpy.init()
    node = rclpy.create_node("vision_msgs_peer")
    reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )

    def printer(topic: str):
        def callback(msg) -> None:
            print(json.dumps({"topic": topic, "msg": to_plain(msg)}), flush=True)

        return callback

    node.create_subscription(Detection2DArray, "detections_2d", printer("detections_2d"), reliable)
    node.create_subscription(Detection3DArray, "detections_3d", printer("detections_3d"), reliable)
    node.create_subscription(LabelInfo, "label_info", printer("label_info"), latched)
    print(json.dumps({"topic": "ready"}), flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
