# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bags for tests, written with rosbags' own Writer and standard typestore (independent of grounded_sam_ros.io)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image as PILImage
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_KILTED)
Header = STORE.types["std_msgs/msg/Header"]
Time = STORE.types["builtin_interfaces/msg/Time"]
Image = STORE.types["sensor_msgs/msg/Image"]
CompressedImage = STORE.types["sensor_msgs/msg/CompressedImage"]
String = STORE.types["std_msgs/msg/String"]


def header(stamp_ns: int, frame_id: str = "cam") -> object:
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=frame_id)


def raw_image(rgb: np.ndarray, stamp_ns: int) -> object:
    """An rgb8 Image message of ``rgb`` (HxWx3 uint8)."""
    h, w = rgb.shape[:2]
    return Image(
        header=header(stamp_ns),
        height=h,
        width=w,
        encoding="rgb8",
        is_bigendian=0,
        step=w * 3,
        data=np.ascontiguousarray(rgb).reshape(-1),
    )


def png_image(rgb: np.ndarray, stamp_ns: int) -> object:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="PNG")
    return CompressedImage(header=header(stamp_ns), format="png", data=np.frombuffer(buf.getvalue(), np.uint8))


def frames(count: int, height: int = 48, width: int = 64, seed: int = 0) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(count)]


def write_bag(path: Path, storage: str, topics: Sequence[Tuple[str, str, list]]) -> Path:
    """A rosbag2 directory at ``path``: for each ``(topic, msgtype, [(receive_ns, msg), ...])`` its messages, all
    written in receive-time order."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=STORE) for topic, msgtype, _ in topics}
        events = sorted(
            ((t, topic, msgtype, msg) for topic, msgtype, msgs in topics for t, msg in msgs), key=lambda e: e[0]
        )
        for t, topic, msgtype, msg in events:
            writer.write(conns[topic], t, STORE.serialize_cdr(msg, msgtype))
    return path


def storage_file(bag_dir: Path) -> Path:
    """The one storage file inside a bag directory."""
    (found,) = [p for p in bag_dir.iterdir() if p.suffix in (".mcap", ".db3")]
    return found
