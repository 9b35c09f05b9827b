# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""3D instances from a registered depth image (``use_depth``): fills each detection's 3D fields, publishes markers.

Topics (in the camera's namespace)::

    depth/image        sensor_msgs/Image 16UC1/32FC1     in   QoS as image, keep last 5
    depth/camera_info  sensor_msgs/CameraInfo            in   best effort (matches any publisher)
    detections_markers visualization_msgs/MarkerArray    out  a box + label per 3D instance
    instances_cloud    sensor_msgs/PointCloud2           out  when publish_cloud, while someone subscribes

The subscription callbacks only store the messages in a :class:`DepthFusion`; after the pipeline's result the worker
pairs the frame with the depth image closest in stamp (within ``depth_slop``) and measures each instance there (pure
:mod:`grounded_sam_ros.geometry`). A frame without matching depth keeps its 2D detections (``has_3d`` false) and the
diagnostics say why. Registered before the outputs, so that ``detections`` carries the 3D fields.
"""

from __future__ import annotations

from typing import Dict, Optional, Set

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from grounded_sam_ros.geometry import DepthFilter
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import depth_fusion
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.depth_fusion import DepthFusion, FusionOutcome, stamp_ns
from grounded_sam_ros.ros.geometry_msgs_conv import (
    markers_from_detections,
    pointcloud_from_points,
    published_marker_ids,
)
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.ros.qos import ANNOTATED_QOS, CAMERA_INFO_QOS, OUTPUT_QOS, depth_qos

DEPTH_WAIT_S = 0.1  # after inference, how long a frame waits for a matching depth image that may still be coming
DEPTH_MAX_LAG_S = 1.0  # ...unless the newest depth image is older than the frame by more than this (stream stalled)

PARAMS = (
    ParamSpec(
        "use_depth",
        False,
        "Subscribe to 'depth/image' (16UC1 mm or 32FC1 m, registered to the colour image) and 'depth/camera_info', "
        "and fill each detection's 3D fields and 'detections_markers'.",
        CONFIGURE,
    ),
    ParamSpec(
        "depth_slop",
        0.05,
        "A depth image is fused with a colour frame only if their header stamps differ by at most this many seconds.",
        low=0.0,
        high=5.0,
    ),
    ParamSpec(
        "depth_scale",
        0.0,
        "Metres per raw depth unit (e.g. 0.00025 for quarter-millimetre 16UC1); 0 = from the encoding "
        "(16UC1: 0.001, 32FC1: 1).",
        low=0.0,
        high=100.0,
    ),
    ParamSpec(
        "depth_min_points",
        30,
        "An instance needs at least this many valid depth pixels under its mask to get a 3D position (has_3d).",
        low=1,
        high=1_000_000,
    ),
    ParamSpec(
        "publish_cloud",
        False,
        "Also publish 'instances_cloud' (sensor_msgs/PointCloud2: x, y, z, instance) while someone subscribes.",
        CONFIGURE,
    ),
    ParamSpec(
        "cloud_stride",
        1,
        "Keep every n-th point of each instance in 'instances_cloud' (1 = all).",
        low=1,
        high=1000,
    ),
)


class Depth3D(Capability):
    """Depth fusion for one camera (see the module docstring)."""

    PARAMS = PARAMS

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._fusion = DepthFusion()
        self._enabled = False
        self._markers_pub = None
        self._cloud_pub = None
        self._marker_ids: Set[int] = set()  # marker ids on screen (published last frame), for the DELETEs
        self._marker_frame = ""

    def configure(self) -> None:
        settings = self.node.settings
        self._enabled = settings.use_depth
        if not self._enabled:
            return
        self._markers_pub = self.publisher(MarkerArray, "detections_markers", OUTPUT_QOS)
        if settings.publish_cloud:
            self._cloud_pub = self.publisher(PointCloud2, "instances_cloud", ANNOTATED_QOS)
        group = MutuallyExclusiveCallbackGroup()
        qos = depth_qos(settings.image_reliability)
        self.subscription(Image, "depth/image", self._fusion.add_depth, qos, callback_group=group)
        self.subscription(CameraInfo, "depth/camera_info", self._fusion.add_camera_info, CAMERA_INFO_QOS,
                          callback_group=group)  # fmt: skip

    def cleanup(self) -> None:
        super().cleanup()
        self._markers_pub = self._cloud_pub = None
        self._fusion.clear()
        self._marker_ids = set()

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        if not self._enabled:
            return
        cloud_pub = self._cloud_pub if frame.publish else None
        want_cloud = cloud_pub is not None and cloud_pub.get_subscription_count() > 0
        outcome = self._fuse(result, frame.header, want_cloud)
        if frame.publish:
            self._publish(result, frame.header, outcome, cloud_pub if want_cloud else None)

    def _fuse(self, result: FrameResult, header: Header, want_cloud: bool) -> FusionOutcome:
        """Fill the detections' 3D fields from the depth image matching ``header``'s stamp; never raises."""
        settings = self.node.settings
        try:
            outcome = self._fusion.fuse(
                result.detections,
                stamp_ns(header.stamp),
                (result.image_width, result.image_height),
                slop_s=settings.depth_slop,
                depth_filter=DepthFilter(min_points=settings.depth_min_points),
                scale=settings.depth_scale,
                cloud_stride=settings.cloud_stride if want_cloud else 0,
                wait_s=DEPTH_WAIT_S,
                max_lag_s=DEPTH_MAX_LAG_S,
            )
        except Exception as exc:  # noqa: BLE001 - a 3D failure must not lose the 2D detections
            for det in result.detections:
                det.instance_3d = None
            outcome = self._fusion.missed(depth_fusion.FAILED, f"3D step failed: {type(exc).__name__}: {exc}")
        if not outcome.fused:
            self.node.log_throttled(f"no 3D for this frame: {outcome.reason}")
        return outcome

    def _publish(self, result: FrameResult, header: Header, depth: FusionOutcome, cloud_pub) -> None:
        """Markers (and the cloud) for a frame, stamped like the colour frame, in the depth optical frame."""
        if depth.fused:
            self._marker_frame = depth.frame_id
        out_header = Header(frame_id=self._marker_frame or header.frame_id)
        out_header.stamp = header.stamp
        color_by = "id" if self.node.settings.tracking != "off" else "label"  # one colour per track
        markers = markers_from_detections(
            result.detections, out_header, previous_ids=self._marker_ids, color_by=color_by
        )
        self._marker_ids = published_marker_ids(result.detections)
        if markers.markers:
            self._markers_pub.publish(markers)
        if cloud_pub is not None:
            points, ids = depth.points, depth.ids
            if points is None:  # no depth: an empty cloud clears the last one
                points, ids = np.zeros((0, 3), np.float32), np.zeros(0, np.uint32)
            cloud_pub.publish(pointcloud_from_points(points, ids, out_header))

    def diagnostics(self) -> Dict[str, str]:
        values = self._fusion.snapshot()
        if not self._enabled:
            values["depth_status"] = "off"
        return {"use_depth": str(self._enabled).lower(), **values}

    def warning(self) -> Optional[str]:
        if not self._enabled:
            return None
        values = self._fusion.snapshot()
        if values["depth_status"] in (depth_fusion.OK, depth_fusion.WAITING):
            return None
        return f"no 3D: {values['last_depth_error'][:200]}"
