# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Sample photos shipped with the package (public domain / CC0, see ``SOURCES.md``) and an image loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def sample_images() -> list[Path]:
    """Paths of the bundled sample photos, sorted by name."""
    return sorted(p for p in DATA_DIR.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def sample_image(name: str) -> Path:
    """Path of one bundled sample photo by stem (``"coffee"``) or file name (``"coffee.jpg"``)."""
    for path in sample_images():
        if name in (path.stem, path.name):
            return path
    names = ", ".join(p.stem for p in sample_images())
    raise ValueError(f"no sample image named {name!r}; available: {names}")


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB.

    Any PIL mode (greyscale, palette, RGBA, CMYK, 16-bit) is converted to RGB, and the EXIF orientation tag is applied
    so the array is upright as a viewer shows it. Raises ``FileNotFoundError`` for a missing file and ``ValueError``
    for a file PIL cannot read as an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith(("I", "F")):
                # 16/32-bit integer or float greyscale: scale the peak to 255 rather than clipping
                arr = np.clip(np.asarray(img, dtype=np.float64), 0.0, None)
                peak = arr.max() if arr.size and arr.max() > 0 else 1.0
                img = Image.fromarray((arr * (255.0 / peak) + 0.5).astype(np.uint8))
            rgb = img.convert("RGB")
            return np.array(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise ValueError(
            f"cannot read {path} as an image ({exc}); expected a JPEG, PNG or other PIL-readable file"
        ) from exc
