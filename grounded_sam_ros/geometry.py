# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""3D instances from a depth image and instance masks (pure numpy, no ROS).

Conventions used throughout this module:

* **Pixels.** ``u`` is the column index, ``v`` the row index. Pixel ``(u, v)`` has its centre at the integer
  coordinates ``(u, v)``, as in ROS ``CameraInfo`` / OpenCV, so the image spans ``[-0.5, W - 0.5]`` horizontally.
* **Camera frame.** Points are in the depth camera's optical frame: x right, y down, z forward, metres.
  Back-projection of pixel ``(u, v)`` with depth ``Z`` (distance along the optical axis, not along the ray) is
  ``X = (u - cx) * Z / fx``, ``Y = (v - cy) * Z / fy``. The depth image is assumed rectified (no distortion).
* **Registration.** The depth image is assumed registered to the colour image (same viewpoint and field of view, as
  published by ``*/aligned_depth_to_color/image_raw`` topics). It may have a different resolution: masks are then
  looked up in the depth image with nearest-neighbour resampling (depth is never interpolated, which would invent
  points between a foreground edge and the background), provided both images have the same aspect ratio within 1%.
* **Invalid depth** is NaN in metre images (:func:`depth_to_metres` makes it so).

What an :class:`~grounded_sam_ros.results.Instance3D` measures: the camera sees only the front of an object, so
``position`` and ``size`` describe the **visible surface** under the mask. ``size`` is the extent of that surface's
axis-aligned bounding box in the camera frame and ``position`` is the centre of that box, so a cube drawn at
``position`` with ``size`` encloses the measured points. A fronto-parallel face of width ``a`` and height ``b`` at depth
``d`` gives ``size = (a, b, ~0)`` and ``position`` at the face's centre, at depth ``d``.

How the measurement resists bad pixels (parameters in :class:`DepthFilter`): only mask pixels with valid depth are
used. Their depths are binned (``depth_bin`` metres) and the object is taken to be the run of well-populated bins
(at least ``min_bin_fraction`` of the points each) around the median depth, bridging gaps of at most
``max_depth_gap`` metres. Background bleeding in at mask edges forms a separate cluster behind a gap and flying pixels
(depths smeared between an edge and the background) are spread too thinly to populate a bin, so both are dropped,
while a real surface that recedes in depth (the top of a box seen from above, a slanted face) stays in however few
pixels it covers. The box spans the kept points' depths in z (outliers there are gone already); in x and y it is
taken between the ``percentile`` and ``100 - percentile`` percentiles of the kept points, widened by
``1 / (1 - 2 * percentile / 100)`` so that it is unbiased for points spread evenly along an axis (a surface sampled by
the pixel grid), which trims the odd stray point that shares the object's depth.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from grounded_sam_ros.results import Detection, Instance3D

DEPTH_ENCODINGS = ("16UC1", "32FC1")
ASPECT_TOLERANCE = 0.01
_MAX_BINS = 4096


@dataclass(frozen=True)
class DepthFilter:
    """How depth pixels under a mask become an instance (see the module docstring).

    min_points: fewer kept pixels than this -> ``valid=False``. depth_bin: metres per depth histogram bin.
    max_depth_gap: metres of sparse depth bins bridged inside one object. min_bin_fraction: share of the mask's valid
    pixels a bin needs to count as object surface. percentile: tail (percent) trimmed from each end of each axis.
    """

    min_points: int = 30
    depth_bin: float = 0.01
    max_depth_gap: float = 0.03
    min_bin_fraction: float = 0.002
    percentile: float = 1.0

    def __post_init__(self) -> None:
        if int(self.min_points) != self.min_points or self.min_points < 1:
            raise ValueError(f"min_points={self.min_points!r}: expected an integer >= 1")
        if not (math.isfinite(self.depth_bin) and self.depth_bin > 0):
            raise ValueError(f"depth_bin={self.depth_bin!r}: expected metres > 0 (e.g. 0.01)")
        if not (math.isfinite(self.max_depth_gap) and self.max_depth_gap >= 0):
            raise ValueError(f"max_depth_gap={self.max_depth_gap!r}: expected metres >= 0 (e.g. 0.03)")
        if not 0 <= self.min_bin_fraction < 1:
            raise ValueError(f"min_bin_fraction={self.min_bin_fraction!r}: expected a number in [0, 1)")
        if not 0 <= self.percentile < 50:
            raise ValueError(f"percentile={self.percentile!r}: expected a number in [0, 50)")


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a rectified image: focal lengths and principal point in pixels, image size in pixels.

    ``cx``/``cy`` follow the pixel-centre convention of ROS ``CameraInfo`` (pixel ``(u, v)`` centred at ``(u, v)``).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name}={getattr(self, name)!r}: expected a finite number of pixels")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(
                f"fx={self.fx!r}, fy={self.fy!r}: focal lengths must be > 0 pixels "
                "(an all-zero CameraInfo.k means the camera is not calibrated)"
            )
        if int(self.width) != self.width or int(self.height) != self.height or self.width < 1 or self.height < 1:
            raise ValueError(f"image size {self.width!r}x{self.height!r}: expected positive integer pixels")

    @classmethod
    def from_k(cls, k: Sequence[float], width: int, height: int) -> "CameraIntrinsics":
        """From a row-major 3x3 camera matrix (9 floats, as ``sensor_msgs/CameraInfo.k``, or a 3x3 array).

        The skew term ``k[1]`` is ignored (zero for every ROS camera driver).
        """
        k_arr = np.asarray(k, dtype=np.float64).reshape(-1)
        if k_arr.size != 9:
            raise ValueError(f"K has {k_arr.size} values: expected 9 (row-major 3x3, as CameraInfo.k)")
        if not np.all(np.isfinite(k_arr)):
            raise ValueError(f"K={k_arr.tolist()} has non-finite values")
        if not np.any(k_arr):
            raise ValueError("K is all zeros: the camera is not calibrated (calibrate it, or publish its CameraInfo)")
        if k_arr[3] != 0 or k_arr[6] != 0 or k_arr[7] != 0 or k_arr[8] != 1:
            raise ValueError(f"K={k_arr.tolist()}: expected [fx, s, cx, 0, fy, cy, 0, 0, 1]")
        return cls(
            fx=float(k_arr[0]), fy=float(k_arr[4]), cx=float(k_arr[2]), cy=float(k_arr[5]), width=width, height=height
        )

    def scaled(self, width: int, height: int) -> "CameraIntrinsics":
        """The intrinsics of this camera's image resized to ``width`` x ``height`` pixels (same field of view).

        With pixel centres at integer coordinates, a resize by ``s`` maps coordinate ``u`` to ``(u + 0.5) * s - 0.5``,
        so ``fx' = fx * s`` and ``cx' = (cx + 0.5) * s - 0.5`` (likewise for y with its own factor).
        """
        if int(width) != width or int(height) != height or width < 1 or height < 1:
            raise ValueError(f"target size {width!r}x{height!r}: expected positive integer pixels")
        sx = width / self.width
        sy = height / self.height
        return CameraIntrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=int(width),
            height=int(height),
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """Nx3 float metres in the optical frame -> Nx2 float64 ``(u, v)`` pixel coordinates (z must be > 0)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return np.stack((pts[:, 0] * self.fx / pts[:, 2] + self.cx, pts[:, 1] * self.fy / pts[:, 2] + self.cy), axis=1)


def depth_to_metres(depth: np.ndarray, encoding: str, scale: Optional[float] = None) -> np.ndarray:
    """Raw depth image -> HxW float32 metres along the optical axis, NaN where the sensor had no valid reading.

    depth: HxW array as decoded from a ``sensor_msgs/Image``. ``encoding``: ``16UC1`` (unsigned integer millimetres,
    0 = invalid, REP 118) or ``32FC1`` (float metres; 0, negative, NaN and +-inf are invalid). ``scale`` overrides the
    unit: metres per raw unit (e.g. 0.00025 for a sensor publishing quarter-millimetres as 16UC1).
    """
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding {encoding!r} is not supported: expected one of {', '.join(DEPTH_ENCODINGS)}")
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be a single-channel HxW image, got shape {depth.shape}")
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"depth scale={scale!r}: expected a positive number of metres per raw unit")
    if encoding == "16UC1":
        if not np.issubdtype(depth.dtype, np.integer):
            raise ValueError(f"16UC1 depth must hold integers (uint16), got dtype {depth.dtype}")
        metres = depth.astype(np.float32) * np.float32(0.001 if scale is None else scale)
        metres[depth <= 0] = np.nan
        return metres
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"32FC1 depth must hold floats (float32), got dtype {depth.dtype}")
    metres = depth.astype(np.float32, copy=True)
    if scale is not None:
        metres *= np.float32(scale)
    with np.errstate(invalid="ignore"):
        metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
    return metres


def check_aspect(src_width: int, src_height: int, dst_width: int, dst_height: int) -> None:
    """Raise ``ValueError`` unless two image sizes have the same aspect ratio within 1%."""
    ratio = (dst_width / dst_height) / (src_width / src_height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise ValueError(
            f"depth image {src_width}x{src_height} and colour image {dst_width}x{dst_height} have different aspect "
            "ratios: the depth must be registered to the colour image (e.g. subscribe to aligned_depth_to_color, or "
            "enable the driver's depth alignment), which gives it the colour camera's field of view"
        )


def resample_indices(src_size: int, dst_size: int) -> np.ndarray:
    """Nearest-neighbour source index of each of ``dst_size`` pixels along one axis: (dst_size,) intp.

    Destination pixel ``i`` (centre ``i``) sits at source coordinate ``(i + 0.5) * src / dst - 0.5``; the source pixel
    containing it is ``floor((i + 0.5) * src / dst)``.
    """
    idx = np.floor((np.arange(dst_size, dtype=np.float64) + 0.5) * (src_size / dst_size)).astype(np.intp)
    return np.minimum(idx, src_size - 1)


def resample_depth_nearest(depth_m: np.ndarray, width: int, height: int) -> np.ndarray:
    """HxW depth (any dtype) -> ``height`` x ``width`` with nearest-neighbour resampling (never interpolated).

    Raises ``ValueError`` when the aspect ratios differ by more than 1% (see :func:`check_aspect`).
    """
    src_h, src_w = depth_m.shape[:2]
    if (src_w, src_h) == (width, height):
        return depth_m
    check_aspect(src_w, src_h, width, height)
    return depth_m[np.ix_(resample_indices(src_h, height), resample_indices(src_w, width))]


def instance_id(detection_id: str) -> int:
    """A stable integer in ``[0, 2**31 - 1]`` for a detection id string (marker ids, point cloud ``instance``).

    Decimal ids (``"7"``) map to themselves; other strings to their CRC-32, which is stable across runs and machines.
    """
    text = str(detection_id)
    if text.isascii() and text.isdigit() and int(text) <= 0x7FFFFFFF:
        return int(text)
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


class _DepthLookup:
    """Depth in metres seen at the resolution of the image the masks come from, resampled lazily per crop."""

    def __init__(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics, image_size: Optional[Tuple[int, int]]):
        depth_m = np.asarray(depth_m)
        if depth_m.ndim != 2 or not np.issubdtype(depth_m.dtype, np.floating):
            raise ValueError(
                f"depth_m must be an HxW float image in metres (see depth_to_metres), got {depth_m.dtype} "
                f"with shape {depth_m.shape}"
            )
        dh, dw = depth_m.shape
        if (intrinsics.width, intrinsics.height) != (dw, dh):
            raise ValueError(
                f"intrinsics are for a {intrinsics.width}x{intrinsics.height} image but the depth image is {dw}x{dh}: "
                "pass the depth camera's CameraInfo, or intrinsics.scaled(width, height)"
            )
        width, height = (dw, dh) if image_size is None else (int(image_size[0]), int(image_size[1]))
        if width < 1 or height < 1:
            raise ValueError(f"image_size={image_size!r}: expected (width, height) in positive pixels")
        self.width, self.height = width, height
        self._depth = depth_m
        self._rows: Optional[np.ndarray] = None
        self._cols: Optional[np.ndarray] = None
        if (width, height) == (dw, dh):
            self.intrinsics = intrinsics
        else:
            check_aspect(dw, dh, width, height)
            self.intrinsics = intrinsics.scaled(width, height)
            self._rows = resample_indices(dh, height)
            self._cols = resample_indices(dw, width)

    def region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """Depth under image pixels ``[y, y + h) x [x, x + w)``: (h, w) float (a view when no resampling)."""
        if x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            raise ValueError(
                f"mask crop {w}x{h} at ({x}, {y}) does not fit in the {self.width}x{self.height} image: pass "
                "image_size=(width, height) of the image the masks were computed on"
            )
        if self._rows is None:
            return self._depth[y : y + h, x : x + w]
        return self._depth[self._rows[y : y + h, None], self._cols[None, x : x + w]]


def _invalid(num_points: int, frame_id: str) -> Instance3D:
    nan3 = np.full(3, np.nan, dtype=np.float32)
    return Instance3D(position=nan3, size=nan3.copy(), num_points=int(num_points), valid=False, frame_id=frame_id)


def _depth_cluster(z: np.ndarray, flt: DepthFilter) -> np.ndarray:
    """(N,) float32 depths -> (N,) bool: the points in the populated run of depth bins around the median."""
    z_min = float(z.min())
    span = float(z.max()) - z_min
    bin_w = max(flt.depth_bin, span / _MAX_BINS)
    idx = np.minimum(((z - z_min) * (1.0 / bin_w)).astype(np.intp), int(span / bin_w))
    counts = np.bincount(idx)
    if counts.size == 1:
        return np.ones(z.shape, dtype=bool)

    # Start at the median's bin, grow both ways across populated bins, bridging short sparse runs
    start = int(np.searchsorted(np.cumsum(counts), (z.size + 1) // 2))
    dense = counts >= max(2, math.ceil(flt.min_bin_fraction * z.size))
    max_step = int(flt.max_depth_gap / bin_w + 1e-6) + 1  # empty bins bridged: max_step - 1
    hi = _grow(np.flatnonzero(dense[start + 1 :]) + start + 1, start, max_step)
    lo = start - _grow(start - np.flatnonzero(dense[:start])[::-1], 0, max_step)
    if lo == 0 and hi == counts.size - 1:
        return np.ones(z.shape, dtype=bool)
    return (idx >= lo) & (idx <= hi)


def _grow(bins: np.ndarray, start: int, max_step: int) -> int:
    """Last of the increasing ``bins`` reachable from ``start`` in steps of at most ``max_step`` bins."""
    if bins.size == 0:
        return start
    steps = np.diff(bins, prepend=start)
    breaks = np.flatnonzero(steps > max_step)
    if breaks.size == 0:
        return int(bins[-1])
    return int(bins[breaks[0] - 1]) if breaks[0] > 0 else start


def _measure(
    crop: np.ndarray,
    x0: int,
    y0: int,
    lookup: _DepthLookup,
    flt: DepthFilter,
    frame_id: str,
    want_points: bool = False,
) -> Tuple[Instance3D, Optional[np.ndarray]]:
    """Measure one mask crop; returns the Instance3D and, when asked, the 3xN float32 kept points."""
    h, w = crop.shape
    if h == 0 or w == 0:
        return _invalid(0, frame_id), None
    depth = lookup.region(x0, y0, w, h)

    # Mask pixels with valid depth (NaN compares false)
    with np.errstate(invalid="ignore"):
        sel = crop & (depth > 0) & (depth < np.inf)
    z = depth[sel].astype(np.float32, copy=False)
    if z.size < flt.min_points:
        return _invalid(z.size, frame_id), None

    # Keep the object's depth cluster: drops background bleeding and flying pixels
    keep = _depth_cluster(z, flt)
    num = int(np.count_nonzero(keep))
    if num < flt.min_points:
        return _invalid(num, frame_id), None

    # Ray slopes (u - cx) / fx, (v - cy) / fy of the kept pixel centres; a point is slope * z
    intr = lookup.intrinsics
    slope_x = (np.arange(x0, x0 + w, dtype=np.float32) - np.float32(intr.cx)) * np.float32(1.0 / intr.fx)
    slope_y = (np.arange(y0, y0 + h, dtype=np.float32) - np.float32(intr.cy)) * np.float32(1.0 / intr.fy)
    slope_x = np.broadcast_to(slope_x[None, :], (h, w))[sel]
    slope_y = np.broadcast_to(slope_y[:, None], (h, w))[sel]
    if num < z.size:
        z, slope_x, slope_y = z[keep], slope_x[keep], slope_y[keep]

    # Robust axis-aligned box of the visible surface: the depth cluster already bounds z
    xy = np.stack((slope_x * z, slope_y * z))
    q = flt.percentile
    n = xy.shape[1]
    k = min(round(q / 100.0 * (n - 1)), (n - 1) // 2)
    if k > 0:
        ordered = np.partition(xy, [k, n - 1 - k], axis=1)
        xy_lo, xy_hi = ordered[:, k], ordered[:, n - 1 - k]
    else:
        xy_lo, xy_hi = xy.min(axis=1), xy.max(axis=1)
    lo = np.array([xy_lo[0], xy_lo[1], z.min()], dtype=np.float64)
    hi = np.array([xy_hi[0], xy_hi[1], z.max()], dtype=np.float64)
    # Order statistics k and n-1-k of n evenly spread values span (n-1-2k)/(n-1) of their full range
    widen = (n - 1) / max(n - 1 - 2 * k, 1)
    position = ((lo + hi) * 0.5).astype(np.float32)
    size = ((hi - lo) * np.array([widen, widen, 1.0])).astype(np.float32)
    inst = Instance3D(position=position, size=size, num_points=num, valid=True, frame_id=frame_id)
    return inst, (np.vstack((xy, z[None, :])) if want_points else None)


def _crop_of(mask: np.ndarray, mask_x: int, mask_y: int) -> Tuple[np.ndarray, int, int]:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (h, w) bool, got shape {mask.shape}")
    if mask.dtype != np.bool_:
        mask = mask.astype(bool)
    return mask, int(mask_x), int(mask_y)


def instance_3d(
    mask: np.ndarray,
    depth_m: np.ndarray,
    intrinsics: CameraIntrinsics,
    *,
    mask_x: int = 0,
    mask_y: int = 0,
    image_size: Optional[Tuple[int, int]] = None,
    depth_filter: Optional[DepthFilter] = None,
    frame_id: str = "",
) -> Instance3D:
    """Where the instance under ``mask`` is, from the depth image.

    mask: (h, w) bool, either a tight crop whose top-left pixel is column ``mask_x``, row ``mask_y`` of the image
    (``Detection.mask``; only that region of the depth is read) or a full-size mask at offset (0, 0).
    depth_m: HxW float32 metres, NaN where invalid (:func:`depth_to_metres`), registered to the image the mask is in.
    intrinsics: of the depth image (its width/height must match ``depth_m``).
    image_size: (width, height) of the image the mask indexes; None when it is the depth image's own size. When they
    differ the depth is looked up with nearest neighbour (see the module docstring) and the intrinsics are scaled.
    depth_filter: outlier rejection settings; None for the defaults of :class:`DepthFilter`.

    Returns an :class:`Instance3D` in the depth camera's optical frame (``position``/``size`` (3,) float32 metres,
    see the module docstring for their meaning) with ``frame_id``. ``num_points`` counts mask pixels (at the mask's
    resolution) whose depth is valid and in the object's depth cluster. Fewer than ``depth_filter.min_points`` such
    pixels gives ``valid=False`` with NaN ``position``/``size``.
    """
    flt = depth_filter or DepthFilter()
    crop, x0, y0 = _crop_of(mask, mask_x, mask_y)
    lookup = _DepthLookup(depth_m, intrinsics, image_size)
    return _measure(crop, x0, y0, lookup, flt, frame_id)[0]


def instances_3d(
    detections: Iterable[Detection],
    depth_m: np.ndarray,
    intrinsics: CameraIntrinsics,
    *,
    image_size: Optional[Tuple[int, int]] = None,
    depth_filter: Optional[DepthFilter] = None,
    frame_id: str = "",
) -> List[Detection]:
    """Fill ``Detection.instance_3d`` of every detection (in place) and return the detections as a list.

    Masks are the detections' crops (``mask``, ``mask_x``, ``mask_y``) in an image of ``image_size`` (width, height);
    other arguments as in :func:`instance_3d`. A detection without a mask (segmentation disabled) gets an invalid
    Instance3D with ``num_points=0``: a box alone says too little about which depth pixels belong to the object.
    """
    dets = list(detections)
    lookup = _DepthLookup(depth_m, intrinsics, image_size)
    _measure_all(dets, lookup, depth_filter or DepthFilter(), frame_id, fill=True, stride=0)
    return dets


def instance_points(
    detections: Iterable[Detection],
    depth_m: np.ndarray,
    intrinsics: CameraIntrinsics,
    *,
    image_size: Optional[Tuple[int, int]] = None,
    depth_filter: Optional[DepthFilter] = None,
    stride: int = 1,
) -> Tuple[np.ndarray, np.ndarray]:
    """The 3D points of every instance, for a point cloud.

    Returns ``(points, ids)``: points Nx3 float32 metres in the depth camera's optical frame, ids (N,) uint32 with
    :func:`instance_id` of the detection each point belongs to. Only the points :func:`instance_3d` keeps are returned
    (valid depth in the object's depth cluster; none for an invalid instance or a detection without a mask), in
    raster order of the mask; ``stride`` keeps every stride-th of them to thin the cloud. Other arguments as in
    :func:`instances_3d`.
    """
    flt = depth_filter or DepthFilter()
    _check_stride(stride)
    lookup = _DepthLookup(depth_m, intrinsics, image_size)
    return _measure_all(list(detections), lookup, flt, "", fill=False, stride=int(stride))


def instances_3d_with_points(
    detections: Iterable[Detection],
    depth_m: np.ndarray,
    intrinsics: CameraIntrinsics,
    *,
    image_size: Optional[Tuple[int, int]] = None,
    depth_filter: Optional[DepthFilter] = None,
    frame_id: str = "",
    stride: int = 1,
) -> Tuple[List[Detection], np.ndarray, np.ndarray]:
    """:func:`instances_3d` and :func:`instance_points` in one pass over the masks (what a node publishing a cloud
    needs): fills ``Detection.instance_3d`` in place and returns ``(detections, points, ids)``, the last two exactly
    as :func:`instance_points` returns them (Nx3 float32 metres, (N,) uint32)."""
    flt = depth_filter or DepthFilter()
    _check_stride(stride)
    lookup = _DepthLookup(depth_m, intrinsics, image_size)
    dets = list(detections)
    points, ids = _measure_all(dets, lookup, flt, frame_id, fill=True, stride=int(stride))
    return dets, points, ids


def _check_stride(stride: int) -> None:
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride={stride!r}: expected an integer >= 1")


def _measure_all(
    dets: List[Detection], lookup: _DepthLookup, flt: DepthFilter, frame_id: str, *, fill: bool, stride: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Measure every detection's mask. With ``fill`` set each ``instance_3d`` (invalid, 0 points, without a mask);
    with ``stride`` > 0 collect every ``stride``-th kept point and its instance id (0: no points are built)."""
    all_pts: List[np.ndarray] = []
    all_ids: List[np.ndarray] = []
    for det in dets:
        if det.mask is None:
            inst, pts = _invalid(0, frame_id), None
        else:
            crop, x0, y0 = _crop_of(det.mask, det.mask_x, det.mask_y)
            inst, pts = _measure(crop, x0, y0, lookup, flt, frame_id, want_points=stride > 0)
        if fill:
            det.instance_3d = inst
        if pts is None:
            continue
        pts = pts[:, ::stride].T
        all_pts.append(pts)
        all_ids.append(np.full(len(pts), instance_id(det.id), dtype=np.uint32))
    if not all_pts:
        return np.zeros((0, 3), dtype=np.float32), np.zeros(0, dtype=np.uint32)
    return np.ascontiguousarray(np.concatenate(all_pts), dtype=np.float32), np.concatenate(all_ids)
