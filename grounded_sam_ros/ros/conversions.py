# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS messages and the pipeline's arrays and result types (no rclpy, no cv_bridge).

Images: ``sensor_msgs/Image`` (every encoding of :mod:`grounded_sam_ros.encodings`, which does the work from the
message's fields) and ``sensor_msgs/CompressedImage`` (JPEG, PNG) to ``HxWx3 uint8 RGB``, and RGB back to rgb8/bgr8/
rgba8/bgra8/mono8. Masks: a full-size ``HxW bool`` mask <-> (mask_x, mask_y, mono8 crop). Results:
:class:`grounded_sam_ros.results.FrameResult` <-> ``grounded_sam_ros/DetectionArray``.
"""

from __future__ import annotations

import array
from typing import Optional, Tuple

import numpy as np
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from grounded_sam_ros.encodings import compressed_to_rgb, pixel_array, raw_to_rgb
from grounded_sam_ros.geometry import depth_to_metres
from grounded_sam_ros.masks import crop_mask, uncrop_mask
from grounded_sam_ros.msg import Detection as DetectionMsg
from grounded_sam_ros.msg import DetectionArray
from grounded_sam_ros.results import Detection, FrameResult, Instance3D

# Encodings written by rgb_to_image_msg -> channels per pixel (8 bits per channel). image_msg_to_rgb reads these
# and every other encoding of grounded_sam_ros.encodings.
ENCODING_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
_SUPPORTED = ", ".join(ENCODING_CHANNELS)


# ----------------------------------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------------------------------


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """A ``sensor_msgs/Image`` as an ``HxWx3 uint8 RGB`` array (a copy, independent of the message).

    Every encoding of :mod:`grounded_sam_ros.encodings` (8- and 16-bit colour and grey, 8UC1/3/4, Bayer, YUV 4:2:2);
    row padding (``step > width * bytes per pixel``) is skipped, 16-bit data is read in the message's byte order.
    Raises ``ValueError`` for another encoding, an empty image, a ``step`` shorter than a row, or ``data`` whose
    length is not ``height * step``.
    """
    return raw_to_rgb(msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian, msg.data)


def _image_pixels(msg: Image, channels: int, encoding: str) -> np.ndarray:
    """The message's pixels as an ``HxWxC uint8`` view (padding removed), after checking its geometry."""
    return pixel_array(msg.width, msg.height, msg.step, msg.data, channels, encoding)


# Depth encodings read by depth_msg_to_metres -> (numpy dtype, encoding passed to geometry.depth_to_metres)
DEPTH_ENCODINGS = {"16uc1": ("u2", "16UC1"), "mono16": ("u2", "16UC1"), "32fc1": ("f4", "32FC1")}


def depth_msg_to_metres(msg: Image, scale: Optional[float] = None) -> np.ndarray:
    """A depth ``sensor_msgs/Image`` as ``HxW float32`` metres along the optical axis, NaN where invalid (a copy).

    Reads 16UC1 / mono16 (millimetres, 0 = no reading, REP 118) and 32FC1 (metres; 0, negative, NaN and inf = no
    reading), in either byte order (``is_bigendian``), skipping row padding. ``scale`` overrides the unit: metres per
    raw unit (None = from the encoding). Raises ``ValueError`` for another encoding or a malformed image.
    """
    encoding = msg.encoding.strip().lower()
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(
            f"unsupported depth encoding {msg.encoding!r}: expected 16UC1 (millimetres) or 32FC1 (metres), the "
            "encodings of REP 118 depth images"
        )
    kind, geometry_encoding = DEPTH_ENCODINGS[encoding]
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    pixels = _image_pixels(msg, dtype.itemsize, encoding)  # HxWx(bytes per pixel) uint8 view
    raw = np.ascontiguousarray(pixels).view(dtype)[:, :, 0]
    return depth_to_metres(raw.astype(dtype.newbyteorder("="), copy=False), geometry_encoding, scale)


def compressed_msg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """A JPEG or PNG (8- or 16-bit) ``sensor_msgs/CompressedImage`` decoded to ``HxWx3 uint8 RGB``.

    The format is read from the data itself (``msg.format`` is informative, except that compressedDepth is refused).
    Raises ``ValueError`` for empty, truncated or corrupt data, another format, or a float/depth image.
    """
    return compressed_to_rgb(msg.data, msg.format)


def rgb_to_image_msg(image: np.ndarray, header: Optional[Header] = None, encoding: str = "rgb8") -> Image:
    """An ``HxWx3 uint8 RGB`` array as a ``sensor_msgs/Image`` with ``step = width * channels``.

    ``encoding`` is the message's: rgb8, bgr8, rgba8/bgra8 (alpha 255) from RGB input, or mono8 from an
    ``HxW uint8`` array. ``header`` is copied into the message (an empty header when None).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype is {image.dtype}, expected uint8")
    if encoding == "mono8":
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim != 2:
            raise ValueError(f"mono8 needs an HxW uint8 array, got shape {image.shape}")
        pixels = image
    elif encoding in ("rgb8", "bgr8", "rgba8", "bgra8"):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{encoding} needs an HxWx3 uint8 RGB array, got shape {image.shape}")
        pixels = image if encoding.startswith("rgb") else image[:, :, ::-1]
        if encoding.endswith("a8"):
            alpha = np.full(image.shape[:2] + (1,), 255, dtype=np.uint8)
            pixels = np.concatenate([pixels, alpha], axis=2)
    else:
        raise ValueError(f"unsupported output encoding {encoding!r}: expected one of {_SUPPORTED}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image: shape {image.shape}")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    msg = Image()
    if header is not None:
        msg.header = _copy_header(header)
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * channels
    msg.data = array.array("B", np.ascontiguousarray(pixels).tobytes())
    return msg


def _copy_header(header: Header) -> Header:
    out = Header()
    out.stamp.sec, out.stamp.nanosec = header.stamp.sec, header.stamp.nanosec
    out.frame_id = header.frame_id
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------------


def crop_to_msg(crop: Optional[np.ndarray]) -> Image:
    """An ``hxw bool`` crop as a mono8 ``sensor_msgs/Image`` (255 inside, 0 outside); None or empty -> a 0x0 image."""
    msg = Image()
    msg.encoding = "mono8"
    if crop is None or crop.size == 0:
        return msg
    if crop.ndim != 2:
        raise ValueError(f"mask crop must be 2-D (h, w), got shape {crop.shape}")
    msg.height, msg.width = int(crop.shape[0]), int(crop.shape[1])
    msg.step = msg.width
    msg.data = array.array("B", (crop.astype(bool, copy=False).astype(np.uint8) * 255).tobytes())
    return msg


def msg_to_crop(image_msg: Image) -> np.ndarray:
    """Inverse of :func:`crop_to_msg`: an ``hxw bool`` crop (nonzero = inside); a 0x0 image gives a (0, 0) crop."""
    if int(image_msg.height) == 0 or int(image_msg.width) == 0:
        return np.zeros((0, 0), dtype=bool)
    if image_msg.encoding.strip().lower() not in ("mono8", "8uc1"):
        raise ValueError(f"mask image encoding is {image_msg.encoding!r}, expected mono8")
    return _image_pixels(image_msg, 1, "mono8")[:, :, 0] != 0


def mask_to_msg(full_mask: np.ndarray) -> Tuple[int, int, Image]:
    """A full-size ``HxW bool`` mask as ``(mask_x, mask_y, mono8 Image cropped to the mask's tight box)``.

    An empty mask gives ``(0, 0, 0x0 image)``.
    """
    crop, x, y = crop_mask(np.asarray(full_mask))
    return x, y, crop_to_msg(crop)


def msg_to_mask(mask_x: int, mask_y: int, image_msg: Image, height: int, width: int) -> np.ndarray:
    """The ``height x width bool`` mask that a (mask_x, mask_y, mono8 crop) describes.

    Raises ``ValueError`` when the crop does not fit inside the image or is not mono8.
    """
    return uncrop_mask(msg_to_crop(image_msg), int(mask_x), int(mask_y), int(height), int(width))


# ----------------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------------


def detection_to_msg(det: Detection) -> DetectionMsg:
    """A pipeline :class:`Detection` as a ``grounded_sam_ros/Detection``.

    The mask goes as it is (the tight crop at ``mask_x``/``mask_y``); no mask (``segment=False``) becomes a 0x0
    image. 3D fields are filled from ``det.instance_3d``: ``has_3d`` is its ``valid`` flag, and position/size are
    zeros when it is not valid.
    """
    msg = DetectionMsg()
    msg.id = str(det.id)
    msg.label = str(det.label)
    msg.score = float(det.score)
    msg.mask_score = float(det.mask_score)
    box = np.asarray(det.box, dtype=np.float32).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"detection box must have 4 values (x_min, y_min, x_max, y_max), got {box.size}")
    msg.box = box
    msg.mask_x, msg.mask_y = int(det.mask_x), int(det.mask_y)
    msg.mask = crop_to_msg(det.mask)
    msg.propagated = bool(det.propagated)
    msg.age = int(det.age)
    i3 = det.instance_3d
    if i3 is not None:
        msg.has_3d = bool(i3.valid)
        msg.num_points = int(i3.num_points)
        msg.frame_3d = str(i3.frame_id)
        if i3.valid:
            px, py, pz = (float(v) for v in np.asarray(i3.position).reshape(3))
            sx, sy, sz = (float(v) for v in np.asarray(i3.size).reshape(3))
            msg.position = Point(x=px, y=py, z=pz)
            msg.size = Vector3(x=sx, y=sy, z=sz)
    return msg


def msg_to_detection(msg: DetectionMsg) -> Detection:
    """Inverse of :func:`detection_to_msg`.

    ``instance_3d`` is None when the message carries no 3D data at all (``has_3d`` false, ``num_points`` 0,
    ``frame_3d`` empty); otherwise an :class:`Instance3D` whose position/size are NaN when ``has_3d`` is false.
    """
    instance_3d = None
    if msg.has_3d or msg.num_points or msg.frame_3d:
        if msg.has_3d:
            position = np.array([msg.position.x, msg.position.y, msg.position.z], dtype=np.float32)
            size = np.array([msg.size.x, msg.size.y, msg.size.z], dtype=np.float32)
        else:
            position = np.full(3, np.nan, dtype=np.float32)
            size = np.full(3, np.nan, dtype=np.float32)
        instance_3d = Instance3D(
            position=position,
            size=size,
            num_points=int(msg.num_points),
            valid=bool(msg.has_3d),
            frame_id=msg.frame_3d,
        )
    return Detection(
        label=msg.label,
        score=float(msg.score),
        box=np.asarray(msg.box, dtype=np.float32).copy(),
        mask=msg_to_crop(msg.mask),
        mask_x=int(msg.mask_x),
        mask_y=int(msg.mask_y),
        mask_score=float(msg.mask_score),
        id=msg.id,
        instance_3d=instance_3d,
        propagated=bool(msg.propagated),
        age=int(msg.age),
    )


def result_to_msg(result: FrameResult, header: Optional[Header] = None) -> DetectionArray:
    """A :class:`FrameResult` as a ``grounded_sam_ros/DetectionArray``; ``header`` is the source image's."""
    msg = DetectionArray()
    if header is not None:
        msg.header = _copy_header(header)
    msg.image_width = int(result.image_width)
    msg.image_height = int(result.image_height)
    msg.query = result.query
    msg.detections = [detection_to_msg(det) for det in result.detections]
    return msg


def msg_to_result(msg: DetectionArray) -> FrameResult:
    """Inverse of :func:`result_to_msg` (for clients and tests); timings are not carried and come back empty."""
    return FrameResult(
        image_width=int(msg.image_width),
        image_height=int(msg.image_height),
        query=msg.query,
        detections=[msg_to_detection(d) for d in msg.detections],
    )
