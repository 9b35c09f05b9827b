# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Depth for the node, free of rclpy: pair depth images with colour frames by stamp, then measure the instances.

- :class:`StampedBuffer`: the last few items (depth images) with their header stamps; returns the one closest to a
  colour frame's stamp if it is within the slop, waiting briefly when the matching one may still be on its way.
- :class:`DepthFusion`: that buffer, the latest ``CameraInfo`` and the counters the diagnostics report. ``fuse`` fills
  the 3D fields of a frame's detections with :mod:`grounded_sam_ros.geometry`, or says why it could not.

The node's subscription callbacks only store (``add_depth``, ``add_camera_info``); ``fuse`` runs on its worker thread
after the pipeline's result. Stamps are integer nanoseconds (``sec * 10**9 + nanosec`` of a ``std_msgs/Header``).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Deque, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from grounded_sam_ros.geometry import DepthFilter, check_aspect, instances_3d, instances_3d_with_points
from grounded_sam_ros.results import Detection
from grounded_sam_ros.ros.conversions import depth_msg_to_metres
from grounded_sam_ros.ros.geometry_msgs_conv import intrinsics_from_camera_info

T = TypeVar("T")

DEPTH_BUFFER_FRAMES = 10  # depth images kept for matching: ~0.3 s at 30 Hz

# Values of DepthFusion.status (the diagnostics key depth_status)
WAITING = "waiting"  # no colour frame processed yet
OK = "ok"  # the last frame got depth
NO_CAMERA_INFO = "no_camera_info"
NO_DEPTH = "no_depth"  # no depth image received at all
OUT_OF_SLOP = "out_of_slop"  # depth images arrive, none within the slop of the colour frame
BAD_DEPTH = "bad_depth"  # a matched depth image or CameraInfo could not be used (encoding, size, calibration)
FAILED = "error"  # the 3D step raised unexpectedly (a bug: the node logs it)


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` (``sec``, ``nanosec``) as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class StampedBuffer(Generic[T]):
    """The last ``capacity`` items with their stamps (ns), for approximate-time matching.

    Thread-safe: ``put`` from a subscription callback, ``match`` from the worker. Items may arrive out of stamp order.
    """

    def __init__(self, capacity: int = DEPTH_BUFFER_FRAMES) -> None:
        if int(capacity) != capacity or capacity < 1:
            raise ValueError(f"capacity={capacity!r}: expected an integer >= 1")
        self._cond = threading.Condition()
        self._items: Deque[Tuple[int, T]] = collections.deque(maxlen=int(capacity))
        self.received = 0

    def put(self, stamp: int, item: T) -> None:
        with self._cond:
            self._items.append((int(stamp), item))
            self.received += 1
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def match(
        self, stamp: int, slop: int, timeout: float = 0.0, max_lag: Optional[int] = None
    ) -> Tuple[Optional[T], Optional[int]]:
        """``(item, offset)``: the item whose stamp is closest to ``stamp`` (ties: the later one) if
        ``|offset| <= slop``, with ``offset = item stamp - stamp`` (ns).

        When none is that close, returns ``(None, offset of the closest)`` (``(None, None)`` when the buffer is empty).
        While no item is close enough but one could still come, waits up to ``timeout`` seconds for it. One could
        come when items arrive (the buffer is not empty), nothing stamped after ``stamp + slop`` has arrived yet, and
        the newest item lags ``stamp - slop`` by at most ``max_lag`` ns (None: any lag); a stream further behind
        (stalled, or on another clock) is not waited for.
        """
        if slop < 0:
            raise ValueError(f"slop={slop!r}: expected nanoseconds >= 0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                best: Optional[Tuple[int, T]] = None
                newest: Optional[int] = None
                for item_stamp, item in self._items:
                    if best is None or (abs(item_stamp - stamp), -item_stamp) < (abs(best[0] - stamp), -best[0]):
                        best = (item_stamp, item)
                    newest = item_stamp if newest is None else max(newest, item_stamp)
                if best is not None and abs(best[0] - stamp) <= slop:
                    return best[1], best[0] - stamp
                remaining = deadline - time.monotonic()
                hopeless = newest is None or newest > stamp + slop
                if max_lag is not None and newest is not None and newest < stamp - slop - max_lag:
                    hopeless = True
                if remaining <= 0.0 or hopeless:
                    return None, None if best is None else best[0] - stamp
                self._cond.wait(remaining)


@dataclass
class FusionOutcome:
    """What :meth:`DepthFusion.fuse` did with one frame.

    ``fused``: the detections got ``instance_3d`` (each valid or not); otherwise they have none and ``reason`` says
    why. ``frame_id``: the depth optical frame the 3D values are in. ``points``/``ids``: the instances' points for a
    cloud (Nx3 float32 metres in ``frame_id``, (N,) uint32 instance ids), only when asked for and fused.
    """

    fused: bool
    status: str
    reason: str = ""
    frame_id: str = ""
    offset_s: float = 0.0  # depth stamp - colour stamp
    points: Optional[np.ndarray] = None
    ids: Optional[np.ndarray] = None


class DepthFusion:
    """Depth images and the depth CameraInfo as they arrive, and the 3D step for a colour frame's detections.

    Registration: the depth image is assumed registered to the colour image (same viewpoint and field of view). It
    may have another resolution with the same aspect ratio (the masks are looked up with nearest neighbour, see
    :mod:`grounded_sam_ros.geometry`). The CameraInfo is the depth image's; one of another resolution with the same
    aspect ratio (e.g. the colour camera's, which registration makes equivalent) is scaled to the depth image.
    """

    def __init__(self, capacity: int = DEPTH_BUFFER_FRAMES) -> None:
        self._depth: StampedBuffer[Image] = StampedBuffer(capacity)
        self._lock = threading.Lock()  # guards _info and the counters
        self._info: Optional[CameraInfo] = None
        self._timings: Deque[float] = collections.deque(maxlen=50)
        self.info_received = 0
        self.frames_fused = 0
        self.frames_without_depth = 0
        self.status = WAITING
        self.last_error = ""

    # --- callbacks: store only

    def add_depth(self, msg: Image) -> None:
        self._depth.put(stamp_ns(msg.header.stamp), msg)

    def add_camera_info(self, msg: CameraInfo) -> None:
        with self._lock:
            self._info = msg
            self.info_received += 1

    def clear(self) -> None:
        """Forget stored depth images and CameraInfo (lifecycle cleanup); counters stay."""
        self._depth.clear()
        with self._lock:
            self._info = None
            self.status = WAITING

    # --- worker

    def fuse(
        self,
        detections: Sequence[Detection],
        stamp: int,
        image_size: Tuple[int, int],
        *,
        slop_s: float,
        depth_filter: DepthFilter,
        scale: float = 0.0,
        cloud_stride: int = 0,
        wait_s: float = 0.0,
        max_lag_s: float = 1.0,
    ) -> FusionOutcome:
        """Fill ``instance_3d`` of ``detections`` (in place) from the depth image matching ``stamp`` (ns).

        image_size: (width, height) of the colour image the masks are in. slop_s: largest |depth stamp - stamp|
        accepted, seconds. scale: metres per raw depth unit, 0 = from the encoding. cloud_stride: > 0 also returns the
        instances' points, every cloud_stride-th. wait_s: how long to wait for a matching depth image that may still
        be on its way, unless the newest one lags the frame by more than max_lag_s seconds. Never raises for bad
        input: the outcome says why there is no 3D, and the detections keep ``instance_3d = None``.
        """
        started = time.perf_counter()
        with self._lock:
            info = self._info
        if info is None:
            return self.missed(
                NO_CAMERA_INFO,
                "no CameraInfo received on 'depth/camera_info' yet: publish the depth camera's calibration there",
            )
        depth_msg, offset = self._depth.match(stamp, round(slop_s * 1e9), wait_s, round(max_lag_s * 1e9))
        if depth_msg is None:
            if offset is None:
                return self.missed(NO_DEPTH, "no depth image received on 'depth/image' yet")
            return self.missed(
                OUT_OF_SLOP,
                f"no depth image within depth_slop={slop_s:g} s of the colour frame: the closest is "
                f"{offset / 1e9:+.3f} s away (are the depth stream running and both cameras on one clock? "
                "raise depth_slop if they are)",
            )
        frame_id = depth_msg.header.frame_id or info.header.frame_id
        try:
            depth_m = depth_msg_to_metres(depth_msg, scale if scale > 0 else None)
            intrinsics = intrinsics_from_camera_info(info)
            depth_h, depth_w = depth_m.shape
            if (intrinsics.width, intrinsics.height) != (depth_w, depth_h):
                check_aspect(intrinsics.width, intrinsics.height, depth_w, depth_h)
                intrinsics = intrinsics.scaled(depth_w, depth_h)
            points = ids = None
            if cloud_stride > 0:
                _, points, ids = instances_3d_with_points(
                    detections,
                    depth_m,
                    intrinsics,
                    image_size=image_size,
                    depth_filter=depth_filter,
                    frame_id=frame_id,
                    stride=cloud_stride,
                )
            else:
                instances_3d(detections, depth_m, intrinsics, image_size=image_size, depth_filter=depth_filter,
                             frame_id=frame_id)  # fmt: skip
        except ValueError as exc:
            for det in detections:
                det.instance_3d = None
            return self.missed(BAD_DEPTH, f"depth image not usable: {exc}")
        with self._lock:
            self.frames_fused += 1
            self.status = OK
            self._timings.append(time.perf_counter() - started)
        return FusionOutcome(True, OK, frame_id=frame_id, offset_s=offset / 1e9, points=points, ids=ids)

    def missed(self, status: str, reason: str) -> FusionOutcome:
        """Record a frame left without 3D (``status``: one of the status constants) and return its outcome."""
        with self._lock:
            self.frames_without_depth += 1
            self.status = status
            self.last_error = reason
        return FusionOutcome(False, status, reason=reason)

    def snapshot(self) -> Dict[str, str]:
        """Diagnostics values: depth_status, last_depth_error, counters, mean time of the 3D step (ms)."""
        with self._lock:
            timings: List[float] = list(self._timings)
            return {
                "depth_status": self.status,
                "last_depth_error": self.last_error[:500],
                "depth_images_received": str(self._depth.received),
                "camera_infos_received": str(self.info_received),
                "frames_with_depth": str(self.frames_fused),
                "frames_without_depth": str(self.frames_without_depth),
                "depth_ms": f"{1000.0 * sum(timings) / len(timings):.2f}" if timings else "0.00",
            }
