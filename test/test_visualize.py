# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""annotate() on fabricated results, and the bundled sample photos and their loader."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from grounded_sam_ros.data import DATA_DIR, load_image, sample_image, sample_images
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection, FrameResult
from grounded_sam_ros.visualize import BANNER_COLOR, RANDOM_WEIGHTS_BANNER, annotate, label_color

GREY = 100
ALPHA = 0.45


def _disc(height: int, width: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2


def _detection(full_mask: np.ndarray, label: str, score: float, box, det_id: str = "0") -> Detection:
    crop, x, y = crop_mask(full_mask)
    return Detection(
        label=label, score=score, box=np.asarray(box, np.float32), mask=crop, mask_x=x, mask_y=y, id=det_id
    )


@pytest.fixture
def scene():
    """A grey 200x320 frame with one 'cup' disc of radius 30 at (200, 120), its box drawn a bit larger."""
    height, width = 200, 320
    image = np.full((height, width, 3), GREY, np.uint8)
    disc = _disc(height, width, 200, 120, 30)
    det = _detection(disc, "cup", 0.8, [160, 80, 240, 160])
    return image, disc, FrameResult(width, height, "cup", [det])


# ---------------------------------------------------------------------------------------------------------------
# annotate


def test_annotate_returns_new_array_and_leaves_input_untouched(scene):
    image, _, result = scene
    before = image.copy()
    out = annotate(image, result, banner="hello")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, image)
    np.testing.assert_array_equal(image, before)


def test_mask_interior_is_alpha_blend_of_label_colour(scene):
    image, disc, result = scene
    out = annotate(image, result, alpha=ALPHA)
    color = np.array(label_color("cup"), np.float64)
    expected = GREY * (1 - ALPHA) + color * ALPHA

    # Interior: well inside the disc (radius < 20 of 30), away from the outline
    interior = _disc(*disc.shape, 200, 120, 20)
    got = out[interior].astype(np.float64)
    assert np.abs(got - expected).max() <= 1.5, (got[0], expected)
    # All interior pixels identical (a flat fill, not noise)
    assert (out[interior] == out[interior][0]).all()


def test_outline_box_and_untouched_background(scene):
    image, disc, result = scene
    out = annotate(image, result)
    color = np.array(label_color("cup"), np.uint8)

    # Outline: the disc's rim pixels (in the mask, with a 4-neighbour outside) take the label colour exactly
    padded = np.pad(disc, 1)
    rim = disc & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    assert rim.sum() > 100
    assert (out[rim] == color).all()

    # Box: its bottom and right edges (no label there) are in the label colour
    assert (out[160, 170:230] == color).all()
    assert (out[90:150, 240] == color).all()

    # Far from box, mask and label: unchanged
    np.testing.assert_array_equal(out[180:, :100], image[180:, :100])
    np.testing.assert_array_equal(out[:60, :150], image[:60, :150])


def test_label_text_sits_above_the_box(scene):
    image, _, result = scene
    out = annotate(image, result)
    color = np.array(label_color("cup"), np.uint8)
    # The label background is a filled strip just above the box's top-left corner, with text in another colour
    strip = out[62:79, 161:190]
    is_bg = (strip == color).all(axis=-1)
    assert is_bg.mean() > 0.5, "label background missing"
    assert (~is_bg).sum() > 10, "no text drawn on the label background"


def test_colour_is_per_label_and_stable_across_processes():
    assert label_color("cup") == label_color("cup")
    colours = {label_color(name) for name in ("cup", "person", "cat", "rocket", "red cup", "table")}
    assert len(colours) >= 4
    # CRC-based, not Python's salted hash(): another interpreter with another hash seed agrees
    code = "from grounded_sam_ros.visualize import label_color; print(label_color('cup'), label_color('person'))"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert got.strip() == f"{label_color('cup')} {label_color('person')}"


def test_same_label_same_colour_in_one_frame():
    height, width = 120, 200
    image = np.zeros((height, width, 3), np.uint8)
    a = _detection(_disc(height, width, 50, 60, 20), "cup", 0.9, [30, 40, 70, 80], "0")
    b = _detection(_disc(height, width, 150, 60, 20), "cup", 0.5, [130, 40, 170, 80], "1")
    out = annotate(image, FrameResult(width, height, "cup", [a, b]))
    np.testing.assert_array_equal(out[60, 50], out[60, 150])
    assert out[60, 50].any()


def test_banner_band_across_the_top(scene):
    image, _, result = scene
    out = annotate(image, result, banner=RANDOM_WEIGHTS_BANNER)
    # Rows above the text (the band's padding) are all banner colour, over the full width
    assert (out[:3] == np.array(BANNER_COLOR, np.uint8)).all()
    # White text inside the band
    band_height = int(np.argmax(~(out[:, 2] == np.array(BANNER_COLOR, np.uint8)).all(axis=-1)))
    assert band_height >= 14
    assert ((out[:band_height] == 255).all(axis=-1)).sum() > 30
    # Without a banner the top rows stay as they were
    plain = annotate(image, result)
    np.testing.assert_array_equal(plain[:20, :100], image[:20, :100])


def test_banner_fits_a_narrow_portrait_frame():
    image = np.full((540, 360, 3), 50, np.uint8)
    out = annotate(image, FrameResult(360, 540, "cup"), banner=RANDOM_WEIGHTS_BANNER)
    white = (out[:60] == 255).all(axis=-1)
    cols = np.flatnonzero(white.any(axis=0))
    assert cols.size and cols[0] > 0 and cols[-1] < 359, "banner text clipped at the image edge"


def test_boxes_only_empty_and_clipped_masks_do_not_fail():
    height, width = 100, 150
    image = np.full((height, width, 3), 30, np.uint8)
    dets = [
        Detection(label="cup", score=0.9, box=np.array([10, 10, 60, 50], np.float32)),  # mask None (boxes only)
        Detection(label="cat", score=0.8, box=np.array([-20, -5, 500, 400], np.float32), mask=np.zeros((0, 0), bool)),
        # A crop that sticks out of the frame is clipped, not an IndexError
        Detection(
            label="dog",
            score=0.7,
            box=np.array([120, 80, 150, 100], np.float32),
            mask=np.ones((40, 60), bool),
            mask_x=120,
            mask_y=80,
        ),
    ]
    out = annotate(image, FrameResult(width, height, "cup . cat . dog", dets))
    assert out.shape == image.shape
    # Box-only detection: its bottom edge is drawn in its colour, its inside is not filled
    np.testing.assert_array_equal(out[50, 20:50], np.tile(np.array(label_color("cup"), np.uint8), (30, 1)))
    np.testing.assert_array_equal(out[30, 20:50], image[30, 20:50])


def test_annotate_rejects_bad_input(scene):
    image, _, result = scene
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        annotate(image[..., 0], result)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        annotate(image.astype(np.float32), result)
    with pytest.raises(ValueError, match="320x200 image but the image is 100x200"):
        annotate(image[:, :100], result)
    with pytest.raises(ValueError, match="alpha"):
        annotate(image, result, alpha=1.5)


def test_annotate_on_a_real_photo_with_unicode_label():
    image = load_image(sample_image("coffee"))
    height, width = image.shape[:2]
    det = _detection(_disc(height, width, 300, 200, 80), "café crème", 0.66, [220, 120, 380, 280])
    out = annotate(image, FrameResult(width, height, "café crème", [det]), banner="real photo")
    assert out.shape == image.shape
    assert not np.array_equal(out, image)


# ---------------------------------------------------------------------------------------------------------------
# sample photos and load_image


def test_sample_photos_are_real_rgb_and_documented():
    paths = sample_images()
    assert len(paths) >= 3
    sources = (DATA_DIR / "SOURCES.md").read_text()
    shapes = []
    for path in paths:
        assert path.name in sources, f"{path.name} has no provenance entry in SOURCES.md"
        image = load_image(path)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        assert image.std() > 20, f"{path.name} looks flat, not like a photo"
        shapes.append(image.shape[:2])
    assert any(w % 2 == 1 for _, w in shapes), "want an odd-width image"
    assert any(h > w for h, w in shapes), "want a portrait image"
    assert sum(p.stat().st_size for p in paths) < 1_000_000
    assert "public domain" in sources.lower() and "CC0" in sources


def test_sample_image_by_name():
    assert sample_image("coffee").name == "coffee.jpg"
    assert sample_image("coffee.jpg") == sample_image("coffee")
    with pytest.raises(ValueError, match="available"):
        sample_image("no-such-photo")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "F", "LA"])
def test_load_image_converts_any_mode_to_rgb(tmp_path, mode):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, :4] = (200, 40, 10)
    source = Image.fromarray(rgb)
    if mode == "I;16":
        img = Image.fromarray((np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).astype(np.uint16))
    elif mode == "F":
        img = Image.fromarray(np.linspace(-1.0, 3.5, 48, dtype=np.float32).reshape(6, 8))
    elif mode == "P":
        img = source.convert(mode, palette=Image.Palette.ADAPTIVE)  # exact for two colours
    else:
        img = source.convert(mode)
    path = tmp_path / f"img_{mode.replace(';', '')}.{'tiff' if mode in ('CMYK', 'I;16', 'F') else 'png'}"
    img.save(path)
    out = load_image(path)
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8
    if mode in ("RGBA", "P"):
        np.testing.assert_array_equal(out, rgb)
    if mode in ("I;16", "F"):
        # Scaled to the full 8-bit range (negatives to 0), grey in all three channels
        assert out.max() == 255 and out.min() == 0 and (out[..., 0] == out[..., 1]).all()


def test_load_image_honours_exif_orientation(tmp_path):
    # 2 rows x 3 columns; stored pixels, shown rotated 90° clockwise (orientation 6) by viewers
    stored = np.array(
        [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 0, 0], [255, 255, 255], [128, 128, 128]]], np.uint8
    )
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    img.save(path, exif=exif)
    out = load_image(path)
    # Independent expectation: rotating the stored array 90° clockwise
    np.testing.assert_array_equal(out, np.rot90(stored, k=-1))


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    bogus = tmp_path / "not_an_image.jpg"
    bogus.write_text("hello")
    with pytest.raises(ValueError, match="cannot read"):
        load_image(bogus)
