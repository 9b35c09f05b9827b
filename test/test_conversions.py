# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Message <-> array conversions: every encoding, padding, bad input, mask edge cases, result round trips."""

from __future__ import annotations

import array
import io
import math

import numpy as np
import pytest

pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")

from PIL import Image as PILImage
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from grounded_sam_ros.results import Detection, FrameResult, Instance3D
from grounded_sam_ros.ros import conversions as conv

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)  # HxWx3 uint8 RGB, odd sizes on purpose


def _raw_msg(rows: list, height: int, width: int, step: int, encoding: str) -> Image:
    """An Image built byte by byte from already laid-out rows (each ``step`` bytes)."""
    msg = Image()
    msg.height, msg.width, msg.step, msg.encoding = height, width, step, encoding
    msg.data = array.array("B", b"".join(rows))
    return msg


def _pixel_bytes(rgb: np.ndarray, encoding: str) -> list:
    """Row bytes of ``rgb`` in ``encoding``, written pixel by pixel (independent of the code under test)."""
    rows = []
    for y in range(rgb.shape[0]):
        row = bytearray()
        for x in range(rgb.shape[1]):
            r, g, b = (int(v) for v in rgb[y, x])
            row += {
                "rgb8": bytes([r, g, b]),
                "bgr8": bytes([b, g, r]),
                "rgba8": bytes([r, g, b, 17]),
                "bgra8": bytes([b, g, r, 17]),
                "mono8": bytes([r]),
            }[encoding]
        rows.append(bytes(row))
    return rows


# ----------------------------------------------------------------------------------------------------------------------
# Raw images
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("padding", [0, 3])
def test_colour_encodings_with_and_without_step_padding(encoding, padding):
    channels = conv.ENCODING_CHANNELS[encoding]
    step = RGB.shape[1] * channels + padding
    rows = [row + b"\xee" * padding for row in _pixel_bytes(RGB, encoding)]
    msg = _raw_msg(rows, RGB.shape[0], RGB.shape[1], step, encoding)
    out = conv.image_msg_to_rgb(msg)
    assert out.dtype == np.uint8 and out.shape == RGB.shape
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("padding", [0, 1])
def test_mono8_is_replicated_to_three_channels(padding):
    grey = RGB[:, :, 0]
    rows = [row + b"\x00" * padding for row in _pixel_bytes(RGB, "mono8")]
    msg = _raw_msg(rows, grey.shape[0], grey.shape[1], grey.shape[1] + padding, "mono8")
    out = conv.image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, np.stack([grey] * 3, axis=2))


def test_result_is_an_independent_writable_copy():
    msg = _raw_msg(_pixel_bytes(RGB, "rgb8"), 5, 7, 21, "rgb8")
    out = conv.image_msg_to_rgb(msg)
    out[0, 0] = (1, 2, 3)  # must not raise (read-only view) nor change the message
    assert bytes(msg.data[:3]) == bytes(RGB[0, 0])


def test_is_bigendian_does_not_matter_for_8_bit():
    msg = _raw_msg(_pixel_bytes(RGB, "bgr8"), 5, 7, 21, "bgr8")
    msg.is_bigendian = 1
    np.testing.assert_array_equal(conv.image_msg_to_rgb(msg), RGB)


# rgb16, bayer_rggb8 and yuv422 were listed here until issue 15 made them supported (test_encodings.py)
@pytest.mark.parametrize("encoding", ["32FC1", "16UC1", "bayer_rggb16", "nv21", "8UC2", ""])
def test_unsupported_encoding_names_what_is_accepted(encoding):
    msg = _raw_msg([b"\x00" * 8] * 2, 2, 2, 8, encoding)
    with pytest.raises(ValueError, match=r"unsupported image encoding.*rgb8, bgr8, rgba8, bgra8, mono8"):
        conv.image_msg_to_rgb(msg)


def test_data_length_must_be_height_times_step():
    rows = _pixel_bytes(RGB, "rgb8")
    short = _raw_msg(rows[:-1], 5, 7, 21, "rgb8")
    with pytest.raises(ValueError, match=r"data holds 84 bytes, expected height x step = 5 x 21 = 105"):
        conv.image_msg_to_rgb(short)
    long = _raw_msg([*rows, b"\x00"], 5, 7, 21, "rgb8")
    with pytest.raises(ValueError, match="data holds 106 bytes"):
        conv.image_msg_to_rgb(long)


def test_step_shorter_than_a_row_is_rejected():
    msg = _raw_msg([b"\x00" * 20] * 5, 5, 7, 20, "rgb8")
    with pytest.raises(ValueError, match=r"step=20 is shorter than one row.*= 21 bytes"):
        conv.image_msg_to_rgb(msg)


@pytest.mark.parametrize(("height", "width"), [(0, 7), (5, 0), (0, 0)])
def test_zero_size_is_rejected(height, width):
    msg = _raw_msg([], height, width, width * 3, "rgb8")
    with pytest.raises(ValueError, match="empty image"):
        conv.image_msg_to_rgb(msg)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_rgb_to_image_msg_round_trips(encoding):
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = conv.rgb_to_image_msg(RGB, header=header, encoding=encoding)
    channels = conv.ENCODING_CHANNELS[encoding]
    assert (msg.height, msg.width, msg.step, msg.encoding) == (5, 7, 7 * channels, encoding)
    assert msg.header.frame_id == "camera_optical" and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    if encoding == "bgr8":
        assert bytes(msg.data[:3]) == bytes(RGB[0, 0, ::-1])
    np.testing.assert_array_equal(conv.image_msg_to_rgb(msg), RGB)


def test_rgb_to_image_msg_mono8_and_bad_inputs():
    grey = RGB[:, :, 1]
    msg = conv.rgb_to_image_msg(grey, encoding="mono8")
    assert (msg.step, bytes(msg.data)) == (7, grey.tobytes())
    with pytest.raises(ValueError, match="uint8"):
        conv.rgb_to_image_msg(RGB.astype(np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        conv.rgb_to_image_msg(grey, encoding="rgb8")
    with pytest.raises(ValueError, match="unsupported output encoding"):
        conv.rgb_to_image_msg(RGB, encoding="rgb16")
    with pytest.raises(ValueError, match="empty image"):
        conv.rgb_to_image_msg(np.zeros((0, 4, 3), np.uint8))


# ----------------------------------------------------------------------------------------------------------------------
# Compressed images
# ----------------------------------------------------------------------------------------------------------------------


def _encode(image: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(image).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _compressed(data: bytes, fmt: str = "jpeg") -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.data = array.array("B", data)
    return msg


_COLS, _ROWS = np.meshgrid(np.arange(64, dtype=np.uint8) * 4, np.arange(48, dtype=np.uint8) * 5)
SMOOTH = np.stack([_COLS, _ROWS, np.full((48, 64), 128, np.uint8)], axis=2)  # a gradient JPEG keeps closely


NOISY = RNG.integers(0, 256, size=(96, 128, 3), dtype=np.uint8)


def test_png_decodes_exactly():
    out = conv.compressed_msg_to_rgb(_compressed(_encode(RGB, "PNG"), "png"))
    np.testing.assert_array_equal(out, RGB)


def test_grey_and_rgba_png_become_rgb():
    grey = RGB[:, :, 2]
    np.testing.assert_array_equal(
        conv.compressed_msg_to_rgb(_compressed(_encode(grey, "PNG"))), np.stack([grey] * 3, axis=2)
    )
    rgba = np.concatenate([RGB, np.full((5, 7, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(conv.compressed_msg_to_rgb(_compressed(_encode(rgba, "PNG"))), RGB)


def test_jpeg_decodes_close_to_source():
    out = conv.compressed_msg_to_rgb(_compressed(_encode(SMOOTH, "JPEG", quality=95)))
    assert out.shape == SMOOTH.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - SMOOTH.astype(int)).mean() < 3.0


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.6, 0.9, -2, -1])
def test_truncated_jpeg_raises(keep):
    data = _encode(NOISY, "JPEG", quality=90)
    cut = data[: int(len(data) * keep)] if keep > 0 else data[:keep]
    with pytest.raises(ValueError):
        conv.compressed_msg_to_rgb(_compressed(cut))


def test_truncated_jpeg_raises_even_when_pillow_is_lenient(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _encode(NOISY, "JPEG", quality=90)
    scan = data.rfind(b"\xff\xda")
    assert 0 < scan < len(data) // 4  # cut inside the scan data, after every header
    with pytest.raises(ValueError, match="truncated"):
        conv.compressed_msg_to_rgb(_compressed(data[: (scan + len(data)) // 2]))
    with pytest.raises(ValueError, match="truncated"):
        conv.compressed_msg_to_rgb(_compressed(data[:-2]))  # only the end-of-image marker missing


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_png_raises(keep):
    data = _encode(RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8), "PNG")
    with pytest.raises(ValueError):
        conv.compressed_msg_to_rgb(_compressed(data[: int(len(data) * keep)], "png"))


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff\xe0garbage", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20],
    ids=["empty", "text", "bad-jpeg-header", "bad-png-header"],
)
def test_corrupt_data_raises(data):
    with pytest.raises(ValueError):
        conv.compressed_msg_to_rgb(_compressed(data))


def test_other_formats_and_16_bit_are_rejected():
    with pytest.raises(ValueError, match="BMP, expected JPEG or PNG"):
        conv.compressed_msg_to_rgb(_compressed(_encode(RGB, "BMP"), "bmp"))
    depth = PILImage.fromarray(np.full((4, 4), 1000, np.uint16))
    buf = io.BytesIO()
    depth.save(buf, format="PNG")
    with pytest.raises(ValueError, match="16-bit or float"):
        conv.compressed_msg_to_rgb(_compressed(buf.getvalue(), "16UC1; compressedDepth png"))


# ----------------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------------


def _mask_from_pixels(height: int, width: int, pixels: list) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for y, x in pixels:
        mask[y, x] = True
    return mask


def test_mask_to_msg_crops_tight_with_offsets():
    mask = _mask_from_pixels(6, 9, [(1, 2), (3, 5), (2, 3)])
    x, y, img = conv.mask_to_msg(mask)
    assert (x, y) == (2, 1)
    assert (img.width, img.height, img.step, img.encoding) == (4, 3, 4, "mono8")
    expected = bytes([255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255])  # rows y=1..3, cols x=2..5
    assert bytes(img.data) == expected
    np.testing.assert_array_equal(conv.msg_to_mask(x, y, img, 6, 9), mask)


def test_empty_mask():
    x, y, img = conv.mask_to_msg(np.zeros((4, 5), bool))
    assert (x, y, img.width, img.height, len(img.data), img.encoding) == (0, 0, 0, 0, 0, "mono8")
    out = conv.msg_to_mask(x, y, img, 4, 5)
    assert out.shape == (4, 5) and out.dtype == bool and not out.any()


def test_mask_touching_every_border():
    mask = _mask_from_pixels(5, 6, [(0, 3), (4, 2), (2, 0), (1, 5)])
    x, y, img = conv.mask_to_msg(mask)
    assert (x, y, img.width, img.height) == (0, 0, 6, 5)
    np.testing.assert_array_equal(conv.msg_to_mask(x, y, img, 5, 6), mask)


def test_full_mask():
    mask = np.ones((3, 4), bool)
    x, y, img = conv.mask_to_msg(mask)
    assert (x, y, img.width, img.height) == (0, 0, 4, 3) and set(bytes(img.data)) == {255}
    np.testing.assert_array_equal(conv.msg_to_mask(x, y, img, 3, 4), mask)


@pytest.mark.parametrize(("py", "px"), [(0, 0), (3, 5), (2, 1)])
def test_single_pixel_mask(py, px):
    mask = _mask_from_pixels(4, 6, [(py, px)])
    x, y, img = conv.mask_to_msg(mask)
    assert (x, y, img.width, img.height, bytes(img.data)) == (px, py, 1, 1, b"\xff")
    np.testing.assert_array_equal(conv.msg_to_mask(x, y, img, 4, 6), mask)


def test_msg_to_mask_honours_step_padding_and_nonzero():
    img = _raw_msg([bytes([255, 0, 9, 9]), bytes([0, 1, 9, 9])], 2, 2, 4, "mono8")
    out = conv.msg_to_mask(1, 1, img, 3, 3)
    np.testing.assert_array_equal(out, _mask_from_pixels(3, 3, [(1, 1), (2, 2)]))


def test_msg_to_mask_rejects_bad_crops():
    _, _, img = conv.mask_to_msg(np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="does not fit"):
        conv.msg_to_mask(3, 0, img, 4, 4)  # columns 3..4 of a 4-wide image
    with pytest.raises(ValueError, match="does not fit"):
        conv.msg_to_mask(0, 3, img, 4, 4)
    img.encoding = "rgb8"
    with pytest.raises(ValueError, match="expected mono8"):
        conv.msg_to_mask(0, 0, img, 4, 4)
    short = _raw_msg([b"\xff\xff"], 2, 2, 2, "mono8")
    with pytest.raises(ValueError, match="data holds 2 bytes"):
        conv.msg_to_mask(0, 0, short, 4, 4)


# ----------------------------------------------------------------------------------------------------------------------
# Detections and results
# ----------------------------------------------------------------------------------------------------------------------


def _detection(**overrides) -> Detection:
    fields = {
        "label": "red cup",
        "score": 0.8125,
        "box": np.array([1.5, 2.25, 30.0, 40.75], np.float32),
        "mask": _mask_from_pixels(3, 4, [(0, 0), (2, 3), (1, 1)]),
        "mask_x": 10,
        "mask_y": 20,
        "mask_score": 0.625,
        "id": "3",
    }
    fields.update(overrides)
    return Detection(**fields)


def test_detection_to_msg_values():
    det = _detection(score=0.1, instance_3d=None)
    m = conv.detection_to_msg(det)
    assert (m.id, m.label) == ("3", "red cup")
    assert m.score == pytest.approx(np.float32(0.1)) and m.mask_score == 0.625
    assert m.box.tolist() == [1.5, 2.25, 30.0, 40.75]
    assert (m.mask_x, m.mask_y) == (10, 20)
    assert (m.mask.width, m.mask.height, m.mask.encoding) == (4, 3, "mono8")
    assert bytes(m.mask.data) == bytes([255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255])
    assert m.has_3d is False and m.num_points == 0 and m.frame_3d == ""


def test_detection_round_trip_keeps_every_value():
    det = _detection(
        instance_3d=Instance3D(
            position=np.array([0.25, -0.5, 1.75], np.float32),
            size=np.array([0.1, 0.2, 0.3], np.float32),
            num_points=1234,
            valid=True,
            frame_id="depth_optical",
        )
    )
    back = conv.msg_to_detection(conv.detection_to_msg(det))
    assert (back.id, back.label, back.score, back.mask_score) == ("3", "red cup", 0.8125, 0.625)
    assert back.box.dtype == np.float32 and back.box.tolist() == [1.5, 2.25, 30.0, 40.75]
    assert (back.mask_x, back.mask_y) == (10, 20)
    np.testing.assert_array_equal(back.mask, det.mask)
    np.testing.assert_array_equal(back.full_mask(50, 60), det.full_mask(50, 60))
    i3 = back.instance_3d
    assert i3.valid and i3.num_points == 1234 and i3.frame_id == "depth_optical"
    np.testing.assert_allclose(i3.position, [0.25, -0.5, 1.75], rtol=1e-6)
    np.testing.assert_allclose(i3.size, [0.1, 0.2, 0.3], rtol=1e-6)


def test_tracking_fields_round_trip():
    det = _detection(propagated=True, age=7)
    m = conv.detection_to_msg(det)
    assert m.propagated is True and m.age == 7
    back = conv.msg_to_detection(m)
    assert back.propagated is True and back.age == 7
    assert conv.msg_to_detection(conv.detection_to_msg(_detection())).propagated is False


def test_invalid_3d_travels_as_has_3d_false():
    det = _detection(
        instance_3d=Instance3D(
            position=np.full(3, np.nan, np.float32),
            size=np.full(3, np.nan, np.float32),
            num_points=3,
            valid=False,
            frame_id="depth_optical",
        )
    )
    m = conv.detection_to_msg(det)
    assert m.has_3d is False and m.num_points == 3 and m.frame_3d == "depth_optical"
    assert (m.position.x, m.position.y, m.position.z) == (0.0, 0.0, 0.0)
    back = conv.msg_to_detection(m).instance_3d
    assert not back.valid and back.num_points == 3 and all(math.isnan(v) for v in back.position)


def test_detection_without_mask_becomes_empty_image():
    m = conv.detection_to_msg(_detection(mask=None, mask_x=0, mask_y=0))
    assert (m.mask.width, m.mask.height, len(m.mask.data)) == (0, 0, 0)
    back = conv.msg_to_detection(m)
    assert back.mask.shape == (0, 0) and not back.full_mask(5, 5).any()


def test_detection_box_must_have_four_values():
    with pytest.raises(ValueError, match="4 values"):
        conv.detection_to_msg(_detection(box=np.zeros(3, np.float32)))


def test_result_round_trip():
    dets = [_detection(id="0", score=0.9), _detection(id="1", score=0.5, label="person", mask_x=0, mask_y=0)]
    result = FrameResult(image_width=60, image_height=50, query="red cup . person", detections=dets)
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 999
    msg = conv.result_to_msg(result, header)
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("cam", 1700000000, 999)
    assert (msg.image_width, msg.image_height, msg.query) == (60, 50, "red cup . person")
    assert [d.id for d in msg.detections] == ["0", "1"]
    back = conv.msg_to_result(msg)
    assert (back.image_width, back.image_height, back.query) == (60, 50, "red cup . person")
    assert [(d.id, d.label, d.score) for d in back.detections] == [
        ("0", "red cup", pytest.approx(0.9)),
        ("1", "person", pytest.approx(0.5)),
    ]
    for original, restored in zip(dets, back.detections):
        np.testing.assert_array_equal(restored.full_mask(50, 60), original.full_mask(50, 60))
    # The JSON export (scores rounded to 6 decimals, masks as RLE) is identical after the trip through float32
    assert back.to_dict() == result.to_dict()


def test_empty_result():
    msg = conv.result_to_msg(FrameResult(image_width=4, image_height=3, query="cat"))
    assert list(msg.detections) == [] and msg.header.frame_id == ""
    assert conv.msg_to_result(msg).detections == []


def test_readme_full_mask_helper_agrees_with_msg_to_mask():
    """The dependency-free helper printed in README.md gives the same masks as msg_to_mask."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    source = next((b for b in blocks if "def full_mask(" in b), None)
    if source is None:
        pytest.skip("README.md no longer shows the full_mask helper")
    namespace = {}
    exec(source, namespace)
    full_mask = namespace["full_mask"]
    cases = [
        (6, 9, []),  # empty
        (5, 6, [(0, 3), (4, 2), (2, 0), (1, 5)]),  # touches every border
        (4, 6, [(3, 5)]),  # single pixel in the corner
        (7, 8, [(2, 2), (5, 6), (3, 4)]),
    ]
    for height, width, pixels in cases:
        mask = _mask_from_pixels(height, width, pixels)
        det = conv.detection_to_msg(_detection(mask=None))
        det.mask_x, det.mask_y, det.mask = conv.mask_to_msg(mask)
        np.testing.assert_array_equal(full_mask(det, height, width), mask)
        np.testing.assert_array_equal(conv.msg_to_mask(det.mask_x, det.mask_y, det.mask, height, width), mask)
    # A padded mono8 crop (step > width) from another publisher
    det.mask_x, det.mask_y = 1, 2
    det.mask = _raw_msg([bytes([255, 0, 7]), bytes([0, 255, 7])], 2, 2, 3, "mono8")
    expected = _mask_from_pixels(5, 4, [(2, 1), (3, 2)])
    np.testing.assert_array_equal(full_mask(det, 5, 4), expected)
    np.testing.assert_array_equal(conv.msg_to_mask(1, 2, det.mask, 5, 4), expected)


@pytest.mark.parametrize("encoding", ["bayer_gbrg8", "yuv422_yuy2", "bgr16", "mono16", "8UC3"])
def test_rclpy_messages_use_the_shared_field_conversion(encoding):
    from grounded_sam_ros.encodings import ENCODINGS, raw_to_rgb

    channels, depth, _ = ENCODINGS[encoding.lower()]
    height, width = 4, 6
    step = width * channels * depth + 2
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=1, step=step)
    msg.data = array.array("B", RNG.integers(0, 256, size=height * step, dtype=np.uint8).tobytes())
    expected = raw_to_rgb(encoding, width, height, step, True, bytes(msg.data))
    np.testing.assert_array_equal(conv.image_msg_to_rgb(msg), expected)
