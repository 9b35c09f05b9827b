# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking: stable ids across frames (modes ``iou`` and ``sam2``). No ROS here.

One module per concern: ``config`` (TrackerConfig), ``association`` (IoU + optimal assignment), ``iou_tracker``,
``video`` (SAM 2 / EdgeTAM video propagation with bounded memory), ``sam2_tracker`` (key frames + propagation),
``stream`` (StreamTracker, the per-frame entry point). Importing this package does not import torch.
"""

from grounded_sam_ros.tracking.config import TrackerConfig
from grounded_sam_ros.tracking.stream import StreamTracker, TrackerStats, build_tracker

__all__ = ["StreamTracker", "TrackerConfig", "TrackerStats", "build_tracker"]
