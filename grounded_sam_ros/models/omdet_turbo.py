# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OmDet-Turbo (real-time open-vocabulary detection) through Hugging Face transformers.

transformers' ``OmDetTurboProcessor`` imports torchvision (for its NMS), so the adapter does the processor's work
itself from the same files: the CLIP tokenizer, and the ``preprocessor_config.json`` settings of the published
checkpoint's ``DetrImageProcessor`` (resize to a fixed square, no rescale, mean/std in 0..255 units, no padding) —
see :func:`preprocess_detr_square`. Since that processor needs torchvision, transformers always gives it
``DetrImageProcessor``'s torchvision backend, whose bilinear resize works on uint8 tensors (antialiased, rounded to
uint8); PIL's bilinear differs from it by one grey level on many pixels, so the resize here is torchvision's.

Thresholds: OmDet-Turbo scores each (query, phrase) pair with a sigmoid, like OWLv2, so the mapping is OWLv2's
(:mod:`grounded_sam_ros.models.owlv2`): ``box_threshold`` on the best phrase score of a query box, label = that
phrase, ``text_threshold`` only acts when higher. OmDet's own post-processing keeps every (box, phrase) pair above
the threshold and runs per-phrase NMS; the pipeline instead gives each box its single best phrase (as for Grounding
DINO) and runs its class-agnostic ``nms_iou``.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np
from PIL import Image

from grounded_sam_ros.models.base import DetectorOutput, TextPrompt
from grounded_sam_ros.models.loading import LoadOptions, load_json, load_pretrained
from grounded_sam_ros.models.owlv2 import per_phrase_prompt
from grounded_sam_ros.models.precision import inference, weights_dtype

TEXT_TOKENS = 77  # the processor's max_length for class names and the task prompt


def preprocess_detr_square(image: np.ndarray, settings: dict) -> np.ndarray:
    """image: HxWx3 uint8 RGB -> (3, h, w) float32 as a ``DetrImageProcessor`` with a fixed (height, width) size.

    ``settings`` is its ``preprocessor_config.json``: resize to ``size`` (bilinear, the default ``resample``: as
    torchvision resizes uint8 images, antialiased and rounded to uint8; another ``resample``: PIL's), optionally
    rescale by ``rescale_factor``, then ``(x - image_mean) / image_std`` per channel.
    """
    size = settings.get("size") or {}
    if isinstance(size, (list, tuple)):
        size = {"height": size[0], "width": size[1]}
    if "height" not in size or "width" not in size:
        raise ValueError(f"expected a fixed 'size' {{height, width}} in the preprocessor settings, got {size!r}")
    out = image
    target = (int(size["height"]), int(size["width"]))
    if settings.get("do_resize", True) and tuple(image.shape[:2]) != target:
        resample = Image.Resampling(int(settings.get("resample", Image.Resampling.BILINEAR)))
        if resample == Image.Resampling.BILINEAR:
            import torch

            pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None]  # (1, 3, H, W) uint8
            pixels = torch.nn.functional.interpolate(pixels, size=target, mode="bilinear", antialias=True)
            out = pixels[0].permute(1, 2, 0).numpy()
        else:
            out = np.asarray(Image.fromarray(image).resize(target[::-1], resample))
    pixels = out.astype(np.float32)
    if settings.get("do_rescale", True):
        pixels = pixels * np.float32(settings.get("rescale_factor", 1 / 255))
    if settings.get("do_normalize", True):
        mean = np.asarray(settings["image_mean"], dtype=np.float32)
        std = np.asarray(settings["image_std"], dtype=np.float32)
        pixels = (pixels - mean) / std
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


class OmDetTurboDetector:
    """Open-vocabulary detector: image + phrases (one class query each) + a task prompt -> boxes with phrase scores.

    Given a built ``OmDetTurboForObjectDetection``, its tokenizer and its image settings; never opens files itself.
    """

    family = "omdet_turbo"
    max_text_tokens = TEXT_TOKENS

    def __init__(self, model: Any, tokenizer: Any, image_settings: dict, device: str = "cpu", dtype: Any = None):
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_settings = dict(image_settings)
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._stored = next(model.parameters()).dtype

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "OmDetTurboDetector":
        import importlib.util

        from transformers import AutoTokenizer, OmDetTurboForObjectDetection

        config = load_json(model_id, "config.json", options, what="detector")
        backbone = config.get("backbone_config") or {}
        uses_timm = backbone.get("model_type") == "timm_backbone" or (
            not backbone and config.get("use_timm_backbone", True)
        )
        if uses_timm and importlib.util.find_spec("timm") is None:
            raise ValueError(
                f"{model_id} uses a timm Swin backbone (as omlab/omdet-turbo-swin-tiny-hf does), and timm is not "
                "installed; install timm (it needs a working torchvision) to load it"
            )
        model = load_pretrained(OmDetTurboForObjectDetection, model_id, options, what="detector")
        tokenizer = load_pretrained(AutoTokenizer, model_id, options, what="detector tokenizer")
        settings = load_json(model_id, "preprocessor_config.json", options, what="detector")
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, tokenizer, settings, options.device, options.dtype)

    def encode_text(self, phrases: Sequence[str], overflow: str = "truncate") -> TextPrompt:
        """Class queries (one per phrase) and the task prompt ``"Detect p1, p2."`` (as the official processor)."""
        import torch

        prompt = per_phrase_prompt(phrases, self.tokenizer, TEXT_TOKENS, overflow, self.device, "OmDet-Turbo")
        task = self.tokenizer(
            [f"Detect {', '.join(prompt.spans.phrases)}."],
            padding="max_length",
            max_length=TEXT_TOKENS,
            truncation=True,
            return_tensors="pt",
        )
        prompt.tensors = {
            "classes_input_ids": prompt.tensors["input_ids"],
            "classes_attention_mask": prompt.tensors["attention_mask"],
            "tasks_input_ids": task["input_ids"].to(self.device),
            "tasks_attention_mask": task["attention_mask"].to(self.device),
            "classes_structure": torch.tensor([len(prompt.spans.phrases)], dtype=torch.long, device=self.device),
        }
        return prompt

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, h, w) float32 (see :func:`preprocess_detr_square`)."""
        import torch

        pixels = torch.from_numpy(preprocess_detr_square(image, self.image_settings))[None]
        return {"pixel_values": pixels.to(self.device).to(self._stored)}

    def forward(self, inputs: Dict[str, Any], prompt: TextPrompt) -> DetectorOutput:
        import torch

        with inference(self.device, self.dtype, self._stored):
            outputs = self.model(pixel_values=inputs["pixel_values"], **prompt.tensors)
        count = len(prompt.spans.phrases)
        probs = torch.sigmoid(outputs.decoder_class_logits[0, :, :count].float())  # (queries, phrases)
        # The image was stretched to the square input, so boxes normalised to it are normalised to the source
        return DetectorOutput(
            token_probs=probs.cpu().numpy(),
            boxes_cxcywh=outputs.decoder_coord_logits[0].float().cpu().numpy(),
        )
