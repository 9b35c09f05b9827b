# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ROS messages from 3D results: marker poses and deletes, point cloud bytes (no rclpy.init needed)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, PointField
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from grounded_sam_ros.geometry import instance_id
from grounded_sam_ros.results import Detection, Instance3D
from grounded_sam_ros.ros.geometry_msgs_conv import (
    MIN_MARKER_SCALE,
    decode_pointcloud,
    intrinsics_from_camera_info,
    markers_from_detections,
    pointcloud_from_points,
    published_marker_ids,
)


def header(frame="camera_color_optical_frame", sec=12, nanosec=345):
    h = Header(frame_id=frame)
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def det(det_id, label, position, size, valid=True, score=0.8):
    inst = Instance3D(
        position=np.asarray(position, np.float32), size=np.asarray(size, np.float32), num_points=100, valid=valid
    )
    return Detection(label=label, score=score, box=np.zeros(4, np.float32), id=det_id, instance_3d=inst)


# Point cloud


def test_pointcloud_layout_and_bytes_round_trip():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3)).astype(np.float32)
    ids = rng.integers(0, 2**32 - 1, 50, dtype=np.uint64).astype(np.uint32)
    msg = pointcloud_from_points(points, ids, header())
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ("x", 0, PointField.FLOAT32, 1),
        ("y", 4, PointField.FLOAT32, 1),
        ("z", 8, PointField.FLOAT32, 1),
        ("instance", 12, PointField.UINT32, 1),
    ]
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (1, 50, 16, 800)
    assert msg.is_dense and len(msg.data) == 800
    assert msg.header.frame_id == "camera_color_optical_frame" and msg.header.stamp.sec == 12
    # Decode independently of the module, with struct and the advertised byte order
    order = ">" if msg.is_bigendian else "<"
    raw = bytes(msg.data)
    for i in (0, 17, 49):
        x, y, z, inst = struct.unpack_from(order + "fffI", raw, i * msg.point_step)
        np.testing.assert_array_equal(np.float32([x, y, z]), points[i])
        assert inst == ids[i]
    # And the module's own decoder
    pts2, ids2 = decode_pointcloud(msg)
    np.testing.assert_array_equal(pts2, points)
    np.testing.assert_array_equal(ids2, ids)


def test_pointcloud_drops_non_finite_points_and_handles_empty():
    points = np.array([[0, 0, 1], [np.nan, 0, 1], [1, 2, 3]], np.float32)
    msg = pointcloud_from_points(points, np.array([1, 2, 3], np.uint32), header())
    pts, ids = decode_pointcloud(msg)
    np.testing.assert_array_equal(pts, points[[0, 2]])
    np.testing.assert_array_equal(ids, [1, 3])
    empty = pointcloud_from_points(np.zeros((0, 3), np.float32), np.zeros(0, np.uint32), header())
    assert empty.width == 0 and len(empty.data) == 0 and empty.is_dense


def test_pointcloud_rejects_bad_shapes():
    with pytest.raises(ValueError):
        pointcloud_from_points(np.zeros((4, 2), np.float32), np.zeros(4, np.uint32), header())
    with pytest.raises(ValueError):
        pointcloud_from_points(np.zeros((4, 3), np.float32), np.zeros(3, np.uint32), header())


# Markers


def test_markers_carry_pose_size_colour_and_label():
    dets = [
        det("3", "red cup", (0.1, -0.2, 1.5), (0.08, 0.12, 0.06)),
        det("box_1", "box", (-0.3, 0.1, 2.0), (0.3, 0.2, 0.0)),
    ]
    arr = markers_from_detections(dets, header(), previous_ids=None)
    cubes = [m for m in arr.markers if m.type == Marker.CUBE]
    texts = [m for m in arr.markers if m.type == Marker.TEXT_VIEW_FACING]
    assert len(cubes) == 2 and len(texts) == 2 and len(arr.markers) == 4
    cup, box = cubes
    assert cup.id == 3 and box.id == instance_id("box_1")
    assert cup.ns == "grounded_sam" and texts[0].ns == "grounded_sam/labels"
    assert cup.action == Marker.ADD and cup.header.frame_id == "camera_color_optical_frame"
    assert (cup.header.stamp.sec, cup.header.stamp.nanosec) == (12, 345)
    p = cup.pose.position
    np.testing.assert_allclose([p.x, p.y, p.z], [0.1, -0.2, 1.5], atol=1e-6)
    assert (cup.pose.orientation.x, cup.pose.orientation.y, cup.pose.orientation.z, cup.pose.orientation.w) == (
        0.0,
        0.0,
        0.0,
        1.0,
    )
    np.testing.assert_allclose([cup.scale.x, cup.scale.y, cup.scale.z], [0.08, 0.12, 0.06], atol=1e-6)
    # A flat face still gets a drawable cube
    assert box.scale.z == pytest.approx(MIN_MARKER_SCALE)
    assert 0 < cup.color.a < 1 and cup.color != box.color
    # Same label, same colour, in every frame
    again = markers_from_detections([det("9", "red cup", (0, 0, 1), (0.1, 0.1, 0.1))], header())
    assert again.markers[0].color == cup.color
    # Label text above the cube (smaller y in the optical frame), same x/z
    assert texts[0].text == "red cup 0.80" and texts[0].id == 3
    t = texts[0].pose.position
    assert t.y < -0.2 - 0.06 and (t.x, t.z) == pytest.approx((0.1, 1.5))


def test_markers_delete_instances_that_disappear():
    frame1 = [det("1", "cup", (0, 0, 1), (0.1, 0.1, 0.1)), det("2", "cup", (0.2, 0, 1), (0.1, 0.1, 0.1))]
    prev = published_marker_ids(frame1)
    assert prev == {1, 2}
    # Frame 2: "1" is gone, "2" has no valid 3D any more, "5" is new
    frame2 = [
        det("2", "cup", (np.nan,) * 3, (np.nan,) * 3, valid=False),
        det("5", "bowl", (0, 0.1, 1.2), (0.2, 0.1, 0.1)),
    ]
    arr = markers_from_detections(frame2, header(), previous_ids=prev)
    deletes = [(m.ns, m.id) for m in arr.markers if m.action == Marker.DELETE]
    assert sorted(deletes) == sorted(
        [("grounded_sam", 1), ("grounded_sam/labels", 1), ("grounded_sam", 2), ("grounded_sam/labels", 2)]
    )
    adds = [(m.ns, m.id) for m in arr.markers if m.action == Marker.ADD]
    assert sorted(adds) == [("grounded_sam", 5), ("grounded_sam/labels", 5)]
    # Deletes come before the adds
    actions = [m.action for m in arr.markers]
    assert actions == sorted(actions, key=lambda a: a != Marker.DELETE)
    assert published_marker_ids(frame2) == {5}
    # An instance that stays is updated in place, not deleted
    arr3 = markers_from_detections(frame2, header(), previous_ids={5})
    assert all(m.action == Marker.ADD for m in arr3.markers)


def test_markers_reject_duplicate_ids():
    dets = [det("1", "cup", (0, 0, 1), (0.1, 0.1, 0.1)), det("1", "cup", (0, 0, 1), (0.1, 0.1, 0.1))]
    with pytest.raises(ValueError, match="unique"):
        markers_from_detections(dets, header())


def test_marker_lifetime():
    arr = markers_from_detections([det("1", "cup", (0, 0, 1), (0.1, 0.1, 0.1))], header(), lifetime_s=1.5)
    assert (arr.markers[0].lifetime.sec, arr.markers[0].lifetime.nanosec) == (1, 500_000_000)


def test_intrinsics_from_camera_info():
    info = CameraInfo(width=640, height=480)
    info.k = [600.0, 0.0, 320.5, 0.0, 590.0, 240.25, 0.0, 0.0, 1.0]
    intr = intrinsics_from_camera_info(info)
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (600.0, 590.0, 320.5, 240.25, 640, 480)
    info.binning_x = 2
    with pytest.raises(ValueError, match="binning"):
        intrinsics_from_camera_info(info)
    with pytest.raises(ValueError, match="calibrated"):
        intrinsics_from_camera_info(CameraInfo(width=640, height=480))
