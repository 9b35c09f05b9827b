# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM-HQ (high-quality masks for thin structures and fine edges) through Hugging Face transformers.

SAM-HQ is SAM plus an HQ output token and a fusion of early and final ViT features in the mask decoder: the image
embedding of a frame is the pair (final embedding, early "intermediate" embeddings), and the decoder needs both.
Pre-processing and box prompts are SAM's.
"""

from __future__ import annotations

from typing import Any

from grounded_sam_ros.models.base import ImageEmbedding
from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference
from grounded_sam_ros.models.sam import SamSegmenter


class SamHqSegmenter(SamSegmenter):
    """Box-prompted SAM-HQ segmenter. Given a built ``SamHQModel`` and its processor; never opens files itself.

    ``hq_token_only=False`` (the SAM-HQ default, also in Grounded-HQ-SAM) adds the HQ mask to SAM's mask; ``True``
    keeps the HQ mask alone. Precision handling is :class:`~grounded_sam_ros.models.sam.SamSegmenter`'s.
    """

    family = "sam_hq"

    def __init__(
        self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None, hq_token_only: bool = False
    ) -> None:
        super().__init__(model, processor, device, dtype)
        self.hq_token_only = hq_token_only

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "SamHqSegmenter":
        from transformers import SamHQModel, SamHQProcessor

        model = load_pretrained(SamHQModel, model_id, options, what="segmenter")
        processor = load_pretrained(SamHQProcessor, model_id, options, what="segmenter processor")
        cls._place(model, options)
        return cls(model, processor, options.device, options.dtype)

    def embed(self, inputs: Any) -> ImageEmbedding:
        """Run the image encoder once: (final embedding, intermediate embeddings of the global-attention blocks)."""
        with inference(self.device, self.dtype, self._encoder_stored):
            embedding, intermediate = self.model.get_image_embeddings(inputs["pixel_values"])
        return ImageEmbedding((embedding, list(intermediate)), inputs["original_size"], inputs["resized_size"])

    def _decoder_inputs(self, state: ImageEmbedding) -> dict:
        embedding, intermediate = state.embedding
        return {
            "image_embeddings": embedding.to(self._decoder_stored),
            "intermediate_embeddings": [e.to(self._decoder_stored) for e in intermediate],
            "hq_token_only": self.hq_token_only,
        }
