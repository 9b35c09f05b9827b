# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Model registry: a model family is one entry here plus one adapter class.

Three kinds: detectors (text -> boxes), segmenters (boxes -> masks) and one-stage models (text -> boxes and masks,
replacing both). Adapters are imported lazily so that ``import grounded_sam_ros`` never pulls in torch. Which
family a checkpoint belongs to is read from its ``config.json`` (:mod:`grounded_sam_ros.models.families`).
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
    "owlv2": ("grounded_sam_ros.models.owlv2", "Owlv2Detector"),
    "omdet_turbo": ("grounded_sam_ros.models.omdet_turbo", "OmDetTurboDetector"),
}
SEGMENTERS: Dict[str, Tuple[str, str]] = {
    # SlimSAM checkpoints are SamModel checkpoints with pruned widths: this family loads them as they are.
    "sam": ("grounded_sam_ros.models.sam", "SamSegmenter"),
    "sam_hq": ("grounded_sam_ros.models.sam_hq", "SamHqSegmenter"),
    # SAM 2 / 2.1 and EdgeTAM image models (also the key-frame segmenters of the sam2 tracker)
    "sam2": ("grounded_sam_ros.models.sam2", "Sam2Segmenter"),
    "edgetam": ("grounded_sam_ros.models.sam2", "EdgeTamSegmenter"),
}
ONE_STAGE: Dict[str, Tuple[str, str]] = {
    "sam3": ("grounded_sam_ros.models.sam3", "Sam3Model"),
}
KINDS: Dict[str, Dict[str, Tuple[str, str]]] = {"detector": DETECTORS, "segmenter": SEGMENTERS, "one-stage": ONE_STAGE}


def kind_of(family: str) -> str:
    """``"detector"``, ``"segmenter"`` or ``"one-stage"``; ``ValueError`` for an unknown family."""
    for kind, registry in KINDS.items():
        if family in registry:
            return kind
    known = ", ".join(f"{kind}: {' '.join(sorted(registry))}" for kind, registry in KINDS.items())
    raise ValueError(f"unknown model family {family!r}; registered families are {known}")


# Taggers say what an image shows (grounded_sam_ros.auto_query turns their tags into a query)
TAGGERS: Dict[str, Tuple[str, str]] = {
    "ram": ("grounded_sam_ros.models.ram", "RamTagger"),
    "ram_plus": ("grounded_sam_ros.models.ram", "RamPlusTagger"),
    "blip": ("grounded_sam_ros.models.blip", "BlipTagger"),
    "florence2": ("grounded_sam_ros.models.florence2", "Florence2Tagger"),
}


def _lookup(registry: Dict[str, Tuple[str, str]], family: str, kind: str) -> Any:
    if family not in registry:
        actual = kind_of(family)  # raises for unknown families
        raise ValueError(
            f"{family!r} is a {actual} family, not a {kind} one; {kind} families: {', '.join(sorted(registry))}"
        )
    module, name = registry[family]
    return getattr(importlib.import_module(module), name)


def build_detector(family: str, model_id: str, options: LoadOptions) -> Any:
    """Load a detector of ``family`` from a Hub id or local directory."""
    return _lookup(DETECTORS, family, "detector").from_pretrained(model_id, options)


def build_segmenter(family: str, model_id: str, options: LoadOptions) -> Any:
    """Load a segmenter of ``family`` from a Hub id, local directory or original checkpoint file."""
    return _lookup(SEGMENTERS, family, "segmenter").from_pretrained(model_id, options)


def build_tagger(family: str, model_id: str, options: LoadOptions, **files: Any) -> Any:
    """Load a tagger of ``family``: RAM from its release checkpoint (``files``: ``tag_list``, ``tag_thresholds``,
    ``threshold``), a captioner from a Hub id or local directory."""
    return _lookup(TAGGERS, family, "tagger").from_pretrained(model_id, options, **files)


def build_one_stage(family: str, model_id: str, options: LoadOptions) -> Any:
    """Load a one-stage model (text -> boxes and masks) of ``family`` from a Hub id or local directory."""
    return _lookup(ONE_STAGE, family, "one-stage").from_pretrained(model_id, options)


__all__ = [
    "DETECTORS",
    "KINDS",
    "ONE_STAGE",
    "SEGMENTERS",
    "TAGGERS",
    "LoadOptions",
    "ModelNotFoundError",
    "build_detector",
    "build_one_stage",
    "build_segmenter",
    "build_tagger",
    "kind_of",
]
