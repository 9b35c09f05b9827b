# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The naive baseline: Grounding DINO + SAM the way the transformers docs show them, in float32.

``AutoProcessor`` (image + caption) -> ``GroundingDinoForObjectDetection`` -> ``post_process_grounded_object_detection``
-> ``SamProcessor`` (image + boxes) -> ``SamModel`` (image embeddings, then the boxes) -> ``post_process_masks`` at full
frame size. The only departures from the docs are the ones a fair comparison needs: the top ``k`` boxes by score are
kept whatever the thresholds (as the pipeline is forced to in the benchmark), and boxes are clipped to the frame, as
the pipeline does.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Tuple

import numpy as np
from PIL import Image


class NaiveGroundedSam:
    """Given loaded transformers models and processors (float32, on ``device``)."""

    def __init__(self, gd_processor: Any, gd_model: Any, sam_processor: Any, sam_model: Any, device: str) -> None:
        self.gd_processor = gd_processor
        self.gd_model = gd_model.eval()
        self.sam_processor = sam_processor
        self.sam_model = sam_model.eval()
        self.device = device

    @classmethod
    def load(cls, detector: str, segmenter: str, device: str) -> "NaiveGroundedSam":
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor, SamModel, SamProcessor

        return cls(
            AutoProcessor.from_pretrained(detector),
            AutoModelForZeroShotObjectDetection.from_pretrained(detector).to(device),
            SamProcessor.from_pretrained(segmenter),
            SamModel.from_pretrained(segmenter).to(device),
            device,
        )

    def __call__(self, image: np.ndarray, caption: str, k: int) -> Tuple[np.ndarray, np.ndarray, Dict[str, float]]:
        """image: HxWx3 uint8 RGB; caption: 'a . b .'; k boxes.

        Returns (boxes (k, 4) float32 XYXY source pixels sorted by score, masks (k, H, W) bool, stage seconds).
        """
        import torch

        sync = torch.cuda.synchronize if self.device.startswith("cuda") else (lambda: None)
        times: Dict[str, float] = {}
        height, width = image.shape[:2]
        pil = Image.fromarray(image)

        start = time.perf_counter()
        inputs = self.gd_processor(images=pil, text=caption, return_tensors="pt").to(self.device)
        times["preprocess"] = time.perf_counter() - start

        start = time.perf_counter()
        with torch.no_grad():
            outputs = self.gd_model(**inputs)
        sync()
        times["detector"] = time.perf_counter() - start

        start = time.perf_counter()
        found = self.gd_processor.post_process_grounded_object_detection(
            outputs, inputs.input_ids, threshold=0.0, text_threshold=0.0, target_sizes=[(height, width)]
        )[0]
        order = torch.argsort(found["scores"], descending=True, stable=True)[:k]
        boxes = found["boxes"][order].clamp(min=0)
        boxes = torch.minimum(boxes, torch.tensor([width, height, width, height], device=boxes.device))
        boxes = boxes.float().cpu().numpy()
        times["select"] = time.perf_counter() - start

        start = time.perf_counter()
        sam_inputs = self.sam_processor(images=pil, input_boxes=[boxes.tolist()], return_tensors="pt").to(self.device)
        times["preprocess"] += time.perf_counter() - start

        start = time.perf_counter()
        with torch.no_grad():
            embeddings = self.sam_model.get_image_embeddings(sam_inputs["pixel_values"])
        sync()
        times["sam_encoder"] = time.perf_counter() - start

        start = time.perf_counter()
        with torch.no_grad():
            sam_out = self.sam_model(
                image_embeddings=embeddings, input_boxes=sam_inputs["input_boxes"], multimask_output=False
            )
        sync()
        times["sam_decoder"] = time.perf_counter() - start

        start = time.perf_counter()
        masks = self.sam_processor.post_process_masks(
            sam_out.pred_masks.cpu(), sam_inputs["original_sizes"].cpu(), sam_inputs["reshaped_input_sizes"].cpu()
        )[0][:, 0].numpy()
        times["masks"] = time.perf_counter() - start
        return boxes, masks, times
