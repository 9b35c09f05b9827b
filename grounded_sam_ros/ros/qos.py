# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The QoS profiles of the node's topics, shared by the node and its capabilities."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def image_qos(reliability: str) -> QoSProfile:
    """Keep only the newest frame; best effort (sensor data) unless ``reliability == 'reliable'``."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def depth_qos(reliability: str) -> QoSProfile:
    """Like :func:`image_qos` but keeping 5 frames, so that the depth matching a colour frame is still there."""
    qos = image_qos(reliability)
    qos.depth = 5
    return qos


# Reliable and transient local: a late subscriber gets the last message (queries, label maps)
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
QUERY_QOS = LATCHED_QOS
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
ANNOTATED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
CAMERA_INFO_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
