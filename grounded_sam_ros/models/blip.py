# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""BLIP captioning (transformers ``BlipForConditionalGeneration``) as a tagger: the caption's noun phrases are the
tags (:func:`grounded_sam_ros.nouns.noun_phrases`).

Preprocessing is the processor's PIL image processor (``BlipImageProcessorPil``: bicubic resize to 384x384, CLIP
mean/std), which needs no torchvision.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
from PIL import Image

from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.models.tagging import TagResult
from grounded_sam_ros.nouns import noun_phrases


class BlipTagger:
    """Caption -> noun phrases. Given a built ``BlipForConditionalGeneration`` and its ``BlipProcessor``.

    Greedy decoding of at most ``max_new_tokens`` tokens (the model's own generation config otherwise).
    """

    family = "blip"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None, max_new_tokens: int = 30):
        import torch

        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self.max_new_tokens = int(max_new_tokens)
        self._stored = next(model.parameters()).dtype

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions, max_new_tokens: int = 30) -> "BlipTagger":
        from transformers import BlipForConditionalGeneration, BlipProcessor

        model = load_pretrained(BlipForConditionalGeneration, model_id, options, what="tagger (BLIP)")
        processor = load_pretrained(BlipProcessor, model_id, options, what="tagger (BLIP) processor")
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, processor, options.device, options.dtype, max_new_tokens)

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, 384, 384) for the captioner."""
        inputs = self.processor.image_processor(images=Image.fromarray(image), return_tensors="pt")
        return {"pixel_values": inputs["pixel_values"].to(self.device).to(self._stored)}

    def forward(self, inputs: Dict[str, Any]) -> Any:
        """Generated token ids (1, T)."""
        with inference(self.device, self.dtype, self._stored):
            return self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1)

    def postprocess(self, token_ids: Any) -> TagResult:
        caption = self.processor.batch_decode(token_ids, skip_special_tokens=True)[0].strip()
        tags = noun_phrases(caption)
        return TagResult(tags, [1.0] * len(tags), caption)

    def __call__(self, image: np.ndarray) -> TagResult:
        return self.postprocess(self.forward(self.preprocess(image)))
