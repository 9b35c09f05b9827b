# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Which family a checkpoint belongs to: read from its own ``config.json`` (``model_type``) unless given."""

from __future__ import annotations

from typing import Optional

from grounded_sam_ros.models import kind_of
from grounded_sam_ros.models.loading import LoadOptions, load_json

# transformers model_type -> registry family
MODEL_TYPES = {
    "grounding-dino": "grounding_dino",
    "mm-grounding-dino": "mm_grounding_dino",
    "owlv2": "owlv2",
    "omdet-turbo": "omdet_turbo",
    "sam": "sam",
    "sam_hq": "sam_hq",
    "sam3": "sam3",
    "sam3_video": "sam3",  # facebook/sam3 ships the detector with its video tracker; Sam3Model loads the detector
    "sam2": "sam2",
    "sam2_video": "sam2",  # SAM 2 video checkpoints hold the image model too
    "edgetam": "edgetam",
    "edgetam_video": "edgetam",
}


def model_type(model_id: str, options: LoadOptions) -> str:
    """The ``model_type`` in the ``config.json`` of a Hub id or local model directory."""
    config = load_json(model_id, "config.json", options, what="model")
    value = config.get("model_type", "")
    if not value:
        raise ValueError(f"{model_id}: its config.json has no model_type; give the family explicitly")
    return str(value)


def infer_family(model_id: str, options: LoadOptions) -> str:
    """The registry family of a checkpoint, from its config.json (an original ``.pth`` file is converted first, see
    :mod:`grounded_sam_ros.models.original`, and its converted config read)."""
    kind = model_type(model_id, options)
    family = MODEL_TYPES.get(kind)
    if family is None:
        raise ValueError(
            f"{model_id} is a {kind!r} model, which no registered family handles "
            f"(known model types: {', '.join(sorted(MODEL_TYPES))}); give the family explicitly if it is compatible"
        )
    return family


def resolve_family(model_id: str, family: str, expected: str, options: LoadOptions, field: str) -> str:
    """``family`` (explicit) or the inferred one, checked to be of kind ``expected``; ``ValueError`` says why not."""
    chosen = family or infer_family(model_id, options)
    kind = kind_of(chosen)
    if kind != expected:
        hint = {
            "detector": "pass it as detector_model (--detector)",
            "segmenter": "pass it as segmenter_model (--segmenter)",
            "one-stage": "pass it as one_stage_model (--one-stage); it replaces both the detector and the segmenter",
        }[kind]
        source = "given" if family else f"read from {model_id}"
        raise ValueError(f"{field}: {model_id} is a {kind} ({chosen}, {source}), not a {expected}: {hint}")
    return chosen


def family_hint(model_id: str, options: LoadOptions) -> Optional[str]:
    """The inferred family, or None when it cannot be read (for listings; never raises)."""
    try:
        return infer_family(model_id, options)
    except (OSError, ValueError):
        return None
