# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What each edit mode gives the model: the image it starts from and the prompts.

``replace``: the user's prompt, full-strength denoising (the object's pixels play no part).

``remove``: an inpainting model given an empty prompt and a mask the shape of an object tends to paint *an* object
there — the mask's outline itself suggests one. So removal (1) pre-fills the mask from its surroundings with a
classical fast-marching fill (OpenCV Telea), which continues the background's colours and edges into the hole;
(2) starts the diffusion from that fill at ``remove_strength`` < 1, so the sampler refines texture instead of
inventing a new shape; (3) prompts for background and puts the removed labels in the negative prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from grounded_sam_ros.editing.config import REMOVE_NEGATIVE, REMOVE_PROMPT, check_mode

# Neighbourhood (pixels) the Telea fill looks at around each hole pixel
_FILL_RADIUS = 7


@dataclass(frozen=True)
class ModeInputs:
    """The model's start image (HxWx3 uint8 RGB) and prompts for one edit."""

    image: np.ndarray
    prompt: str
    negative_prompt: str


def prefill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (HxWx3 uint8 RGB) with ``mask`` ((H, W) bool) filled in from its surroundings (OpenCV Telea)."""
    import cv2

    return cv2.inpaint(image, mask.astype(np.uint8), _FILL_RADIUS, cv2.INPAINT_TELEA)


def mode_inputs(
    mode: str,
    image: np.ndarray,
    mask: np.ndarray,
    prompt: str,
    negative_prompt: str,
    labels: Sequence[str] = (),
) -> ModeInputs:
    """Start image and prompts of an edit in ``mode``; ``labels`` are the names of the edited instances."""
    check_mode(mode)
    if mode == "replace":
        if not prompt.strip():
            raise ValueError("mode 'replace' needs a prompt saying what to paint (e.g. 'a red sofa, high quality')")
        return ModeInputs(image, prompt, negative_prompt)
    names = ", ".join(dict.fromkeys(label for label in labels if label))
    negative = ", ".join(part for part in (negative_prompt, names, REMOVE_NEGATIVE) if part)
    return ModeInputs(prefill(image, mask), prompt.strip() or REMOVE_PROMPT, negative)
