# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM-HQ (high-quality masks for thin structures and fine edges) through Hugging Face transformers.

SAM-HQ is SAM plus an HQ output token and a fusion of early and final ViT features in the mask decoder: the image
embedding of a frame is the pair (final embedding, early "intermediate" embeddings), and the decoder needs both.
Pre-processing and box prompts are SAM's.

transformers (checked with 5.24) builds SAM-HQ's mask features from the image embedding as it was *before* the
decoder's two-way transformer, where the original SAM-HQ (``mask_decoder_hq.py``: ``hs, src = self.transformer(...)``
then ``self.output_upscaling(src)``) up-samples the transformer's output. :func:`use_original_hq_upscaling` restores
the original computation; with it a checkpoint converted from the original classes gives their logits to 3e-5
(``test_original_checkpoints.py``), without it they differ by 0.3 on random weights. Applying it to a decoder that
already uses the transformer's output changes nothing (it feeds the same tensor).
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
        use_original_hq_upscaling(model)
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


def use_original_hq_upscaling(model: Any) -> None:
    """Make ``model.mask_decoder`` up-sample the two-way transformer's image output, as the original SAM-HQ.

    The decoder's transformer returns ``(tokens, image)``; the image output (B, P, h*w, C) is kept and fed to the
    first up-scaling convolution in place of the pre-transformer embedding it is given. Parameters are untouched.
    """
    decoder = model.mask_decoder
    if getattr(decoder, "_original_hq_upscaling", False):
        return
    transformer_forward = decoder.transformer.forward
    upscale_forward = decoder.upscale_conv1.forward
    latest: dict = {}

    def transformer(*args: Any, **kwargs: Any) -> Any:
        tokens, image = transformer_forward(*args, **kwargs)
        latest["image"] = image
        return tokens, image

    def upscale(embedding: Any) -> Any:
        image = latest.pop("image", None)
        if image is None:  # called outside the decoder's forward: nothing to substitute
            return upscale_forward(embedding)
        batch, channels, height, width = embedding.shape
        return upscale_forward(image.transpose(2, 3).reshape(batch, channels, height, width))

    decoder.transformer.forward = transformer
    decoder.upscale_conv1.forward = upscale
    decoder._original_hq_upscaling = True
