# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Draw a :class:`FrameResult` on its image: mask fill and outline, box, label and score, optional banner.

Pure numpy + Pillow (no ROS, no OpenCV). Masks are blended only inside their tight crops, so the cost grows with the
area of the instances, not with the number of instances times the image size.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from grounded_sam_ros.results import FrameResult

Color = tuple[int, int, int]

# Distinct, saturated colours that stay readable under white or black text
_PALETTE: tuple[Color, ...] = (
    (255, 56, 56),
    (72, 249, 10),
    (0, 194, 255),
    (255, 157, 151),
    (255, 178, 29),
    (146, 204, 23),
    (61, 219, 134),
    (26, 147, 52),
    (0, 212, 187),
    (44, 153, 168),
    (52, 69, 147),
    (100, 115, 255),
    (0, 24, 236),
    (132, 56, 255),
    (82, 0, 133),
    (203, 56, 255),
    (255, 149, 200),
    (255, 55, 199),
    (207, 210, 49),
    (255, 112, 31),
)

BANNER_COLOR: Color = (180, 0, 0)
RANDOM_WEIGHTS_BANNER = "RANDOM WEIGHTS \u2014 results are meaningless"


def label_color(label: str) -> Color:
    """RGB colour of a label, the same in every frame and every run (CRC32 of the label, not Python's ``hash``)."""
    return _PALETTE[zlib.crc32(label.encode("utf-8")) % len(_PALETTE)]


def id_color(track_id: str) -> Color:
    """RGB colour of a track id, the same in every frame (CRC32 of the id, like :func:`label_color`)."""
    return _PALETTE[zlib.crc32(f"id:{track_id}".encode()) % len(_PALETTE)]


def detection_color(det, color_by: str = "label") -> Color:
    """The colour of a detection: per label (default) or per track id (``color_by="id"``, for tracking)."""
    return id_color(det.id) if color_by == "id" else label_color(det.label)


def annotate(
    image: np.ndarray,
    result: FrameResult,
    banner: str | None = None,
    alpha: float = 0.45,
    color_by: str = "label",
) -> np.ndarray:
    """Draw every detection of ``result`` on a copy of ``image``.

    image: HxWx3 uint8 RGB, the frame ``result`` was computed on (never modified). Each instance gets a
    semi-transparent fill of its mask (opacity ``alpha``), a mask outline, its box and ``"label 0.87"`` text, in the
    colour of its label (:func:`label_color`). ``banner``, when given, is written in a red band across the top (used
    for ``RANDOM WEIGHTS — results are meaningless`` with tiny random models). Returns a new HxWx3 uint8 RGB array.
    ``color_by="id"`` (tracking) colours each instance by its track id instead and prefixes its text with ``#id``
    (``~`` after the label when the mask was propagated, not detected).
    """
    if color_by not in ("label", "id"):
        raise ValueError(f"color_by={color_by!r}: expected 'label' or 'id'")
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be an HxWx3 uint8 RGB array, got {got}")
    height, width = image.shape[:2]
    if (result.image_height, result.image_width) != (height, width):
        raise ValueError(
            f"result is for a {result.image_width}x{result.image_height} image but the image is {width}x{height}: "
            "annotate the frame the result was computed on"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r}: expected a number in [0, 1]")

    from PIL import Image

    # Pillow copies an RGB array into its own buffer, so drawing never touches ``image``
    canvas = Image.fromarray(image)
    thickness = max(2, round(min(height, width) / 360))

    # Fill and outline each mask inside its crop; lowest score first so the best instance ends on top
    for det in reversed(result.detections):
        if det.mask is not None and det.mask.size:
            _paint_mask(canvas, det.mask, det.mask_x, det.mask_y, detection_color(det, color_by), alpha, thickness)

    return _draw_boxes_and_text(canvas, result, banner, thickness, color_by)


def _paint_mask(canvas, mask: np.ndarray, x: int, y: int, color: Color, alpha: float, thickness: int) -> None:
    """Blend ``color`` into ``canvas`` (PIL RGB) under an (h, w) bool crop at column ``x``, row ``y`` (in place).

    The blend itself is Pillow's masked paste (C, touches only the crop); numpy builds the alpha and outline masks.
    """
    from PIL import Image

    h, w = mask.shape
    # Clip the crop to the image so a malformed offset cannot index out of bounds
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.width), min(y + h, canvas.height)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.ascontiguousarray(mask[y0 - y : y1 - y, x0 - x : x1 - x], dtype=bool)
    mh, mw = mask.shape

    # Semi-transparent fill
    fill_alpha = mask.view(np.uint8) * np.uint8(round(alpha * 255))
    canvas.paste(color, (x0, y0, x1, y1), Image.fromarray(fill_alpha))

    # Outline: mask pixels within `thickness` (4-neighbour steps) of the outside; the crop border counts as outside
    t = thickness
    padded = np.zeros((mh + 2 * t, mw + 2 * t), dtype=bool)
    padded[t : t + mh, t : t + mw] = mask
    inner = mask.copy()
    for d in range(1, t + 1):
        inner &= padded[t - d : t - d + mh, t : t + mw]
        inner &= padded[t + d : t + d + mh, t : t + mw]
        inner &= padded[t : t + mh, t - d : t - d + mw]
        inner &= padded[t : t + mh, t + d : t + d + mw]
    edge = mask & ~inner
    canvas.paste(color, (x0, y0, x1, y1), Image.fromarray(edge.view(np.uint8) * np.uint8(255)))


@lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _fit_font(draw, text: str, size: int, max_width: int):
    """The default font at ``size``, shrunk until ``text`` fits in ``max_width`` pixels (not below 8 px)."""
    font = _font(size)
    while size > 8:
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= max_width:
            break
        size = max(8, min(size - 1, int(size * max_width / max(right - left, 1))))
        font = _font(size)
    return font


_ASCII_FALLBACKS = str.maketrans(
    {"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def _drawable(text: str) -> str:
    """``text`` with the dashes and quotes that Pillow's default font has no glyph for replaced by ASCII."""
    return text.translate(_ASCII_FALLBACKS)


def _text_color(background: Color) -> Color:
    luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


def _draw_boxes_and_text(
    canvas, result: FrameResult, banner: str | None, thickness: int, color_by: str = "label"
) -> np.ndarray:
    from PIL import ImageDraw

    width, height = canvas.size
    draw = ImageDraw.Draw(canvas)
    font = _font(max(11, round(min(height, width) / 40)))

    # Banner geometry first: labels are kept below it so it never hides them and they never hide it
    banner_bottom = 0
    if banner:
        banner = _drawable(banner)
        banner_font = _fit_font(draw, banner, max(14, round(min(height, width) / 22)), width - 8)
        bl, bt, br, bb = draw.textbbox((0, 0), banner, font=banner_font)
        banner_pad = max(4, (bb - bt) // 3)
        banner_bottom = min(height, bb - bt + 2 * banner_pad)

    # Lowest score first so the best instance's box and label end on top
    for det in reversed(result.detections):
        color = detection_color(det, color_by)
        x0, y0, x1, y1 = (float(v) for v in det.box)
        x0, x1 = sorted((min(max(x0, 0.0), width - 1.0), min(max(x1, 0.0), width - 1.0)))
        y0, y1 = sorted((min(max(y0, 0.0), height - 1.0), min(max(y1, 0.0), height - 1.0)))
        draw.rectangle((x0, y0, x1, y1), outline=color, width=thickness)

        # Label above the box, or inside its top edge when there is no room above
        text = _drawable(f"{det.label} {det.score:.2f}")
        if color_by == "id":
            text = f"#{det.id} {_drawable(det.label)}{'~' if det.propagated else ''} {det.score:.2f}"
        tl, tt, tr, tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tr - tl, tb - tt
        pad = max(2, th // 5)
        box_h = th + 2 * pad
        ty = y0 - box_h if y0 - box_h >= banner_bottom else max(y0, banner_bottom)
        tx = min(max(x0, 0.0), max(width - tw - 2 * pad, 0.0))
        draw.rectangle((tx, ty, tx + tw + 2 * pad, ty + box_h), fill=color)
        draw.text((tx + pad - tl, ty + pad - tt), text, fill=_text_color(color), font=font)

    if banner:
        draw.rectangle((0, 0, width, banner_bottom), fill=BANNER_COLOR)
        tx = max(banner_pad, (width - (br - bl)) // 2)
        draw.text((tx - bl, banner_pad - bt), banner, fill=(255, 255, 255), font=banner_font)

    return np.array(canvas, dtype=np.uint8)
