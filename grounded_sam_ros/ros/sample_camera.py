# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``sample_camera``: publishes the shipped sample photos in a loop on ``image``, like a camera driver would.

Parameters: ``rate`` (Hz), ``encoding`` (bgr8 or rgb8), ``reliability`` (best_effort or reliable), ``frame_id``,
``image_dir`` (a folder of .jpg/.png to publish instead of the shipped photos), ``count`` (stop after this many
frames; 0 = loop forever).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from grounded_sam_ros.data import load_image, sample_images
from grounded_sam_ros.ros.conversions import rgb_to_image_msg

ENCODINGS = ("bgr8", "rgb8")
RELIABILITIES = ("best_effort", "reliable")


def load_frames(image_dir: str = "") -> List[Tuple[str, np.ndarray]]:
    """(name, HxWx3 uint8 RGB) for each photo in ``image_dir``, or the shipped samples when it is empty."""
    if image_dir:
        folder = Path(image_dir).expanduser()
        if not folder.is_dir():
            raise ValueError(f"image_dir {image_dir!r} is not a directory")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise ValueError(f"image_dir {image_dir!r} holds no .jpg/.jpeg/.png file")
    else:
        paths = sample_images()
    return [(p.name, load_image(p)) for p in paths]


class SampleCamera(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sample_camera", **kwargs)
        rate = self.declare_parameter("rate", 2.0, ParameterDescriptor(description="frames per second")).value
        self._encoding = self.declare_parameter(
            "encoding", "bgr8", ParameterDescriptor(description="bgr8 or rgb8", read_only=True)
        ).value
        reliability = self.declare_parameter(
            "reliability", "best_effort", ParameterDescriptor(description="best_effort or reliable", read_only=True)
        ).value
        self._frame_id = self.declare_parameter("frame_id", "camera_color_optical_frame").value
        image_dir = self.declare_parameter(
            "image_dir", "", ParameterDescriptor(description="folder of images ('' = shipped samples)")
        ).value
        self._count = self.declare_parameter(
            "count", 0, ParameterDescriptor(description="stop after this many frames (0 = loop forever)")
        ).value
        if self._encoding not in ENCODINGS:
            raise ValueError(f"encoding={self._encoding!r}: expected one of {', '.join(ENCODINGS)}")
        if reliability not in RELIABILITIES:
            raise ValueError(f"reliability={reliability!r}: expected one of {', '.join(RELIABILITIES)}")
        if not rate > 0.0:
            raise ValueError(f"rate={rate!r}: expected frames per second > 0")
        self._frames = load_frames(image_dir)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.VOLATILE,
        )
        self._pub = self.create_publisher(Image, "image", qos)
        self._sent = 0
        self.done = False
        self.create_timer(1.0 / rate, self._tick)
        names = ", ".join(name for name, _ in self._frames)
        self.get_logger().info(f"publishing {names} on {self._pub.topic_name} at {rate:g} Hz ({self._encoding})")

    def _tick(self) -> None:
        if self.done:
            return
        name, image = self._frames[self._sent % len(self._frames)]
        msg = rgb_to_image_msg(image, encoding=self._encoding)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._frame_id
        self._pub.publish(msg)
        self._sent += 1
        if self._count and self._sent >= self._count:
            self.done = True
            self.get_logger().info(f"published {self._sent} frames; done")


def main(args: Optional[List[str]] = None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = SampleCamera()
        while rclpy.ok() and not node.done:
            rclpy.spin_once(node, timeout_sec=0.5)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
