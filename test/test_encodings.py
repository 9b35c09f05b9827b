# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Every camera encoding -> RGB, each against an expectation computed here (sampling, formulas, byte packing)."""

from __future__ import annotations

import array
import io

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from grounded_sam_ros.encodings import compressed_to_rgb, raw_to_rgb

RNG = np.random.default_rng(5)


def smooth_rgb(height: int, width: int) -> np.ndarray:
    """HxWx3 uint8 RGB of slow ramps (no edges, so demosaicing should recover it closely)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 30 + 190 * x / width
    g = 220 - 170 * y / height
    b = 100 + 60 * np.sin(x / 9.0) * np.cos(y / 11.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).round().astype(np.uint8)


def padded(rows: np.ndarray, padding: int) -> tuple[bytes, int]:
    """(data, step) of HxN uint8 rows with ``padding`` junk bytes after each row."""
    h, n = rows.shape
    out = np.full((h, n + padding), 0xEE, np.uint8)
    out[:, :n] = rows
    return out.tobytes(), n + padding


# ----------------------------------------------------------------------------------------------------------------------
# Bayer
# ----------------------------------------------------------------------------------------------------------------------

# pattern -> channel (0=R, 1=G, 2=B) at (row % 2, col % 2)
PATTERNS = {
    "bayer_rggb8": ((0, 1), (1, 2)),
    "bayer_bggr8": ((2, 1), (1, 0)),
    "bayer_gbrg8": ((1, 2), (0, 1)),
    "bayer_grbg8": ((1, 0), (2, 1)),
}


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """What a Bayer sensor records: one channel per pixel, chosen by the pattern."""
    h, w, _ = rgb.shape
    rows, cols = np.mgrid[0:h, 0:w]
    channel = np.array(PATTERNS[pattern])[rows % 2, cols % 2]
    return np.take_along_axis(rgb, channel[:, :, None], axis=2)[:, :, 0]


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize(("height", "width", "padding"), [(40, 52, 0), (37, 45, 3)])
def test_bayer_demosaics_close_to_the_source_in_smooth_regions(pattern, height, width, padding):
    rgb = smooth_rgb(height, width)
    data, step = padded(mosaic(rgb, pattern), padding)
    out = raw_to_rgb(pattern, width, height, step, False, data)
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    inner = (slice(2, -2), slice(2, -2))  # bilinear demosaicing is exact only away from the border
    error = np.abs(out[inner].astype(int) - rgb[inner].astype(int))
    assert error.max() <= 6, f"{pattern}: max error {error.max()}"
    # Decoding with another pattern's layout is far off: the test tells the patterns apart
    for other in PATTERNS:
        if other != pattern:
            wrong = raw_to_rgb(other, width, height, step, False, data)
            assert np.abs(wrong[inner].astype(int) - rgb[inner].astype(int)).max() > 40


def test_bayer_data_as_a_numpy_array_like_rosbags_gives_the_same():
    rgb = smooth_rgb(8, 10)
    raw = mosaic(rgb, "bayer_grbg8")
    from_bytes = raw_to_rgb("bayer_grbg8", 10, 8, 10, False, raw.tobytes())
    from_array = raw_to_rgb("bayer_grbg8", 10, 8, 10, False, raw.reshape(-1))
    from_ros_array = raw_to_rgb("bayer_grbg8", 10, 8, 10, False, array.array("B", raw.tobytes()))
    np.testing.assert_array_equal(from_bytes, from_array)
    np.testing.assert_array_equal(from_bytes, from_ros_array)


# ----------------------------------------------------------------------------------------------------------------------
# YUV 4:2:2
# ----------------------------------------------------------------------------------------------------------------------


def bt601_video_range(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, Cb, Cr (float) of RGB by ITU-R BT.601 with video range (Y 16..235, Cb/Cr 16..240)."""
    r, g, b = (rgb[:, :, k].astype(np.float64) / 255.0 for k in range(3))
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return y, cb, cr


def pack_422(rgb: np.ndarray, order: str) -> np.ndarray:
    """HxWx3 RGB (pixel pairs equal in colour) -> Hx(2W) bytes in UYVY or YUYV order."""
    y, cb, cr = (np.clip(np.round(c), 0, 255).astype(np.uint8) for c in bt601_video_range(rgb))
    h, w = y.shape
    out = np.empty((h, w // 2, 4), np.uint8)
    u, v = cb[:, 0::2], cr[:, 0::2]  # shared by each pair
    y0, y1 = y[:, 0::2], y[:, 1::2]
    parts = (u, y0, v, y1) if order == "uyvy" else (y0, u, y1, v)
    for k, part in enumerate(parts):
        out[:, :, k] = part
    return out.reshape(h, 2 * w)


@pytest.mark.parametrize(("encoding", "order"), [("yuv422", "uyvy"), ("yuv422_yuy2", "yuyv")])
@pytest.mark.parametrize("padding", [0, 6])
def test_yuv422_decodes_to_the_bt601_source(encoding, order, padding):
    # Colours chosen per pixel pair (4:2:2 shares chroma within a pair), inside the RGB gamut of video range
    pairs = RNG.integers(20, 236, size=(7, 5, 3), dtype=np.uint8)
    rgb = np.repeat(pairs, 2, axis=1)  # 7x10
    data, step = padded(pack_422(rgb, order), padding)
    out = raw_to_rgb(encoding, 10, 7, step, False, data)
    # Rounding Y/Cb/Cr to bytes moves RGB by at most ~2 levels
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 3


def test_yuv422_black_and_white_are_video_range_extremes():
    uyvy = np.array([[128, 16, 128, 235]], np.uint8)  # U Y0 V Y1: black then white
    out = raw_to_rgb("yuv422", 2, 1, 4, False, uyvy.tobytes())
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [255, 255, 255]])


def test_yuv422_odd_width_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="width must be even, got 5"):
        raw_to_rgb("yuv422_yuy2", 5, 2, 10, False, bytes(20))


# ----------------------------------------------------------------------------------------------------------------------
# 16-bit and generic 8-bit
# ----------------------------------------------------------------------------------------------------------------------

ORDER_16 = {"rgb16": (0, 1, 2), "bgr16": (2, 1, 0), "rgba16": (0, 1, 2, None), "bgra16": (2, 1, 0, None)}


@pytest.mark.parametrize("encoding", [*ORDER_16, "mono16"])
@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("padding", [0, 4])
def test_16_bit_is_scaled_like_cv_bridge(encoding, bigendian, padding):
    height, width = 5, 7  # odd on purpose
    rgb16 = RNG.integers(0, 65536, size=(height, width, 3), dtype=np.uint16)
    rgb16[0, :4] = [[0, 0, 0], [65535, 65535, 65535], [128, 129, 385], [32767, 32768, 257]]
    if encoding == "mono16":
        channels = rgb16[:, :, :1]
    else:
        order = ORDER_16[encoding]
        alpha = np.full((height, width), 1234, np.uint16)
        channels = np.stack([rgb16[:, :, k] if k is not None else alpha for k in order], axis=2)
    raw = channels.astype(">u2" if bigendian else "<u2").view(np.uint8).reshape(height, -1)
    data, step = padded(raw, padding)
    out = raw_to_rgb(encoding, width, height, step, bigendian, data)
    # cv_bridge: convertTo(CV_8U, 255/65535), i.e. round(v / 257)
    source = rgb16 if encoding != "mono16" else np.repeat(rgb16[:, :, :1], 3, axis=2)
    expected = np.floor(source.astype(np.float64) * 255.0 / 65535.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 1].tolist() == [255, 255, 255] and out[0, 2].tolist()[:1] in ([0], [1])


@pytest.mark.parametrize(
    ("generic", "named", "channels"), [("8UC1", "mono8", 1), ("8UC3", "bgr8", 3), ("8UC4", "bgra8", 4)]
)
def test_generic_8_bit_reads_as_cv_bridge_passthrough(generic, named, channels):
    pixels = RNG.integers(0, 256, size=(3, 5, channels), dtype=np.uint8)
    data, step = padded(pixels.reshape(3, -1), 2)
    out = raw_to_rgb(generic, 5, 3, step, False, data)
    np.testing.assert_array_equal(out, raw_to_rgb(named, 5, 3, step, False, data))
    # Independent: OpenCV channel order is B, G, R(, A)
    expected = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels[:, :, 2::-1]
    np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------------------------------------------------------------------
# Malformed data
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "width", "height", "step", "size", "reason"),
    [
        ("bayer_rggb8", 4, 4, 4, 15, "data holds 15 bytes, expected height x step = 4 x 4 = 16"),
        ("rgb16", 4, 2, 20, 40, "step=20 is shorter than one row: width 4 x 6 byte"),
        ("mono16", 0, 2, 0, 0, "empty image"),
        ("yuv422", 4, 2, 8, 17, "data holds 17 bytes"),
        ("bgra16", 2, 2, 16, 33, "expected height x step = 2 x 16 = 32"),
        ("bayer_rggb16", 2, 2, 4, 8, "unsupported image encoding 'bayer_rggb16': expected one of rgb8"),
        ("32FC1", 2, 2, 8, 16, "convert float, depth or other images"),
    ],
)
def test_malformed_data_is_a_value_error_with_the_reason(encoding, width, height, step, size, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        raw_to_rgb(encoding, width, height, step, False, bytes(size))


# ----------------------------------------------------------------------------------------------------------------------
# 16-bit PNG in CompressedImage
# ----------------------------------------------------------------------------------------------------------------------


def test_16_bit_colour_png_is_scaled_like_16_bit_raw():
    rgb16 = RNG.integers(0, 65536, size=(6, 9, 3), dtype=np.uint16)
    ok, png = cv2.imencode(".png", rgb16[:, :, ::-1])  # OpenCV writes BGR
    assert ok and png.tobytes()[24] == 16
    out = compressed_to_rgb(png.tobytes(), "rgb16; png compressed bgr16")
    np.testing.assert_array_equal(out, np.floor(rgb16 / 257.0 + 0.5).astype(np.uint8))


def test_16_bit_grey_png_written_by_pillow():
    grey = RNG.integers(0, 65536, size=(5, 8), dtype=np.uint16)
    buffer = io.BytesIO()
    PILImage.fromarray(grey).save(buffer, format="PNG")
    out = compressed_to_rgb(buffer.getvalue(), "mono16; png")
    expected = np.floor(grey / 257.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, np.repeat(expected[:, :, None], 3, axis=2))


def test_compressed_depth_is_still_refused():
    depth = PILImage.fromarray(np.full((4, 4), 1000, np.uint16))
    buffer = io.BytesIO()
    depth.save(buffer, format="PNG")
    with pytest.raises(ValueError, match="depth image"):
        compressed_to_rgb(buffer.getvalue(), "16UC1; compressedDepth png")
