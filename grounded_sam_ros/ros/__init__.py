# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 side: message conversions, the node, the sample camera and the demo.

Nothing here is imported by the pipeline. ``conversions`` needs the message packages but not ``rclpy``; the node
modules need ``rclpy``. This file imports nothing, so ``import grounded_sam_ros.ros.conversions`` stays cheap.
"""
