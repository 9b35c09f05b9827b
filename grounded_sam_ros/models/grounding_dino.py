# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Grounding DINO (and MM-Grounding-DINO) through Hugging Face transformers."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Optional, Sequence

import numpy as np
from PIL import Image

from grounded_sam_ros.models.base import DetectorOutput, TextPrompt
from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.prompts import phrase_spans


class GroundingDinoDetector:
    """Open-vocabulary detector: image + phrases -> boxes with per-token scores.

    Given a built ``GroundingDinoForObjectDetection`` (or any model with the same outputs) and its processor.
    ``dtype`` is the compute precision; when the model's weights are stored in another one (float32 weights for
    bfloat16 on CPU, see :func:`~grounded_sam_ros.models.precision.weights_dtype`) the forward runs under autocast.
    """

    family = "grounding_dino"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None) -> None:
        import torch

        from grounded_sam_ros.models.tensor_checks import check_modules

        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._stored = next(model.parameters()).dtype
        self.max_text_tokens = int(getattr(model.config, "max_text_len", 256))
        tokenizer = processor.tokenizer
        self._tokenizer = tokenizer
        self._dot_id = tokenizer.convert_tokens_to_ids(".")
        self._size: Optional[Dict[str, int]] = None  # resize override (set_max_size); None = the processor's
        self.compiled: Any = None  # CompiledRegions when the compiled path is on (models.compiled.enable_compile)
        self.openvino: Any = None  # OpenVinoRunner with backend=openvino (models.openvino_backend)
        self.text_cache: Any = None  # TextFeatureCache on the torch backend (models.text_cache, set by the pipeline)
        # transformers modules whose tensor assertions the forward skips: each reads a GPU tensor back
        self._checked_modules = check_modules(self.model)
        self.device_preprocess = False  # pre-processing on the device (models.device_preprocess; config.preprocess)
        # compile / openvino: pad inputs to size buckets (True) or one graph per exact size (False: = eager)
        self.shape_buckets = True

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "GroundingDinoDetector":
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        from grounded_sam_ros.models.deformable_attention import use_gather_deformable_attention

        model = load_pretrained(AutoModelForZeroShotObjectDetection, model_id, options, what="detector")
        processor = load_pretrained(AutoProcessor, model_id, options, what="detector processor")
        if options.device == "cpu":
            # Same result to float rounding, 1.3x (float32) to 1.6x (bfloat16) faster detector on CPU
            use_gather_deformable_attention(model)
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, processor, options.device, options.dtype)

    def count_tokens(self, phrase: str) -> int:
        """Word pieces of ``phrase`` in the detector's caption (no special tokens), to cap automatic queries."""
        return len(self._tokenizer(phrase, add_special_tokens=False)["input_ids"])

    def encode_text(self, phrases: Sequence[str], overflow: str = "truncate") -> TextPrompt:
        """Tokenise ``[CLS] p1 . p2 . [SEP]`` once per query; keeps each phrase's token span."""
        import torch

        spans = phrase_spans(
            phrases,
            lambda text: self._tokenizer(text, add_special_tokens=False)["input_ids"],
            cls_id=self._tokenizer.cls_token_id,
            sep_id=self._tokenizer.sep_token_id,
            dot_id=self._dot_id,
            max_tokens=self.max_text_tokens,
            overflow=overflow,
        )
        input_ids = torch.tensor([spans.input_ids], dtype=torch.long, device=self.device)
        tensors = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "token_type_ids": torch.zeros_like(input_ids),
        }
        return TextPrompt(spans=spans, tensors=tensors)

    def set_max_size(self, short_side: int) -> None:
        """Resize inputs to ``short_side`` px on the short side (long side at most 1333/800 of it, as the default
        800/1333); 0 restores the processor's own setting. Fewer pixels: faster, small objects harder to find."""
        if short_side < 0:
            raise ValueError(f"detector_max_size={short_side}: expected pixels > 0, or 0 for the model's default")
        self._size = None
        if short_side:
            self._size = {"shortest_edge": int(short_side), "longest_edge": int(round(short_side * 1333 / 800))}

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> resized, normalised ``pixel_values`` (1, 3, h, w) and ``pixel_mask`` (1, h, w);
        padded to the input-size bucket on the compiled and OpenVINO paths when ``shape_buckets`` is on (see
        :mod:`grounded_sam_ros.models.compiled`)."""
        if self.device_preprocess:
            from grounded_sam_ros.models.device_preprocess import detector_inputs

            inputs = detector_inputs(image, self.processor.image_processor, self._size, self.device, self._stored)
        else:
            options = {"size": self._size} if self._size else {}
            inputs = self.processor.image_processor(images=Image.fromarray(image), return_tensors="pt", **options)
            inputs = {
                # Copied as float32, cast on the device (a half-precision cast on the CPU costs more than the copy)
                "pixel_values": inputs["pixel_values"].to(self.device).to(self._stored),
                "pixel_mask": inputs["pixel_mask"].to(self.device),
            }
        if self.shape_buckets and (self.compiled is not None or self.openvino is not None):
            from grounded_sam_ros.models.compiled import pad_detector_image

            inputs = pad_detector_image(inputs)
        return inputs

    def forward(self, inputs: Dict[str, Any], prompt: TextPrompt) -> DetectorOutput:
        import torch

        text = prompt.tensors
        if self.compiled is not None or self.openvino is not None:
            from grounded_sam_ros.models.compiled import pad_text

            text = pad_text(text, self.max_text_tokens)
        shape = (*inputs["pixel_values"].shape[-2:], text["input_ids"].shape[1])
        if self.openvino is not None:  # its own precision (the plugin's hint), no autocast
            from grounded_sam_ros.models.openvino_backend import DetectorGraph

            logits, boxes = self.openvino(DetectorGraph.inputs(self.model, inputs, text), shape)
        else:
            from grounded_sam_ros.models.tensor_checks import without_tensor_checks

            # The text backbone's inputs follow from the caption's tokens and padded length: the cache's host key
            host_key = (tuple(prompt.spans.input_ids), int(text["input_ids"].shape[1]), str(self.device))
            keyed = self.text_cache.keyed(host_key) if self.text_cache is not None else contextlib.nullcontext()
            # Without transformers' per-layer tensor assertions: each reads a GPU tensor back (models.tensor_checks)
            unchecked = without_tensor_checks(self._checked_modules)
            with inference(self.device, self.dtype, self._stored), keyed, unchecked:
                run = lambda: self.model(**inputs, **text)  # noqa: E731
                outputs = run() if self.compiled is None else self.compiled.run(shape, run)
            logits, boxes = outputs.logits, outputs.pred_boxes
        length = len(prompt.spans.input_ids)
        # Positions past the caption are masked to -inf by the model; keep the caption's.
        probs = torch.sigmoid(logits[0, :, :length].float())
        return DetectorOutput(
            token_probs=probs.cpu().numpy(),
            boxes_cxcywh=boxes[0].float().cpu().numpy(),
        )
