# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Edit what was found: Grounded-SAM masks -> diffusion inpainting (replace or remove objects). No ROS here.

``config`` (EditConfig), ``masks`` (instances -> union -> dilated, feathered weight), ``crop`` (the region the model
repaints), ``modes`` (replace / remove inputs), ``inpainter`` (the diffusers model), ``editor`` (the whole edit).
Importing this package does not import torch or diffusers.
"""

from grounded_sam_ros.editing.config import DEFAULT_INPAINTER, MODES, EditConfig
from grounded_sam_ros.editing.masks import NothingToEditError

__all__ = ["DEFAULT_INPAINTER", "MODES", "EditConfig", "NothingToEditError"]
