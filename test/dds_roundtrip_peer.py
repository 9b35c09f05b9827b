# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Second process of the DDS round-trip test: publishes a known DetectionArray until told to stop.

Usage: ``python test/dds_roundtrip_peer.py TOPIC [SECONDS]`` with ``ROS_DOMAIN_ID`` set by the test. The message is
built by :func:`build_result` through the real conversions; the test knows the same values independently.
Publishes every 0.2 s (reliable QoS) for at most SECONDS (default 30), then exits; the test kills it earlier.
"""

from __future__ import annotations

import sys
import time

import numpy as np

# Geometry of the published frame, shared with the test by value (not by import of anything computed)
IMAGE_W, IMAGE_H = 640, 480
CROP_W, CROP_H = 300, 200  # large enough that the message is fragmented over DDS (~60 kB of mask)
CROP_X, CROP_Y = 17, 33


def crop_pattern() -> np.ndarray:
    """The first detection's (CROP_H, CROP_W) bool crop: pixel (y, x) inside when (x * y) % 7 == 0."""
    ys, xs = np.mgrid[0:CROP_H, 0:CROP_W]
    crop = (xs * ys) % 7 == 0
    # Tight box: the pattern already has row 0 and column 0 full, and the far row/column set here
    crop[-1, :] = True
    crop[:, -1] = True
    return crop


def build_result():
    from grounded_sam_ros.results import Detection, FrameResult, Instance3D

    first = Detection(
        label="red cup",
        score=0.875,
        box=np.array([17.0, 33.0, 316.5, 232.25], np.float32),
        mask=crop_pattern(),
        mask_x=CROP_X,
        mask_y=CROP_Y,
        mask_score=0.75,
        id="7",
        instance_3d=Instance3D(
            position=np.array([0.5, -0.25, 2.0], np.float32),
            size=np.array([0.125, 0.25, 0.0625], np.float32),
            num_points=4321,
            valid=True,
            frame_id="depth_optical_frame",
        ),
    )
    second = Detection(
        label="person",
        score=0.5,
        box=np.array([600.0, 400.0, 640.0, 480.0], np.float32),
        mask=np.ones((1, 1), bool),
        mask_x=639,
        mask_y=479,
        mask_score=0.25,
        id="8",
    )
    return FrameResult(image_width=IMAGE_W, image_height=IMAGE_H, query="red cup . person", detections=[first, second])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    topic = argv[0]
    seconds = float(argv[1]) if len(argv) > 1 else 30.0

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Header

    from grounded_sam_ros.msg import DetectionArray
    from grounded_sam_ros.ros.conversions import result_to_msg

    header = Header(frame_id="camera_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 1234, 5678
    msg = result_to_msg(build_result(), header)

    rclpy.init()
    try:
        node = rclpy.create_node("dds_roundtrip_peer")
        pub = node.create_publisher(DetectionArray, topic, QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        print("peer ready", flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if pub.get_subscription_count() > 0:
                pub.publish(msg)
            time.sleep(0.2)
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
