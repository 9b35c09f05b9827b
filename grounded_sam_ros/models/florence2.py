# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Florence-2 (transformers' native ``Florence2ForConditionalGeneration``, no ``trust_remote_code``) as a tagger.

``<OD>`` (default): the labels of the objects Florence-2 detects are the tags (its boxes are dropped: Grounding DINO
and SAM say where). Caption tasks (``<CAPTION>``, ``<DETAILED_CAPTION>``, ``<MORE_DETAILED_CAPTION>``): the caption's
noun phrases (:func:`grounded_sam_ros.nouns.noun_phrases`). Preprocessing is the processor's ``CLIPImageProcessorPil``
(no torchvision). Hub id: ``florence-community/Florence-2-base`` (or ``-large``), the transformers-native conversion
of ``microsoft/Florence-2-*``.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
from PIL import Image

from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.models.tagging import TagResult
from grounded_sam_ros.nouns import noun_phrases

TASKS = ("<OD>", "<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>")


class Florence2Tagger:
    """Object labels or caption nouns. Given a built ``Florence2ForConditionalGeneration`` and its processor."""

    family = "florence2"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None, task: str = "<OD>",
                 max_new_tokens: int = 256) -> None:  # fmt: skip
        import torch

        if task not in TASKS:
            raise ValueError(f"Florence-2 task {task!r}: expected one of {', '.join(TASKS)}")
        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self.task = task
        self.max_new_tokens = int(max_new_tokens)
        self._stored = next(model.parameters()).dtype

    @classmethod
    def from_pretrained(
        cls, model_id: str, options: LoadOptions, task: str = "<OD>", max_new_tokens: int = 256
    ) -> "Florence2Tagger":
        from transformers import AutoProcessor, Florence2ForConditionalGeneration

        model = load_pretrained(Florence2ForConditionalGeneration, model_id, options, what="tagger (Florence-2)")
        processor = load_pretrained(AutoProcessor, model_id, options, what="tagger (Florence-2) processor")
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, processor, options.device, options.dtype, task, max_new_tokens)

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> the task prompt's ``input_ids`` and ``pixel_values`` (+ the image size)."""
        inputs = self.processor(text=self.task, images=Image.fromarray(image), return_tensors="pt")
        tensors = {k: v.to(self.device) for k, v in inputs.items()}
        tensors["pixel_values"] = tensors["pixel_values"].to(self._stored)
        return {"tensors": tensors, "size": (image.shape[1], image.shape[0])}

    def forward(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        """Generated token ids (greedy), with the image size for the box parser."""
        with inference(self.device, self.dtype, self._stored):
            ids = self.model.generate(
                **inputs["tensors"], max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1
            )
        return {"ids": ids, "size": inputs["size"]}

    def postprocess(self, outputs: Dict[str, Any]) -> TagResult:
        text = self.processor.batch_decode(outputs["ids"], skip_special_tokens=False)[0]
        return self.parse(text, outputs["size"])

    def parse(self, text: str, size: Any) -> TagResult:
        """Generated text (special tokens kept) -> tags: ``<OD>`` labels in order of first appearance, or nouns."""
        if self.task == "<OD>":
            instances = self.processor.post_processor.parse_description_with_bboxes_from_text_and_spans(text, size)
            tags: List[str] = list(dict.fromkeys(i["cat_name"] for i in instances if i["cat_name"]))
            return TagResult(tags, [1.0] * len(tags), text)
        caption = text.replace("<s>", "").replace("</s>", "").replace("<pad>", "").strip()
        tags = noun_phrases(caption)
        return TagResult(tags, [1.0] * len(tags), caption)

    def __call__(self, image: np.ndarray) -> TagResult:
        return self.postprocess(self.forward(self.preprocess(image)))
