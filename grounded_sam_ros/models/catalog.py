# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What the zoo offers: one entry per published model a family loads by default (plus notable variants).

Parameter counts are those of the transformers architectures at these configurations (counted on meta tensors);
licences are the model cards' (check them before shipping a product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class ModelEntry:
    family: str
    kind: str  # detector, segmenter, one-stage
    model_id: str
    params_m: float  # millions of parameters
    licence: str
    note: str = ""
    default: bool = True  # the family's default id (``grounded-sam download --family F`` fetches it)


CATALOG: Tuple[ModelEntry, ...] = (
    ModelEntry("grounding_dino", "detector", "IDEA-Research/grounding-dino-tiny", 172.2, "Apache-2.0", "Swin-T"),
    ModelEntry("grounding_dino", "detector", "IDEA-Research/grounding-dino-base", 232.9, "Apache-2.0", "Swin-B", False),
    ModelEntry(
        "mm_grounding_dino",
        "detector",
        "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det",
        172.2,
        "Apache-2.0",
        "MM-Grounding-DINO Swin-T",
    ),
    ModelEntry("owlv2", "detector", "google/owlv2-base-patch16-ensemble", 155.0, "Apache-2.0", "ViT-B/16, 960 px"),
    ModelEntry(
        "omdet_turbo",
        "detector",
        "omlab/omdet-turbo-swin-tiny-hf",
        115.4,
        "Apache-2.0",
        "Swin-T; its timm backbone needs timm (+ torchvision)",
    ),
    ModelEntry("sam", "segmenter", "facebook/sam-vit-base", 93.7, "Apache-2.0", "ViT-B"),
    ModelEntry("sam", "segmenter", "facebook/sam-vit-huge", 641.1, "Apache-2.0", "ViT-H", False),
    ModelEntry("sam", "segmenter", "Zigeng/SlimSAM-uniform-77", 9.7, "Apache-2.0", "SlimSAM-77 (pruned ViT-B)", False),
    ModelEntry("sam_hq", "segmenter", "syscv-community/sam-hq-vit-base", 94.8, "Apache-2.0", "SAM-HQ ViT-B"),
    ModelEntry("sam2", "segmenter", "facebook/sam2.1-hiera-tiny", 38.9, "Apache-2.0", "from the tracking work"),
    ModelEntry("edgetam", "segmenter", "yonigozlan/EdgeTAM-hf", 13.9, "Apache-2.0", "from the tracking work"),
    ModelEntry("sam3", "one-stage", "facebook/sam3", 840.4, "SAM License (gated)", "text -> instance masks"),
)


def default_entry(family: str) -> Optional[ModelEntry]:
    """The catalog entry ``grounded-sam download --family F`` fetches, or None."""
    return next((e for e in CATALOG if e.family == family and e.default), None)
