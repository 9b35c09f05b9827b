# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Camera image encodings -> ``HxWx3 uint8 RGB``, from the fields of a ``sensor_msgs/Image`` (no ROS needed).

One code path for every source of image messages: rclpy messages (``ros/conversions.py``), rosbags-deserialized
messages (``io/bags.py``; same field names, ``data`` as a numpy array) and anything else that has the fields.
Conversions use OpenCV the way ``cv_bridge`` does:

- 8-bit colour and grey: rgb8, bgr8, rgba8, bgra8 (alpha dropped), mono8; and the generic 8UC1/8UC3/8UC4, read as
  cv_bridge's passthrough reads them into OpenCV (8UC1 = mono8, 8UC3 = bgr8, 8UC4 = bgra8).
- 16-bit: rgb16, bgr16, rgba16, bgra16, mono16, in either byte order, scaled to 8 bits by 255/65535 with rounding
  (cv_bridge's ``convertTo`` between CV_16U and CV_8U).
- Bayer: bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8, demosaiced by OpenCV (bilinear).
- YUV 4:2:2: yuv422 (UYVY byte order) and yuv422_yuy2 (YUYV), BT.601 video range as OpenCV decodes them.
- Compressed: JPEG and PNG, 8-bit or 16-bit (scaled like 16-bit raw images).
"""

from __future__ import annotations

import io
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

_U16_TO_U8 = 255.0 / 65535.0


def _rgb(px: np.ndarray) -> np.ndarray:
    return px


def _bgr(px: np.ndarray) -> np.ndarray:
    return px[:, :, 2::-1]


def _rgba(px: np.ndarray) -> np.ndarray:
    return px[:, :, :3]


def _mono(px: np.ndarray) -> np.ndarray:
    return np.repeat(px, 3, axis=2)


def _cv(code: int) -> Callable[[np.ndarray], np.ndarray]:
    def convert(px: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(px[:, :, 0] if px.shape[2] == 1 else px), code)

    return convert


# encoding (lower case) -> (channels, bytes per channel, HxWxC array in the encoding's channel order -> HxWx3 RGB)
ENCODINGS: Dict[str, Tuple[int, int, Callable[[np.ndarray], np.ndarray]]] = {
    "rgb8": (3, 1, _rgb),
    "bgr8": (3, 1, _bgr),
    "rgba8": (4, 1, _rgba),
    "bgra8": (4, 1, _bgr),
    "mono8": (1, 1, _mono),
    "8uc1": (1, 1, _mono),
    "8uc3": (3, 1, _bgr),
    "8uc4": (4, 1, _bgr),
    "rgb16": (3, 2, _rgb),
    "bgr16": (3, 2, _bgr),
    "rgba16": (4, 2, _rgba),
    "bgra16": (4, 2, _bgr),
    "mono16": (1, 2, _mono),
    # OpenCV names a Bayer pattern by its own convention: RGGB is its BayerBG (cv_bridge maps them the same way)
    "bayer_rggb8": (1, 1, _cv(cv2.COLOR_BayerBG2RGB)),
    "bayer_bggr8": (1, 1, _cv(cv2.COLOR_BayerRG2RGB)),
    "bayer_gbrg8": (1, 1, _cv(cv2.COLOR_BayerGR2RGB)),
    "bayer_grbg8": (1, 1, _cv(cv2.COLOR_BayerGB2RGB)),
    # 4:2:2 packs two pixels into 4 bytes; handled as 2 bytes per pixel
    "yuv422": (2, 1, _cv(cv2.COLOR_YUV2RGB_UYVY)),
    "yuv422_yuy2": (2, 1, _cv(cv2.COLOR_YUV2RGB_YUY2)),
}
# Names as the ROS docs spell them (for messages and the README)
SUPPORTED = (
    "rgb8, bgr8, rgba8, bgra8, mono8, 8UC1, 8UC3, 8UC4, rgb16, bgr16, rgba16, bgra16, mono16, "
    "bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8, yuv422 (UYVY), yuv422_yuy2 (YUYV)"
)

COMPRESSED_FORMATS = ("JPEG", "PNG")


def raw_to_rgb(encoding: str, width: int, height: int, step: int, is_bigendian: bool, data) -> np.ndarray:
    """The pixels of a raw image message as an ``HxWx3 uint8 RGB`` array (a new array, independent of ``data``).

    Arguments are the ``sensor_msgs/Image`` fields; ``data`` is bytes, an ``array.array('B')`` or a uint8 numpy
    array. Row padding (``step`` longer than a row) is skipped. Raises ``ValueError`` with the reason for an
    unsupported encoding, an empty image, an odd width in a 4:2:2 encoding, a ``step`` shorter than a row, or ``data``
    whose length is not ``height * step``.
    """
    key = str(encoding).strip().lower()
    if key not in ENCODINGS:
        raise ValueError(
            f"unsupported image encoding {encoding!r}: expected one of {SUPPORTED} "
            "(convert float, depth or other images to rgb8/bgr8 before sending them)"
        )
    channels, depth, convert = ENCODINGS[key]
    if key.startswith("yuv422") and int(width) % 2:
        raise ValueError(f"{encoding} packs pixels in pairs, so its width must be even, got {width}")
    pixels = pixel_array(width, height, step, data, channels * depth, key)
    if depth == 2:
        # 16-bit channels in the message's byte order, scaled to 8 bits as cv_bridge does
        dtype = np.dtype(">u2" if is_bigendian else "<u2")
        wide = np.ascontiguousarray(pixels).view(dtype).astype(np.uint16)
        pixels = cv2.convertScaleAbs(wide.reshape(int(height), -1), alpha=_U16_TO_U8).reshape(wide.shape)
    else:
        pixels = pixels.reshape(int(height), int(width), channels)
    rgb = convert(pixels)
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


def pixel_array(width: int, height: int, step: int, data, row_bytes_per_pixel: int, encoding: str) -> np.ndarray:
    """``data`` as an ``HxWxB uint8`` view without row padding (B = bytes per pixel), after checking its geometry."""
    height, width, step = int(height), int(width), int(step)
    if height <= 0 or width <= 0:
        raise ValueError(f"empty image: {width}x{height} pixels ({encoding})")
    row = width * row_bytes_per_pixel
    if step < row:
        raise ValueError(
            f"step={step} is shorter than one row: width {width} x {row_bytes_per_pixel} byte(s) per pixel of "
            f"{encoding} = {row} bytes"
        )
    if isinstance(data, np.ndarray):
        flat = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    else:
        flat = np.frombuffer(data, dtype=np.uint8)
    if flat.size != height * step:
        raise ValueError(
            f"data holds {flat.size} bytes, expected height x step = {height} x {step} = {height * step} "
            f"for a {width}x{height} {encoding} image"
        )
    return flat.reshape(height, step)[:, :row].reshape(height, width, row_bytes_per_pixel)


def compressed_to_rgb(data, format: str = "") -> np.ndarray:
    """A JPEG or PNG ``sensor_msgs/CompressedImage`` payload decoded to ``HxWx3 uint8 RGB``.

    The kind is read from the data itself (``format`` is informative, except that a ``compressedDepth`` format is
    refused: that is a depth image). 16-bit PNGs are scaled to 8 bits like 16-bit raw images. Raises ``ValueError``
    for empty, truncated or corrupt data, another kind, or a float/depth image.
    """
    from PIL import Image as PILImage

    data = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if not data:
        raise ValueError(f"compressed image is empty (format {format!r})")
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            kind = img.format
            if kind not in COMPRESSED_FORMATS:
                raise ValueError(f"compressed image is {kind}, expected JPEG or PNG (format field {format!r})")
            if kind == "JPEG" and not _jpeg_complete(data):
                raise ValueError("compressed JPEG is truncated: its scan data has no end-of-image marker")
            # load() raises on truncated data unless ImageFile.LOAD_TRUNCATED_IMAGES was set by someone
            img.load()
            wide = kind == "PNG" and _png16(data)
            if "compresseddepth" in format.replace(" ", "").lower():
                raise ValueError(
                    f"compressed {kind} is a depth image (format {format!r}, pixel mode {img.mode}, 16-bit or float): "
                    "expected an 8- or 16-bit colour or grey image"
                )
            if wide:
                return _png16_to_rgb(data)
            if img.mode not in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
                raise ValueError(
                    f"compressed {kind} has pixel mode {img.mode} (float or another depth): "
                    "expected an 8- or 16-bit colour or grey image"
                )
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except ValueError:
        raise
    except (OSError, SyntaxError, EOFError, PILImage.DecompressionBombError) as err:
        raise ValueError(f"cannot decode compressed image ({len(data)} bytes, format {format!r}): {err}") from err
    return np.ascontiguousarray(rgb)


def _png16(data: bytes) -> bool:
    """True when a PNG's IHDR says 16 bits per channel (byte 24 of the file)."""
    return len(data) > 24 and data[12:16] == b"IHDR" and data[24] == 16


def _png16_to_rgb(data: bytes) -> np.ndarray:
    """A 16-bit grey/RGB(A) PNG decoded by OpenCV and scaled to ``HxWx3 uint8 RGB``."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16:
        raise ValueError(f"cannot decode the 16-bit PNG ({len(data)} bytes)")
    scaled = cv2.convertScaleAbs(pixels, alpha=_U16_TO_U8)
    if scaled.ndim == 2:
        return np.ascontiguousarray(np.repeat(scaled[:, :, None], 3, axis=2))
    # OpenCV decodes colour as BGR(A)
    return np.ascontiguousarray(scaled[:, :, 2::-1])


def _jpeg_complete(data: bytes) -> bool:
    """True when an end-of-image marker (FF D9) follows the last start-of-scan (FF DA).

    Pillow fills a JPEG cut inside its scan data with grey when ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set, and a
    JPEG cut just before its end marker can decode without error at all; this check catches both. FF D9 cannot occur
    inside entropy-coded data (FF is stuffed as FF 00), so the marker after the last scan is the image's own.
    """
    last_scan = data.rfind(b"\xff\xda")
    return last_scan >= 0 and data.find(b"\xff\xd9", last_scan + 2) >= 0
