# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ROS messages from human meshes: ``HumanMeshArray`` and RViz ``TRIANGLE_LIST`` markers (no rclpy).

Frames: everything is in the colour camera's optical frame (x right, y down, z forward), stamped with the caller's
header (the source image's).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Set

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from grounded_sam_ros.geometry import instance_id
from grounded_sam_ros.mesh.estimator import HumanMesh
from grounded_sam_ros.msg import HumanMesh as HumanMeshMsg
from grounded_sam_ros.msg import HumanMeshArray
from grounded_sam_ros.ros.geometry_msgs_conv import label_color

MARKER_NAMESPACE = "grounded_sam/human_mesh"


def _header(header: Header) -> Header:
    out = Header(frame_id=header.frame_id)
    out.stamp.sec, out.stamp.nanosec = header.stamp.sec, header.stamp.nanosec
    return out


def mesh_to_msg(mesh: HumanMesh, with_vertices: bool = True) -> HumanMeshMsg:
    msg = HumanMeshMsg()
    msg.detection_id, msg.label, msg.camera = str(mesh.id), mesh.label, mesh.camera
    msg.box = np.asarray(mesh.box, dtype=np.float32)
    msg.crop = np.asarray(mesh.crop, dtype=np.float32)
    for field, key in (("root_pose", "root_pose"), ("body_pose", "body_pose"), ("left_hand_pose", "lhand_pose"),
                       ("right_hand_pose", "rhand_pose"), ("jaw_pose", "jaw_pose"), ("betas", "betas"),
                       ("expression", "expression")):  # fmt: skip
        setattr(msg, field, np.asarray(mesh.params[key], dtype=np.float32))
    t, root = mesh.translation, mesh.joints[0]
    msg.translation.x, msg.translation.y, msg.translation.z = (float(v) for v in t)
    msg.root_joint.x, msg.root_joint.y, msg.root_joint.z = (float(v) for v in root)
    k = mesh.intrinsics
    msg.intrinsics = np.array([k.fx, k.fy, k.cx, k.cy], dtype=np.float32)
    if with_vertices:
        msg.vertices = np.asarray(mesh.vertices, dtype=np.float32).reshape(-1)
    return msg


def meshes_to_msg(
    meshes: Sequence[HumanMesh], header: Header, width: int, height: int, with_vertices: bool = True
) -> HumanMeshArray:
    return HumanMeshArray(
        header=_header(header),
        image_width=int(width),
        image_height=int(height),
        meshes=[mesh_to_msg(m, with_vertices) for m in meshes],
    )


def mesh_markers(
    meshes: Sequence[HumanMesh], faces: np.ndarray, header: Header, previous_ids: Optional[Iterable[int]] = None
) -> MarkerArray:
    """One ``TRIANGLE_LIST`` per mesh (id = :func:`instance_id` of its detection id, coloured by label) and a
    ``DELETE`` for every id in ``previous_ids`` that is not drawn now (people who left)."""
    out = MarkerArray()
    stamp_header = _header(header)
    drawn: Set[int] = set()
    for mesh in meshes:
        marker = Marker(header=stamp_header, ns=MARKER_NAMESPACE, id=instance_id(mesh.id), type=Marker.TRIANGLE_LIST)
        marker.action = Marker.ADD
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = 1.0
        marker.color = label_color(mesh.label, 0.8)
        corners = np.asarray(mesh.vertices, dtype=np.float64)[np.asarray(faces).reshape(-1)]
        marker.points = [Point(x=x, y=y, z=z) for x, y, z in corners.tolist()]
        out.markers.append(marker)
        drawn.add(marker.id)
    for gone in sorted(set(previous_ids or ()) - drawn):
        out.markers.append(Marker(header=stamp_header, ns=MARKER_NAMESPACE, id=gone, action=Marker.DELETE))
    return out


def marker_ids(meshes: Sequence[HumanMesh]) -> Set[int]:
    """The ids :func:`mesh_markers` draws for these meshes (the next frame's ``previous_ids``)."""
    return {instance_id(m.id) for m in meshes}
