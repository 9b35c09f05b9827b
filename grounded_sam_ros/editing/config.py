# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One typed configuration object for editing: which inpainting model, and how masks become an edit.

Per-edit inputs (prompt, negative prompt, mode, seed, which instances) are arguments of
:meth:`grounded_sam_ros.editing.editor.ImageEditor.edit`; everything that stays the same between edits lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from grounded_sam_ros.config import DEVICES_HELP, _valid_device

DEFAULT_INPAINTER = "stable-diffusion-v1-5/stable-diffusion-inpainting"
MODES = ("replace", "remove")
EDIT_DTYPES = ("auto", "float32", "float16", "bfloat16")
# What `remove` asks for instead of an object (see grounded_sam_ros.editing.modes)
REMOVE_PROMPT = "empty background, seamless continuation of the surroundings, nothing there"
REMOVE_NEGATIVE = "object, person, animal, text, watermark, frame, blurry, distorted"


@dataclass
class EditConfig:
    """Settings of an inpainting editor.

    ``model`` is a Hub id or a local directory of a diffusers inpainting pipeline (SD 1.5, SD 2 or SDXL inpainting;
    anything ``AutoPipelineForInpainting`` loads). Mask fields are pixels of the source image.
    """

    # Model
    model: str = DEFAULT_INPAINTER
    device: str = "auto"
    dtype: str = "auto"  # auto: float16 on CUDA, float32 on CPU
    local_files_only: bool = False
    allow_pickle: bool = False
    cache_dir: str = ""

    # Diffusion
    steps: int = 30
    guidance: float = 7.5
    strength: Optional[float] = None  # None: 1.0 for replace, remove_strength for remove
    remove_strength: float = 0.85
    resolution: int = 0  # side of the square the model repaints at; 0 = the model's native size (512 SD 1.5)

    # Masks
    dilate: int = 10  # grow the union of the chosen masks by this many pixels
    feather: int = 8  # blend over this many pixels outside the dilated mask; pixels beyond are the input's
    crop: bool = True  # repaint a crop around the mask at model resolution, paste it back at full resolution
    crop_padding: int = 32  # context around the mask's bounding box in the crop (pixels of the source)

    def validate(self) -> "EditConfig":
        """Check every field; raise ``ValueError`` naming the field, the value and what is accepted."""
        if not str(self.model).strip():
            raise ValueError(f"model is empty: give a Hub id (e.g. {DEFAULT_INPAINTER}) or a local pipeline directory")
        if not _valid_device(self.device):
            raise ValueError(f"device={self.device!r}: expected {DEVICES_HELP}")
        if self.dtype not in EDIT_DTYPES:
            raise ValueError(f"dtype={self.dtype!r}: expected one of {', '.join(EDIT_DTYPES)}")
        _check_int("steps", self.steps, 1)
        _check_int("dilate", self.dilate, 0)
        _check_int("feather", self.feather, 0)
        _check_int("crop_padding", self.crop_padding, 0)
        _check_int("resolution", self.resolution, 0)
        if self.resolution and self.resolution % 8:
            raise ValueError(f"resolution={self.resolution}: expected a multiple of 8 (or 0 for the model's own)")
        if not isinstance(self.guidance, (int, float)) or self.guidance < 0:
            raise ValueError(f"guidance={self.guidance!r}: expected a number >= 0 (1 or less turns guidance off)")
        for name in ("strength", "remove_strength"):
            value = getattr(self, name)
            if value is None and name == "strength":
                continue
            if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{name}={value!r}: expected a number in (0, 1]")
        return self

    def strength_for(self, mode: str) -> float:
        """The denoising strength of an edit in ``mode``."""
        if self.strength is not None:
            return float(self.strength)
        return 1.0 if mode == "replace" else float(self.remove_strength)

    def replace(self, **changes: Any) -> "EditConfig":
        """A validated copy with ``changes`` applied; unknown names raise ``ValueError``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown EditConfig field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes).validate()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "EditConfig":
        """Build from a mapping (YAML, ROS parameters); keys that are not config fields are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}).validate()


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}={value!r}: expected an integer >= {low}")
