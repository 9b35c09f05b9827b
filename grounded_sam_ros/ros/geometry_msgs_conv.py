# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ROS messages from 3D geometry results: RViz markers and an instance point cloud (no rclpy).

Frames: every message is stamped with the ``header`` given by the caller, which should carry the depth camera's
optical frame (x right, y down, z forward) — the frame :mod:`grounded_sam_ros.geometry` measures in.
"""

from __future__ import annotations

import array
import colorsys
import sys
import zlib
from typing import Iterable, Optional, Set, Tuple

import numpy as np
from builtin_interfaces.msg import Duration
from sensor_msgs.msg import CameraInfo, PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from grounded_sam_ros.geometry import CameraIntrinsics, instance_id
from grounded_sam_ros.results import Detection

CUBE_ALPHA = 0.4
MIN_MARKER_SCALE = 0.005  # metres: RViz rejects markers with a zero scale (a flat face has ~0 depth extent)
POINT_STEP = 16
_POINT_DTYPE = np.dtype(
    {"names": ["x", "y", "z", "instance"], "formats": ["=f4", "=f4", "=f4", "=u4"], "offsets": [0, 4, 8, 12]}
)


def intrinsics_from_camera_info(info: CameraInfo) -> CameraIntrinsics:
    """:class:`CameraIntrinsics` of a ``sensor_msgs/CameraInfo`` (rectified, full-frame; K = the ``k`` field)."""
    if info.binning_x > 1 or info.binning_y > 1 or info.roi.width or info.roi.height:
        raise ValueError(
            f"CameraInfo has binning {info.binning_x}x{info.binning_y} / ROI {info.roi.width}x{info.roi.height}: "
            "only full-frame, unbinned images are supported; disable binning/ROI in the camera driver"
        )
    return CameraIntrinsics.from_k(list(info.k), int(info.width), int(info.height))


def label_color(label: str, alpha: float = 1.0) -> ColorRGBA:
    """A saturated colour that is the same for a label in every run (hue from the label's CRC-32)."""
    hue = (zlib.crc32(label.encode("utf-8")) % 360) / 360.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.8, 0.95)
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(alpha))


def published_marker_ids(detections: Iterable[Detection]) -> Set[int]:
    """Marker ids that :func:`markers_from_detections` adds for these detections (pass them as the next frame's
    ``previous_ids``)."""
    return {instance_id(d.id) for d in detections if d.instance_3d is not None and d.instance_3d.valid}


def _copy_header(header: Header) -> Header:
    out = Header(frame_id=header.frame_id)
    out.stamp.sec = header.stamp.sec
    out.stamp.nanosec = header.stamp.nanosec
    return out


def markers_from_detections(
    detections: Iterable[Detection],
    header: Header,
    previous_ids: Optional[Iterable[int]] = None,
    namespace: str = "grounded_sam",
    text_height: float = 0.05,
    lifetime_s: float = 0.0,
    color_by: str = "label",
) -> MarkerArray:
    """RViz markers for the detections with a valid :class:`~grounded_sam_ros.results.Instance3D`.

    Each such detection gets a semi-transparent ``CUBE`` (namespace ``namespace``) at ``instance_3d.position`` with
    scale ``instance_3d.size`` (each side at least 5 mm, so RViz draws flat faces), coloured by label, and a
    ``TEXT_VIEW_FACING`` "label score" (namespace ``namespace + "/labels"``) just above the cube (smaller y in the
    optical frame). Marker ids are :func:`~grounded_sam_ros.geometry.instance_id` of the detection id, so an instance
    keeps its marker while its id stays the same.

    Clearing: for every id in ``previous_ids`` (the marker ids published last frame, see :func:`published_marker_ids`)
    that is not published now, a ``DELETE`` is emitted in both namespaces before the adds. Explicit deletes, rather
    than a leading ``DELETEALL``, leave other publishers' markers alone and do not make RViz flicker. ``lifetime_s``
    > 0 also makes RViz drop markers that stop being refreshed (a safety net if the node dies); 0 keeps them.
    ``color_by="id"`` (tracking) colours each instance by its id instead of its label, and its text is "#id label".
    """
    dets = [d for d in detections if d.instance_3d is not None and d.instance_3d.valid]
    ids = [instance_id(d.id) for d in dets]
    if len(set(ids)) != len(ids):
        raise ValueError(f"detection ids {[d.id for d in dets]} are not unique: each marker needs its own id")
    if not text_height > 0:
        raise ValueError(f"text_height={text_height!r}: expected metres > 0")
    text_ns = f"{namespace}/labels"
    if not lifetime_s >= 0:
        raise ValueError(f"lifetime_s={lifetime_s!r}: expected seconds >= 0 (0 = forever)")
    lifetime = Duration(sec=int(lifetime_s), nanosec=round((lifetime_s - int(lifetime_s)) * 1e9) % 1_000_000_000)
    out = MarkerArray()

    # Delete the markers of instances that are gone
    gone = sorted({int(i) for i in (previous_ids or ())} - set(ids))
    for marker_id in gone:
        for ns in (namespace, text_ns):
            out.markers.append(Marker(header=_copy_header(header), ns=ns, id=marker_id, action=Marker.DELETE))

    # A cube and a label per instance
    for det, marker_id in zip(dets, ids):
        pos = np.asarray(det.instance_3d.position, dtype=np.float64)
        size = np.maximum(np.asarray(det.instance_3d.size, dtype=np.float64), MIN_MARKER_SCALE)
        cube = Marker(header=_copy_header(header), ns=namespace, id=marker_id, type=Marker.CUBE, action=Marker.ADD)
        cube.pose.position.x, cube.pose.position.y, cube.pose.position.z = (float(v) for v in pos)
        cube.pose.orientation.w = 1.0
        cube.scale.x, cube.scale.y, cube.scale.z = (float(v) for v in size)
        key = f"id:{det.id}" if color_by == "id" else det.label
        cube.color = label_color(key, CUBE_ALPHA)
        cube.lifetime = lifetime
        out.markers.append(cube)

        text = Marker(
            header=_copy_header(header), ns=text_ns, id=marker_id, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD
        )
        text.pose.position.x = float(pos[0])
        text.pose.position.y = float(pos[1] - size[1] / 2.0 - text_height)
        text.pose.position.z = float(pos[2])
        text.pose.orientation.w = 1.0
        text.scale.z = float(text_height)
        text.color = label_color(key, 1.0)
        text.text = f"{'#' + det.id + ' ' if color_by == 'id' else ''}{det.label} {det.score:.2f}"
        text.lifetime = lifetime
        out.markers.append(text)
    return out


def pointcloud_from_points(points: np.ndarray, instance_ids: np.ndarray, header: Header) -> PointCloud2:
    """An unorganised ``PointCloud2`` (height 1) with fields x, y, z (float32, metres) and instance (uint32).

    points: Nx3 float32 metres in ``header.frame_id``; instance_ids: (N,) uint32, e.g. from
    :func:`grounded_sam_ros.geometry.instance_points`. Points with a non-finite coordinate are dropped, so the cloud
    is dense. Layout: point_step 16 (x@0, y@4, z@8, instance@12), host byte order.
    """
    pts = np.asarray(points)
    ids = np.asarray(instance_ids)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must be Nx3, got shape {pts.shape}")
    if ids.shape != (pts.shape[0],):
        raise ValueError(f"instance_ids must have shape ({pts.shape[0]},) to match the points, got {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() > 0xFFFFFFFF):
        raise ValueError("instance_ids must fit in uint32")
    finite = np.isfinite(pts).all(axis=1)
    if not finite.all():
        pts, ids = pts[finite], ids[finite]

    # Pack the records
    packed = np.empty(pts.shape[0], dtype=_POINT_DTYPE)
    packed["x"], packed["y"], packed["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    packed["instance"] = ids
    data = array.array("B")
    data.frombytes(packed.tobytes())

    msg = PointCloud2(header=_copy_header(header), height=1, width=int(pts.shape[0]))
    msg.fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
        PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
        PointField(name="instance", offset=12, datatype=PointField.UINT32, count=1),
    ]
    msg.is_bigendian = sys.byteorder == "big"
    msg.point_step = POINT_STEP
    msg.row_step = POINT_STEP * int(pts.shape[0])
    msg.data = data
    msg.is_dense = True
    return msg


def decode_pointcloud(msg: PointCloud2) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pointcloud_from_points`: ``(points Nx3 float32, instance_ids (N,) uint32)``."""
    names = {f.name: f for f in msg.fields}
    missing = {"x", "y", "z", "instance"} - set(names)
    if missing:
        raise ValueError(f"PointCloud2 lacks field(s) {', '.join(sorted(missing))}")
    order = ">" if msg.is_bigendian else "<"
    dtype = np.dtype(
        {
            "names": ["x", "y", "z", "instance"],
            "formats": [order + "f4"] * 3 + [order + "u4"],
            "offsets": [names[n].offset for n in ("x", "y", "z", "instance")],
            "itemsize": msg.point_step,
        }
    )
    rec = np.frombuffer(bytes(msg.data), dtype=dtype, count=msg.width * msg.height)
    pts = np.stack((rec["x"], rec["y"], rec["z"]), axis=1).astype(np.float32)
    return pts, rec["instance"].astype(np.uint32)
