# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OWLv2 (open-vocabulary detection with one text query per phrase) through Hugging Face transformers.

How OWLv2 maps onto the pipeline's thresholds (see :func:`grounded_sam_ros.postprocess.select_boxes`):
each phrase is its own text query, so the detector's "token" scores are per-phrase scores: ``token_probs[q, p]`` is
``sigmoid(logit)`` of image patch ``q`` against phrase ``p`` and every phrase spans exactly one position. Then

- ``box_threshold`` keeps a patch box when its best phrase score is above it: exactly the ``threshold`` of
  ``Owlv2Processor.post_process_object_detection`` (whose default is 0.1; Grounding DINO's usual 0.35 is strict
  for OWLv2, whose scores are lower);
- the label is the best-scoring phrase (OWLv2's ``labels``), and since that phrase's score *is* the box score,
  ``text_threshold`` only matters when it is higher than ``box_threshold`` (then it acts as the threshold).

Boxes: OWLv2 pads the image to a square (bottom/right) before resizing, so its normalised boxes are relative to
the padded square; they are converted here to the source image.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np
from PIL import Image

from grounded_sam_ros.models.base import DetectorOutput, TextPrompt
from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.prompts import PhraseSpans


def per_phrase_prompt(
    phrases: Sequence[str], tokenizer: Any, max_tokens: int, overflow: str, device: Any, name: str
) -> TextPrompt:
    """One query per phrase: ``input_ids``/``attention_mask`` (P, max_tokens), phrase ``p`` at score column ``p``.

    A phrase longer than ``max_tokens`` tokens is cut (``overflow="truncate"``) or refused (``"error"``).
    """

    phrases = tuple(phrases)
    if not phrases:
        raise ValueError("no phrase to detect: give a query such as 'red cup . person'")
    if overflow == "error":
        for phrase in phrases:
            length = len(tokenizer(phrase)["input_ids"])
            if length > max_tokens:
                raise ValueError(f"phrase {phrase[:60]!r} is {length} tokens, above {name}'s {max_tokens}-token limit")
    encoded = tokenizer(list(phrases), padding="max_length", max_length=max_tokens, truncation=True, return_tensors="pt")
    spans = PhraseSpans(phrases, tuple((i, i + 1) for i in range(len(phrases))), tuple(range(len(phrases))))
    tensors = {"input_ids": encoded["input_ids"].to(device), "attention_mask": encoded["attention_mask"].to(device)}
    return TextPrompt(spans=spans, tensors=tensors)


class Owlv2Detector:
    """Open-vocabulary detector: image + phrases -> one box per image patch with a score per phrase.

    Given a built ``Owlv2ForObjectDetection`` and its processor; never opens files itself. Precision handling is
    Grounding DINO's (autocast when the weights are stored in another dtype than ``dtype``).
    """

    family = "owlv2"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None) -> None:
        import torch

        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._stored = next(model.parameters()).dtype
        self.max_text_tokens = int(model.config.text_config.max_position_embeddings)

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "Owlv2Detector":
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        model = load_pretrained(Owlv2ForObjectDetection, model_id, options, what="detector")
        processor = load_pretrained(Owlv2Processor, model_id, options, what="detector processor")
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, processor, options.device, options.dtype)

    def encode_text(self, phrases: Sequence[str], overflow: str = "truncate") -> TextPrompt:
        return per_phrase_prompt(phrases, self.processor.tokenizer, self.max_text_tokens, overflow, self.device, "OWLv2")

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, S, S): padded to a square, resized, normalised."""
        inputs = self.processor.image_processor(images=Image.fromarray(image), return_tensors="pt")
        return {"pixel_values": inputs["pixel_values"].to(self.device).to(self._stored), "size": image.shape[:2]}

    def forward(self, inputs: Dict[str, Any], prompt: TextPrompt) -> DetectorOutput:
        import torch

        with inference(self.device, self.dtype, self._stored):
            outputs = self.model(pixel_values=inputs["pixel_values"], **prompt.tensors)
        probs = torch.sigmoid(outputs.logits[0].float()).cpu().numpy()  # (patches, phrases)
        boxes = outputs.pred_boxes[0].float().cpu().numpy().astype(np.float64)  # cx, cy, w, h of the padded square
        height, width = inputs["size"]
        side = max(height, width)
        boxes *= np.array([side / width, side / height] * 2)
        return DetectorOutput(token_probs=probs, boxes_cxcywh=boxes.astype(np.float32))
