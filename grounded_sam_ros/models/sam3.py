# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM 3 (promptable concept segmentation) through Hugging Face transformers: text phrase -> every instance's box
and mask in one model, replacing both pipeline stages.

transformers' ``Sam3Processor`` imports torchvision, so the adapter does its work itself from the same files: the
CLIP tokenizer (phrases padded to 32 tokens) and the ``preprocessor_config.json`` of its ``Sam3ImageProcessor``
(uint8 resize of the whole image to the square input with antialiased bilinear, then rescale + normalise) — see
:func:`preprocess_sam3`.

Mapping onto the pipeline (same :class:`~grounded_sam_ros.results.FrameResult` out):
- each phrase is one prompt; the image encoder runs once per frame and the phrases run as one batch through the
  DETR encoder/decoder and the mask decoder;
- a query's score is ``sigmoid(pred_logit) * sigmoid(presence_logit)`` (as ``post_process_instance_segmentation``);
  ``box_threshold`` is that function's ``threshold``; every query belongs to its phrase (the label), so
  ``text_threshold`` only acts when it is higher; NMS (``nms_iou``) and ``max_detections`` apply across phrases;
- masks: mask probabilities up-sampled bilinearly to the source size and kept above 0.5 (the processor's
  ``mask_threshold``), cropped to their bounding box like SAM's; ``mask_score`` is the instance score.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

from grounded_sam_ros.models.base import DetectorOutput, TextPrompt
from grounded_sam_ros.models.loading import LoadOptions, load_json, load_pretrained
from grounded_sam_ros.models.owlv2 import per_phrase_prompt
from grounded_sam_ros.models.precision import inference, weights_dtype

TEXT_TOKENS = 32  # Sam3Processor pads every phrase to 32 tokens
DEFAULT_IMAGE_SETTINGS = {
    "size": {"height": 1008, "width": 1008},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}


def preprocess_sam3(image: np.ndarray, settings: dict) -> Any:
    """image: HxWx3 uint8 RGB -> (1, 3, h, w) float32 torch tensor, as ``Sam3ImageProcessor``.

    The whole image is resized (aspect ratio not kept) to ``size`` on uint8 values with antialiased bilinear
    interpolation (rounded back to uint8, as torchvision does for uint8 tensors), then ``(x * rescale_factor - mean)
    / std`` per channel.
    """
    import torch

    size = settings.get("size") or DEFAULT_IMAGE_SETTINGS["size"]
    pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None]  # (1, 3, H, W) uint8, a writable copy
    target = (int(size["height"]), int(size["width"]))
    if tuple(pixels.shape[-2:]) != target:
        pixels = torch.nn.functional.interpolate(pixels, size=target, mode="bilinear", antialias=True)
    scale = float(settings.get("rescale_factor", 1 / 255)) if settings.get("do_rescale", True) else 1.0
    mean = torch.tensor(settings.get("image_mean", [0.5] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(settings.get("image_std", [0.5] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    # Fused as in transformers: (x - mean / scale) / (std / scale)
    return (pixels.to(torch.float32) - mean / scale) / (std / scale)


class Sam3Model:
    """One-stage text-prompted instance segmenter. Given a built ``transformers.Sam3Model``, its tokenizer and its
    image settings; never opens files itself. Offers the detector interface, with masks in the output."""

    family = "sam3"
    one_stage = True
    max_text_tokens = TEXT_TOKENS

    def __init__(self, model: Any, tokenizer: Any, image_settings: dict, device: str = "cpu", dtype: Any = None):
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_settings = {**DEFAULT_IMAGE_SETTINGS, **image_settings}
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._stored = next(model.parameters()).dtype

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "Sam3Model":
        from transformers import AutoTokenizer
        from transformers import Sam3Model as HfSam3Model

        model = load_pretrained(HfSam3Model, model_id, options, what="one-stage model")
        tokenizer = load_pretrained(AutoTokenizer, model_id, options, what="one-stage model tokenizer")
        settings = load_json(model_id, "preprocessor_config.json", options, what="one-stage model")
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        return cls(model, tokenizer, settings, options.device, options.dtype)

    def encode_text(self, phrases: Sequence[str], overflow: str = "truncate") -> TextPrompt:
        return per_phrase_prompt(phrases, self.tokenizer, TEXT_TOKENS, overflow, self.device, "SAM 3")

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, 1008, 1008) (see :func:`preprocess_sam3`)."""
        return {"pixel_values": preprocess_sam3(image, self.image_settings).to(self.device).to(self._stored)}

    def forward(self, inputs: Dict[str, Any], prompt: TextPrompt) -> DetectorOutput:
        """All phrases in one batch over one image encoding.

        Returns (P*Q, P) phrase scores (row ``p*Q + q`` is query ``q`` of phrase ``p``, non-zero in column ``p``
        only), the rows' boxes and their masks (see :class:`~grounded_sam_ros.models.base.DetectorOutput`).
        """
        import torch
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        count = len(prompt.spans.phrases)
        with inference(self.device, self.dtype, self._stored):
            vision = self.model.get_vision_features(pixel_values=inputs["pixel_values"])
            # The one image encoding, shared by every phrase of the batch
            shared = Sam3VisionEncoderOutput(
                fpn_hidden_states=tuple(x.expand(count, *x.shape[1:]) for x in vision.fpn_hidden_states),
                fpn_position_encoding=tuple(x.expand(count, *x.shape[1:]) for x in vision.fpn_position_encoding),
            )
            out = self.model(vision_embeds=shared, **prompt.tensors)
        scores = torch.sigmoid(out.pred_logits.float())
        if out.presence_logits is not None:
            scores = scores * torch.sigmoid(out.presence_logits.float())
        queries = scores.shape[1]
        probs = np.zeros((count * queries, count), dtype=np.float32)
        for p in range(count):
            probs[p * queries : (p + 1) * queries, p] = scores[p].cpu().numpy()
        x0, y0, x1, y1 = out.pred_boxes.float().reshape(-1, 4).cpu().numpy().T
        boxes = np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=1)  # normalised to the source
        masks = out.pred_masks.reshape(count * queries, *out.pred_masks.shape[-2:])

        def instance_masks(rows: np.ndarray) -> np.ndarray:
            index = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=masks.device)
            return torch.sigmoid(masks[index].float()).cpu().numpy()

        return DetectorOutput(probs, boxes.astype(np.float32), instance_masks=instance_masks, mask_threshold=0.5)
