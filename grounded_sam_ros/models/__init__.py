# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Model registry: a model family is one entry here plus one adapter class.

Adapters are imported lazily so that ``import grounded_sam_ros`` never pulls in torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, Tuple

from grounded_sam_ros.models.loading import LoadOptions, ModelNotFoundError

# family -> (module, class)
DETECTORS: Dict[str, Tuple[str, str]] = {
    "grounding_dino": ("grounded_sam_ros.models.grounding_dino", "GroundingDinoDetector"),
    # MM-Grounding-DINO shares Grounding DINO's inputs and outputs in transformers.
    "mm_grounding_dino": ("grounded_sam_ros.models.grounding_dino", "GroundingDinoDetector"),
}
SEGMENTERS: Dict[str, Tuple[str, str]] = {
    "sam": ("grounded_sam_ros.models.sam", "SamSegmenter"),
    # SAM 2 / 2.1 and EdgeTAM image models (also the key-frame segmenters of the sam2 tracker)
    "sam2": ("grounded_sam_ros.models.sam2", "Sam2Segmenter"),
    "edgetam": ("grounded_sam_ros.models.sam2", "EdgeTamSegmenter"),
}


def _lookup(registry: Dict[str, Tuple[str, str]], family: str, kind: str) -> Any:
    if family not in registry:
        raise ValueError(f"unknown {kind} family {family!r}; registered: {', '.join(sorted(registry))}")
    module, name = registry[family]
    return getattr(importlib.import_module(module), name)


def build_detector(family: str, model_id: str, options: LoadOptions) -> Any:
    """Load a detector of ``family`` from a Hub id or local directory."""
    return _lookup(DETECTORS, family, "detector").from_pretrained(model_id, options)


def build_segmenter(family: str, model_id: str, options: LoadOptions) -> Any:
    """Load a segmenter of ``family`` from a Hub id or local directory."""
    return _lookup(SEGMENTERS, family, "segmenter").from_pretrained(model_id, options)


__all__ = ["DETECTORS", "SEGMENTERS", "LoadOptions", "ModelNotFoundError", "build_detector", "build_segmenter"]
