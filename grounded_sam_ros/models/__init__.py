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
}

# Taggers say what an image shows (grounded_sam_ros.auto_query turns their tags into a query)
TAGGERS: Dict[str, Tuple[str, str]] = {
    "ram": ("grounded_sam_ros.models.ram", "RamTagger"),
    "ram_plus": ("grounded_sam_ros.models.ram", "RamPlusTagger"),
    "blip": ("grounded_sam_ros.models.blip", "BlipTagger"),
    "florence2": ("grounded_sam_ros.models.florence2", "Florence2Tagger"),
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


def build_tagger(family: str, model_id: str, options: LoadOptions, **files: Any) -> Any:
    """Load a tagger of ``family``: RAM from its release checkpoint (``files``: ``tag_list``, ``tag_thresholds``,
    ``threshold``), a captioner from a Hub id or local directory."""
    return _lookup(TAGGERS, family, "tagger").from_pretrained(model_id, options, **files)


__all__ = [
    "DETECTORS",
    "SEGMENTERS",
    "TAGGERS",
    "LoadOptions",
    "ModelNotFoundError",
    "build_detector",
    "build_segmenter",
    "build_tagger",
]
