# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 / EdgeTAM input preparation without torchvision.

transformers' ``Sam2ImageProcessorFast`` and ``Sam2VideoVideoProcessor`` import torchvision, which cannot load with
the CPU torch here. Their algorithm, written out from the installed source (transformers 5.24,
``image_processing_sam2.py``, ``video_processing_sam2_video.py``, ``processing_sam2.py``, ``TorchvisionBackend``):

1. **resize** the whole frame to ``size`` (1024x1024) *without* keeping the aspect ratio and without padding:
   bilinear, ``align_corners=False``, antialias on. torchvision resizes uint8 CPU tensors natively in uint8 (rounded
   results); elsewhere it resizes in float32, rounds and casts back to uint8. Both are done here the same way.
2. **rescale and normalise** in float32 in one step: ``(x - 255 * mean) / (255 * std)``, ImageNet mean/std.
3. **boxes / points**: source pixels scaled per axis to the resized frame: ``x * S / W``, ``y * S / H``.
4. **masks**: the decoder's low-resolution logits (``S / 4`` square) are resized bilinearly straight to the source
   size (``Sam2ImageProcessor.post_process_masks``); the video processor goes through ``S x S`` first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

from grounded_sam_ros.models.loading import LoadOptions, offline_requested

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONFIG_NAME = "preprocessor_config.json"


@dataclass
class Sam2Preprocessor:
    """What ``preprocessor_config.json`` of a SAM 2 / EdgeTAM checkpoint says, and the transforms it implies."""

    size: Tuple[int, int] = (1024, 1024)  # (height, width) of the model input
    image_mean: List[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    image_std: List[float] = field(default_factory=lambda: list(IMAGENET_STD))
    rescale_factor: float = 1.0 / 255.0

    @classmethod
    def from_dict(cls, config: dict) -> "Sam2Preprocessor":
        size = config.get("size") or {"height": 1024, "width": 1024}
        if "height" not in size or "width" not in size:
            raise ValueError(f"SAM 2 preprocessor size must be {{'height', 'width'}}, got {size}")
        if config.get("resample", 2) != 2 or not config.get("do_resize", True):
            raise ValueError("only the SAM 2 default resize (bilinear, resample=2) is implemented")
        return cls(
            size=(int(size["height"]), int(size["width"])),
            image_mean=list(config.get("image_mean", IMAGENET_MEAN)),
            image_std=list(config.get("image_std", IMAGENET_STD)),
            rescale_factor=float(config.get("rescale_factor", 1.0 / 255.0)),
        )

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "Sam2Preprocessor":
        """Read ``preprocessor_config.json`` from a local directory or the Hub cache; SAM 2's defaults when absent."""
        path = Path(model_id).expanduser()
        if path.is_dir():
            file = path / CONFIG_NAME
            return cls.from_dict(json.loads(file.read_text())) if file.is_file() else cls()
        from transformers.utils import cached_file

        resolved = cached_file(
            model_id,
            CONFIG_NAME,
            cache_dir=options.cache_dir or None,
            local_files_only=offline_requested(options),
            _raise_exceptions_for_missing_entries=False,
        )
        return cls.from_dict(json.loads(Path(resolved).read_text())) if resolved else cls()

    def save_pretrained(self, out_dir: Any) -> None:
        """Write a ``preprocessor_config.json`` that transformers' SAM 2 processors read the same way."""
        config = asdict(self)
        config.update(
            image_processor_type="Sam2ImageProcessorFast",
            size={"height": self.size[0], "width": self.size[1]},
            mask_size={"height": self.size[0] // 4, "width": self.size[1] // 4},
            do_resize=True,
            do_rescale=True,
            do_normalize=True,
            do_convert_rgb=True,
            resample=2,
        )
        (Path(out_dir) / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")

    def pixel_values(self, image: np.ndarray, device: Any = "cpu") -> Any:
        """image: HxWx3 uint8 RGB -> (1, 3, S, S) float32 tensor on ``device``, resized and normalised."""
        import torch
        from torch.nn import functional

        pixels = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None]
        if tuple(pixels.shape[-2:]) != self.size:
            if pixels.device.type == "cpu":
                # torchvision's CPU path: native uint8 bilinear+antialias kernel
                pixels = functional.interpolate(pixels, size=self.size, mode="bilinear", align_corners=False, antialias=True)
            else:
                resized = functional.interpolate(
                    pixels.float(), size=self.size, mode="bilinear", align_corners=False, antialias=True
                )
                pixels = resized.round_().clamp_(0, 255).to(torch.uint8)
        mean = torch.tensor(self.image_mean, device=pixels.device) / self.rescale_factor
        std = torch.tensor(self.image_std, device=pixels.device) / self.rescale_factor
        return (pixels.float() - mean[:, None, None]) / std[:, None, None]

    def scale_boxes(self, boxes: np.ndarray, original_size: Tuple[int, int]) -> Any:
        """boxes: (N, 4) float32 XYXY source pixels -> (N, 4) float32 tensor in pixels of the S x S model input."""
        import torch

        height, width = original_size
        coords = torch.as_tensor(np.asarray(boxes, dtype=np.float32)).reshape(-1, 2, 2).clone()
        coords[..., 0] = coords[..., 0] * (self.size[1] / width)
        coords[..., 1] = coords[..., 1] * (self.size[0] / height)
        return coords.reshape(-1, 4)
