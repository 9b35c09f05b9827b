# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Masks in, edited image out: weight -> region -> mode inputs -> repaint -> paste back -> blend.

``ImageEditor`` is given a loaded :class:`~grounded_sam_ros.editing.inpainter.Inpainter` and never opens files.
:func:`edit_query` chains it after the Grounded-SAM pipeline: text query -> masks -> edit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from grounded_sam_ros.editing.config import EditConfig, check_mode
from grounded_sam_ros.editing.crop import Region, crop_for_model, full_region, mask_region, paste_back
from grounded_sam_ros.editing.inpainter import Inpainter
from grounded_sam_ros.editing.masks import NothingToEditError, blend, blend_weight, select_instances, union_mask
from grounded_sam_ros.editing.modes import mode_inputs
from grounded_sam_ros.pipeline import validate_image
from grounded_sam_ros.results import Detection, FrameResult


@dataclass
class EditResult:
    """One edit. ``image`` HxWx3 uint8 RGB, same size as the input; ``mask`` (H, W) bool union of the chosen
    instances; ``weight`` (H, W) float32 blend weight of the repainted pixels (0 = input pixel, bit-exact)."""

    image: np.ndarray
    mask: np.ndarray
    weight: np.ndarray
    region: Region
    prompt: str
    negative_prompt: str
    mode: str
    seed: int
    detections: List[Detection] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)  # stage -> seconds


class ImageEditor:
    """Repaints the masked part of an image with a diffusion inpainting model. Not thread-safe."""

    def __init__(self, inpainter: Inpainter, config: EditConfig) -> None:
        self.inpainter = inpainter
        self._config = config.validate()

    @property
    def config(self) -> EditConfig:
        return self._config

    @property
    def resolution(self) -> int:
        return self._config.resolution or self.inpainter.native_resolution

    def update(self, **changes) -> EditConfig:
        """Change settings that need no reload (steps, guidance, strength, masks); the model needs a new editor."""
        model_fields = {"model", "device", "dtype", "local_files_only", "allow_pickle", "cache_dir"}
        if set(changes) & model_fields:
            raise RuntimeError(f"{', '.join(sorted(set(changes) & model_fields))} need a new editor: load_editor()")
        self._config = self._config.replace(**changes)
        return self._config

    def region(self, model_mask: np.ndarray) -> Region:
        """The part of the image the model repaints for ``model_mask`` ((H, W) bool)."""
        height, width = model_mask.shape
        if self._config.crop:
            return mask_region(model_mask, self.resolution, self._config.crop_padding)
        return full_region(width, height, self.resolution)

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str = "",
        negative_prompt: str = "",
        mode: str = "replace",
        seed: int = 0,
        labels: Sequence[str] = (),
    ) -> EditResult:
        """Repaint ``image`` (HxWx3 uint8 RGB) inside ``mask`` ((H, W) bool, source pixels).

        The mask is dilated by ``config.dilate`` and feathered over ``config.feather`` pixels; every pixel farther
        than ``dilate + feather`` from the mask is the input's, bit-exact. ``labels`` name what is removed (remove
        mode puts them in the negative prompt). Raises ``ValueError`` for bad inputs, :class:`NothingToEditError`
        for an empty mask.
        """
        config = self._config
        check_mode(mode)
        image = validate_image(image, max_pixels=100_000_000)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} differs from the image's {image.shape[:2]}: expected (H, W)")
        timings: Dict[str, float] = {}
        start = time.perf_counter()

        # Where the repainted pixels go, and the crop the model sees
        weight = blend_weight(mask, config.dilate, config.feather)
        model_mask = weight > 0
        region = self.region(model_mask)
        inputs = mode_inputs(mode, image, model_mask, prompt, negative_prompt, labels)
        crop_image, crop_mask = crop_for_model(inputs.image, model_mask, region)
        timings["prepare"] = time.perf_counter() - start

        # Repaint the crop
        start = time.perf_counter()
        repainted = self.inpainter(
            crop_image,
            crop_mask,
            inputs.prompt,
            inputs.negative_prompt,
            seed=seed,
            steps=config.steps,
            guidance=config.guidance,
            strength=config.strength_for(mode),
        )
        timings["inpaint"] = time.perf_counter() - start

        # Back to full resolution; the input everywhere the weight is 0
        start = time.perf_counter()
        edited = blend(image, paste_back(image, repainted, region), weight)
        timings["blend"] = time.perf_counter() - start
        return EditResult(
            edited,
            mask.astype(bool),
            weight,
            region,
            inputs.prompt,
            inputs.negative_prompt,
            mode,
            int(seed),
            timings=timings,
        )

    def edit_detections(
        self,
        image: np.ndarray,
        result: FrameResult,
        prompt: str = "",
        negative_prompt: str = "",
        mode: str = "replace",
        seed: int = 0,
        labels: Optional[Sequence[str]] = None,
        indices: Optional[Sequence[int]] = None,
        top_k: int = 0,
    ) -> EditResult:
        """Repaint the chosen instances of ``result`` (see :func:`select_instances`) in ``image`` (HxWx3 uint8 RGB)."""
        if (result.image_height, result.image_width) != image.shape[:2]:
            raise ValueError(
                f"detections are for a {result.image_width}x{result.image_height} image, "
                f"the image is {image.shape[1]}x{image.shape[0]}"
            )
        chosen = select_instances(result, labels, indices, top_k)
        mask = union_mask(chosen, result.image_height, result.image_width)
        if not mask.any():
            raise NothingToEditError(f"the chosen instance(s) of {result.query!r} have empty masks: nothing to repaint")
        edited = self.edit(image, mask, prompt, negative_prompt, mode, seed, [d.label for d in chosen])
        edited.detections = chosen
        return edited


def edit_query(
    pipeline,
    editor: ImageEditor,
    image: np.ndarray,
    query: str,
    prompt: str = "",
    negative_prompt: str = "",
    mode: str = "replace",
    seed: int = 0,
    labels: Optional[Sequence[str]] = None,
    indices: Optional[Sequence[int]] = None,
    top_k: int = 0,
) -> EditResult:
    """Find ``query`` with the Grounded-SAM ``pipeline``, then repaint the chosen instances (text -> masks -> edit)."""
    check_mode(mode)
    found = pipeline(image, query)
    edited = editor.edit_detections(image, found, prompt, negative_prompt, mode, seed, labels, indices, top_k)
    edited.timings = {**found.timings, **edited.timings}
    return edited


def load_editor(config: EditConfig, device: Optional[str] = None) -> ImageEditor:
    """Load the configured inpainting model once and return a ready editor."""
    from grounded_sam_ros.editing.inpainter import load_inpainter

    return ImageEditor(load_inpainter(config, device), config)
