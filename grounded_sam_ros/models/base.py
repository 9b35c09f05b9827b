# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What a detector and a segmenter adapter must offer the pipeline.

An adapter is *given* a built model (it never opens files itself; ``from_pretrained`` classmethods do that once)
and splits its work into stages that the pipeline times separately: preprocess, forward, and the adapter-free
post-processing in :mod:`grounded_sam_ros.postprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence, Tuple

import numpy as np

from grounded_sam_ros.prompts import PhraseSpans


@dataclass
class TextPrompt:
    """A tokenised query, ready for the detector (cached while the query does not change)."""

    spans: PhraseSpans
    tensors: Any  # model-specific, e.g. dict of input_ids / attention_mask tensors


@dataclass
class DetectorOutput:
    """Raw detector predictions for one image.

    token_probs: (Q, T) float32 sigmoid scores of Q queries against T text positions.
    boxes_cxcywh: (Q, 4) float32 centre-x, centre-y, width, height normalised to [0, 1] of the source image.
    instance_masks: only from one-stage models (SAM 3), which predict a mask with every box:
        ``instance_masks(rows)`` -> (K, h, w) float32 mask probabilities in [0, 1] of the queries ``rows`` ((K,)
        int64), over the model's square input, which is the whole source image stretched (no padding); a source
        pixel is inside when its bilinearly up-sampled probability is above ``mask_threshold``.
    """

    token_probs: np.ndarray
    boxes_cxcywh: np.ndarray
    instance_masks: Optional[Callable[[np.ndarray], np.ndarray]] = None
    mask_threshold: float = 0.5


@dataclass
class ImageEmbedding:
    """A segmenter's per-frame image state: computed once, decoded for any number of boxes."""

    embedding: Any  # model-specific tensor(s)
    original_size: Tuple[int, int]  # (H, W) of the source image
    resized_size: Tuple[int, int]  # (h, w) of the image inside the segmenter's padded input


class Detector(Protocol):
    family: str
    max_text_tokens: int

    def encode_text(self, phrases: Sequence[str], overflow: str = "truncate") -> TextPrompt: ...

    def preprocess(self, image: np.ndarray) -> Any:
        """image: HxWx3 uint8 RGB -> model inputs."""

    def forward(self, inputs: Any, prompt: TextPrompt) -> DetectorOutput: ...


class Segmenter(Protocol):
    family: str
    pad_size: Tuple[int, int]  # (h, w) of the padded encoder input the mask logits cover

    def preprocess(self, image: np.ndarray) -> Any:
        """image: HxWx3 uint8 RGB -> model inputs."""

    def embed(self, inputs: Any) -> ImageEmbedding: ...

    def decode(self, state: ImageEmbedding, boxes: np.ndarray, multimask: bool) -> Tuple[np.ndarray, np.ndarray]:
        """boxes: (N, 4) float32 XYXY source pixels -> (N, h, w) float32 low-res logits, (N,) float32 mask scores."""
