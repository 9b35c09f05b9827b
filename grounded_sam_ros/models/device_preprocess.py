# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pre-processing on the model's device: the official processors' resize, rescale, normalise and pad as tensor ops.

On a GPU the host-side processors (PIL or torchvision on the CPU) cost more than the detector's own launches at
640x480 and keep the host busy inside the frame. Here the frame is copied once as uint8 (from pinned memory,
asynchronously) and everything else runs on the device, in the order the processors use:

1. resize with the processor's output size (Grounding DINO: short side 800 / long side at most 1333; SAM: longest
   side 1024), bilinear with antialiasing, rounded back to whole grey levels as the processors' uint8 resize does;
2. rescale by ``rescale_factor`` (1/255) and normalise with the processor's mean and std;
3. SAM only: zero padding at the bottom/right to its 1024x1024 input.

Agreement with the official processors: the same output size; values differ only where the two resize kernels
round a pixel to neighbouring grey levels (at most one level, ``1 / (255 * std)`` after normalising), which
``test_device_preprocess.py`` asserts. ``PipelineConfig.preprocess`` selects it: ``auto`` uses it on CUDA in half
precision and keeps the host processors (bit-exact with plain transformers) in float32 and on the CPU.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Sequence, Tuple

import numpy as np

PREPROCESS = ("auto", "host", "device")


def use_device_preprocess(mode: str, device: Any, dtype: Any) -> bool:
    """Whether pre-processing runs on the device for ``preprocess=mode`` (see the module doc)."""
    import torch

    if mode not in PREPROCESS:
        raise ValueError(f"preprocess={mode!r}: expected one of {', '.join(PREPROCESS)}")
    if mode == "auto":
        return torch.device(device).type == "cuda" and dtype in (torch.float16, torch.bfloat16)
    return mode == "device"


def upload(image: np.ndarray, device: Any) -> Any:
    """image: HxWx3 uint8 RGB -> (1, 3, H, W) float32 grey levels 0..255 on ``device``; copied as uint8 (4x fewer
    bytes than float), from pinned memory and without blocking the host when the device is a GPU."""
    import torch

    image = np.ascontiguousarray(image)
    host = torch.from_numpy(image if image.flags.writeable else image.copy())  # torch wants a writable array
    if torch.device(device).type == "cuda":
        host = host.pin_memory()
    pixels = host.to(device, non_blocking=True)
    return pixels.permute(2, 0, 1).unsqueeze(0).float()


def resize_levels(pixels: Any, size: Tuple[int, int]) -> Any:
    """pixels: (1, 3, H, W) float grey levels -> (1, 3, h, w) resized bilinearly (antialiased when shrinking) and
    rounded to whole levels in [0, 255], as a uint8 resize returns them."""
    import torch.nn.functional as F

    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    resized = F.interpolate(pixels, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return resized.round_().clamp_(0, 255)


def normalise(pixels: Any, rescale: float, mean: Sequence[float], std: Sequence[float], dtype: Any) -> Any:
    """(pixels * rescale - mean) / std per channel, then cast to ``dtype`` (the model's input precision)."""
    mean_t = _channel_constant(tuple(mean), str(pixels.device))
    std_t = _channel_constant(tuple(std), str(pixels.device))
    return ((pixels * rescale - mean_t) / std_t).to(dtype)


@functools.lru_cache(maxsize=16)
def _channel_constant(values: Tuple[float, ...], device: str) -> Any:
    """(1, C, 1, 1) float32 ``values`` on ``device``, made once: a new tensor per frame would be a blocking
    host-to-device copy inside the frame."""
    import torch

    return torch.tensor(values, dtype=torch.float32, device=device).view(1, -1, 1, 1)


def detector_size(height: int, width: int, size: Dict[str, int]) -> Tuple[int, int]:
    """(h, w) the Grounding DINO processor resizes an HxW image to for ``size`` = {shortest_edge, longest_edge}."""
    from transformers.image_transforms import get_size_with_aspect_ratio

    return tuple(get_size_with_aspect_ratio((height, width), size["shortest_edge"], size.get("longest_edge")))


def sam_size(height: int, width: int, longest_edge: int) -> Tuple[int, int]:
    """(h, w) the SAM processor resizes an HxW image to: the longest side to ``longest_edge``, rounded half up."""
    scale = longest_edge / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def detector_inputs(image: np.ndarray, processor: Any, size: Dict[str, int] | None, device: Any, dtype: Any):
    """image: HxWx3 uint8 RGB -> {``pixel_values`` (1, 3, h, w) ``dtype``, ``pixel_mask`` (1, h, w) int64 ones} on
    ``device``, as Grounding DINO's image processor (``size`` overrides the processor's own, as in set_max_size)."""
    import torch

    size = dict(size or processor.size)
    pixels = upload(image, device)
    resized = resize_levels(pixels, detector_size(image.shape[0], image.shape[1], size))
    values = normalise(resized, processor.rescale_factor, processor.image_mean, processor.image_std, dtype)
    mask = torch.ones((1, *values.shape[-2:]), dtype=torch.long, device=values.device)
    return {"pixel_values": values, "pixel_mask": mask}


def sam_inputs(image: np.ndarray, processor: Any, device: Any, dtype: Any) -> Dict[str, Any]:
    """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, pad_h, pad_w) ``dtype`` on ``device`` (resized by the
    longest side, normalised, zero-padded bottom/right) with ``original_size`` and ``resized_size`` as (h, w)."""
    import torch.nn.functional as F

    height, width = image.shape[:2]
    resized_size = sam_size(height, width, int(processor.size["longest_edge"]))
    resized = resize_levels(upload(image, device), resized_size)
    values = normalise(resized, processor.rescale_factor, processor.image_mean, processor.image_std, dtype)
    pad_h, pad_w = int(processor.pad_size["height"]), int(processor.pad_size["width"])
    values = F.pad(values, (0, pad_w - resized_size[1], 0, pad_h - resized_size[0]))
    return {"pixel_values": values, "original_size": (height, width), "resized_size": resized_size}
