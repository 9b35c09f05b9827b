# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 / SAM 2.1 and EdgeTAM as single-image, box-prompted segmenters (transformers ``Sam2Model``, ``EdgeTamModel``).

Pre-processing is :class:`~grounded_sam_ros.models.sam2_preprocess.Sam2Preprocessor` (transformers' SAM 2 processors
need torchvision). The checkpoints published for video (``facebook/sam2.1-hiera-tiny`` holds a ``sam2_video``
config) load here too: the image model is the video model's image encoder, prompt encoder and mask decoder.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from grounded_sam_ros.models.base import ImageEmbedding
from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor


def _model_class(family: str) -> Any:
    """The transformers image-model class of ``family`` (``sam2`` or ``edgetam``)."""
    if family == "sam2":
        from transformers import Sam2Model

        return Sam2Model
    from transformers import EdgeTamModel

    return EdgeTamModel


def check_edgetam_backbone() -> None:
    """EdgeTAM's image encoder is a timm RepViT (through ``TimmWrapperModel``): fail early and say so."""
    try:
        import timm  # noqa: F401
    except ImportError as exc:
        raise ModuleNotFoundError(
            "EdgeTAM's image encoder is timm's RepViT: install timm (pip install timm; it needs a working "
            "torchvision) or use segmenter_family 'sam2' with facebook/sam2.1-hiera-tiny"
        ) from exc


class Sam2Segmenter:
    """Box-prompted SAM 2 segmenter. Given a built ``Sam2Model`` (or ``EdgeTamModel``) and its pre-processor.

    ``dtype`` is the image encoder's compute precision (autocast over float32 weights on CPU, see
    :func:`~grounded_sam_ros.models.precision.weights_dtype`); the prompt encoder and mask decoder stay float32, as
    for SAM (their logits are thresholded at 0).

    SAM 2 resizes the frame to a square without padding, and its processor up-samples the low-resolution logits
    straight to the source size. The logits therefore cover the whole input: ``pad_size`` and the embedding's
    ``resized_size`` are the logits' own size, which makes the pipeline's up-sampler that single bilinear step.
    """

    family = "sam2"

    def __init__(self, model: Any, preprocessor: Sam2Preprocessor, device: str = "cpu", dtype: Any = None) -> None:
        import torch

        self.model = model.eval()
        self.preprocessor = preprocessor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._encoder_stored = next(model.vision_encoder.parameters()).dtype
        self._decoder_stored = next(model.mask_decoder.parameters()).dtype
        low_res = model.prompt_encoder.mask_input_size  # (h, w) of the decoder's logits
        self.pad_size = (int(low_res[0]), int(low_res[1]))
        self.source = ""  # the checkpoint it was loaded from (set by from_pretrained)
        self._primed: Any = None  # (image, callable -> image embeddings) given by prime()

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "Sam2Segmenter":
        import torch

        if cls.family == "edgetam":
            check_edgetam_backbone()
        model = load_pretrained(_model_class(cls.family), model_id, options, what="segmenter")
        preprocessor = Sam2Preprocessor.from_pretrained(model_id, options)
        # Image encoder in the requested precision, prompt encoder and mask decoder in float32
        model.to(device=options.device, dtype=torch.float32)
        model.vision_encoder.to(dtype=weights_dtype(options.device, options.dtype))
        segmenter = cls(model, preprocessor, options.device, options.dtype)
        segmenter.source = model_id
        return segmenter

    def prime(self, image: Any, embeddings: Any) -> None:
        """Use ``embeddings()`` instead of the image encoder for the next frame that is ``image`` (the same array).

        The SAM 2 tracker gives the video model's features of the frame (same checkpoint, same encoder), so a key
        frame pays for one image encoder pass, not two. ``embeddings``: a callable returning the feature maps as
        ``Sam2Model.get_image_embeddings`` does; called only if the frame gets boxes. ``prime(None, None)`` clears.
        """
        self._primed = (image, embeddings) if image is not None else None

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, S, S) resized (no aspect kept, no padding), normalised."""
        if self._primed is not None and self._primed[0] is image:
            primed, self._primed = self._primed[1], None
            return {"primed": primed, "original_size": (int(image.shape[0]), int(image.shape[1]))}
        return {
            "pixel_values": self.preprocessor.pixel_values(image, self.device).to(self._encoder_stored),
            "original_size": (int(image.shape[0]), int(image.shape[1])),
        }

    def embed(self, inputs: Dict[str, Any]) -> ImageEmbedding:
        """Run the image encoder once for the frame: the multi-scale feature maps the mask decoder reads."""
        if "primed" in inputs:
            features = inputs["primed"]()
            return ImageEmbedding([f.to(self._decoder_stored) for f in features], inputs["original_size"], self.pad_size)
        with inference(self.device, self.dtype, self._encoder_stored):
            features = self.model.get_image_embeddings(inputs["pixel_values"])
        return ImageEmbedding([f.to(self._decoder_stored) for f in features], inputs["original_size"], self.pad_size)

    def decode(self, state: ImageEmbedding, boxes: np.ndarray, multimask: bool) -> Tuple[np.ndarray, np.ndarray]:
        """Decode every box in one batched call.

        boxes: (N, 4) float32 XYXY pixels of the source image.
        Returns (N, h, w) float32 low-res mask logits over the whole (unpadded) input and (N,) float32 predicted IoU;
        with ``multimask`` the highest-IoU of the three candidates is kept per box.
        """
        import torch

        prompt = self.preprocessor.scale_boxes(boxes, state.original_size).to(self.device, self._decoder_stored)
        with torch.inference_mode():
            out = self.model(image_embeddings=state.embedding, input_boxes=prompt[None], multimask_output=multimask)
        logits = out.pred_masks[0].float()  # (N, M, h, w)
        iou = out.iou_scores[0].float()  # (N, M)
        best = iou.argmax(dim=1)
        index = torch.arange(len(best), device=best.device)
        return logits[index, best].cpu().numpy(), iou[index, best].cpu().numpy()


class EdgeTamSegmenter(Sam2Segmenter):
    """EdgeTAM (``EdgeTamModel``): SAM 2's prompt encoder and decoder on a RepViT image encoder; same inputs."""

    family = "edgetam"
