# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Segment Anything (SAM) through Hugging Face transformers: one image embedding per frame, all boxes in one call."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
from PIL import Image

from grounded_sam_ros.models.base import ImageEmbedding
from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference, weights_dtype


class SamSegmenter:
    """Box-prompted segmenter. Given a built ``SamModel`` and its processor; never opens files itself.

    ``dtype`` is the compute precision of the image encoder (nearly all of SAM's compute). When the encoder's weights
    are stored in another one (float32 weights for bfloat16 on CPU, see
    :func:`~grounded_sam_ros.models.precision.weights_dtype`) it runs under autocast. The prompt encoder and mask
    decoder run in their own weights' precision, float32 when loaded by :meth:`from_pretrained`: their logits are
    thresholded at 0, and half-precision rounding moved them enough to change ~40 % of mask pixels on random weights
    (mask IoU 0.59 against float32), against < 0.5 % with the decoder in float32 (IoU 0.995), for ~1 % of the time.
    """

    family = "sam"

    def __init__(self, model: Any, processor: Any, device: str = "cpu", dtype: Any = None) -> None:
        import torch

        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._encoder_stored = next(model.vision_encoder.parameters()).dtype
        self._decoder_stored = next(model.mask_decoder.parameters()).dtype
        pad = processor.image_processor.pad_size
        self.pad_size = (int(pad["height"]), int(pad["width"]))  # (h, w) of the padded encoder input
        self.compiled: Any = None  # CompiledRegions when the compiled path is on (models.compiled.enable_compile)
        self.openvino: Any = None  # OpenVinoRunner of the image encoder with backend=openvino
        self.device_preprocess = False  # pre-processing on the device (models.device_preprocess; config.preprocess)

    @classmethod
    def from_pretrained(cls, model_id: str, options: LoadOptions) -> "SamSegmenter":
        from transformers import SamModel, SamProcessor

        model = load_pretrained(SamModel, model_id, options, what="segmenter")
        processor = load_pretrained(SamProcessor, model_id, options, what="segmenter processor")
        cls._place(model, options)
        return cls(model, processor, options.device, options.dtype)

    @staticmethod
    def _place(model: Any, options: LoadOptions) -> None:
        """Fast CPU attention, then the image encoder in the requested precision and the rest in float32."""
        import torch

        from grounded_sam_ros.models.sam_attention import use_folded_rel_pos_attention

        if options.device == "cpu":
            # Same result to float rounding, 1.2x (float32) to 1.6x (bfloat16) faster image encoder on CPU
            use_folded_rel_pos_attention(model)
        # Image encoder in the requested precision, prompt encoder and mask decoder in float32 (see the class doc)
        model.to(device=options.device, dtype=torch.float32)
        model.vision_encoder.to(dtype=weights_dtype(options.device, options.dtype))

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, 1024, 1024) resized (longest side) and padded."""
        if self.device_preprocess:
            from grounded_sam_ros.models.device_preprocess import sam_inputs

            return sam_inputs(image, self.processor.image_processor, self.device, self._encoder_stored)
        inputs = self.processor.image_processor(images=Image.fromarray(image), return_tensors="pt")
        return {
            # Copied as float32, cast on the device (a half-precision cast on the CPU costs more than the copy)
            "pixel_values": inputs["pixel_values"].to(self.device).to(self._encoder_stored),
            "original_size": tuple(int(v) for v in inputs["original_sizes"][0]),
            "resized_size": tuple(int(v) for v in inputs["reshaped_input_sizes"][0]),
        }

    def embed(self, inputs: Dict[str, Any]) -> ImageEmbedding:
        """Run the image encoder once for the frame."""
        pixel_values = inputs["pixel_values"]
        if self.openvino is not None:  # its own precision (the plugin's hint), no autocast
            (embedding,) = self.openvino({"pixel_values": pixel_values}, tuple(pixel_values.shape[-2:]))
        else:
            with inference(self.device, self.dtype, self._encoder_stored):
                run = lambda: self.model.get_image_embeddings(pixel_values)  # noqa: E731
                embedding = run() if self.compiled is None else self.compiled.run(tuple(pixel_values.shape[-2:]), run)
        return ImageEmbedding(embedding, inputs["original_size"], inputs["resized_size"])

    def _decoder_inputs(self, state: ImageEmbedding) -> Dict[str, Any]:
        """The image-side inputs of the mask decoder, in the decoder's precision."""
        return {"image_embeddings": state.embedding.to(self._decoder_stored)}

    def decode(self, state: ImageEmbedding, boxes: np.ndarray, multimask: bool) -> Tuple[np.ndarray, np.ndarray]:
        """Decode every box in one batched call.

        boxes: (N, 4) float32 XYXY pixels of the source image.
        Returns (N, h, w) float32 low-res mask logits over the padded input and (N,) float32 predicted IoU;
        with ``multimask`` the highest-IoU of the three candidates is kept per box.
        """
        import torch

        (height, width), (resized_h, resized_w) = state.original_size, state.resized_size
        # Source pixels -> pixels of the resized image the encoder saw
        scale = np.array([resized_w / width, resized_h / height] * 2, dtype=np.float64)
        prompt = torch.as_tensor(boxes.astype(np.float64) * scale, dtype=torch.float32, device=self.device)
        with torch.inference_mode():  # the decoder's own precision, see the class docstring
            out = self.model(
                **self._decoder_inputs(state),
                input_boxes=prompt[None].to(self._decoder_stored),
                multimask_output=multimask,
            )
        logits = out.pred_masks[0].float()  # (N, M, h, w)
        iou = out.iou_scores[0].float()  # (N, M)
        best = iou.argmax(dim=1)
        index = torch.arange(len(best), device=best.device)
        return logits[index, best].cpu().numpy(), iou[index, best].cpu().numpy()
