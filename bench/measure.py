# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Timing, FLOP counting and output agreement for the benchmark variants (the pipeline and the naive baseline)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.pipeline import GroundedSamPipeline, build_pipeline
from grounded_sam_ros.postprocess import box_iou

# Stage columns of the table, in pipeline order. "preprocess" is the detector's and the segmenter's together.
STAGES = ("text", "preprocess", "detector", "select", "sam_encoder", "sam_decoder", "masks", "message")
_PIPELINE_STAGES = {
    "text": "text",
    "detector_preprocess": "preprocess",
    "segmenter_preprocess": "preprocess",
    "detector": "detector",
    "select": "select",
    "segmenter_encoder": "sam_encoder",
    "segmenter_decoder": "sam_decoder",
    "masks": "masks",
}


def forced_top_k(config: PipelineConfig, k: int) -> PipelineConfig:
    """The config with thresholds at 0 and ``max_detections=k``: every query box passes, the top ``k`` by score stay.

    Sigmoid scores are always above 0, so this keeps exactly ``k`` boxes (of Grounding DINO's 900) whatever the
    weights — the bench's way to force a box count through the public config, with no hook in the product code.
    """
    return config.replace(box_threshold=0.0, text_threshold=0.0, nms_iou=1.0, max_detections=k)


@dataclass
class Frame:
    """What one variant produced for one frame: boxes (N, 4) float32 XYXY source pixels, masks (N, H, W) bool."""

    boxes: np.ndarray
    masks: np.ndarray
    seconds: Dict[str, float]  # stage -> seconds, plus "total" (wall time of the call)


@dataclass
class Samples:
    """Stage timings of one variant on one workload, over the repeats."""

    frames: List[Dict[str, float]] = field(default_factory=list)

    def add(self, seconds: Dict[str, float]) -> None:
        self.frames.append(seconds)

    def median_ms(self, stage: str) -> Optional[float]:
        values = [f[stage] for f in self.frames if stage in f]
        return 1000.0 * statistics.median(values) if values else None

    def medians_ms(self) -> Dict[str, float]:
        stages = {s for f in self.frames for s in f}
        return {s: self.median_ms(s) for s in sorted(stages)}


def synchronising(device: str) -> Callable[[], None]:
    """A function that waits for the device (CUDA) or does nothing (CPU)."""
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def load_pipeline(detector: str, segmenter: str, device: str, dtype: str, k: int) -> GroundedSamPipeline:
    """The product pipeline (``build_pipeline``) on the given models, forced to ``k`` boxes."""
    config = PipelineConfig(
        detector_model=detector, segmenter_model=segmenter, device=device, dtype=dtype, local_files_only=True
    )
    pipe = build_pipeline(forced_top_k(config, k))
    if device.startswith("cuda"):
        synchronise_encoder(pipe, device)
    return pipe


def synchronise_encoder(pipe: GroundedSamPipeline, device: str) -> None:
    """Make the SAM encoder wait for the device after each call, so that it gets its own stage time (its output
    stays on the GPU until the decoder reads it, which would otherwise charge the encoder to the decoder)."""
    embed, sync = pipe.segmenter.embed, synchronising(device)

    def embed_synchronised(inputs):
        state = embed(inputs)
        sync()
        return state

    pipe.segmenter.embed = embed_synchronised


def write_report(report: Dict[str, Any], text: str, out: Path, log: Callable[[str], None]) -> None:
    """Print the rendered ``text``, keep it in ``report["table"]`` and write ``report`` as JSON to ``out``."""
    print(text, flush=True)
    report["table"] = text.splitlines()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    log(f"wrote {out}")


def message_converter() -> Tuple[Optional[Callable[[Any], Any]], str]:
    """(``result_to_msg``, "") when the ROS message modules import, else (None, the reason)."""
    try:
        from grounded_sam_ros.ros.conversions import result_to_msg
    except Exception as exc:  # noqa: BLE001 - any import failure means: no ROS here
        return None, f"{type(exc).__name__}: {exc}"
    return result_to_msg, ""


def run_pipeline(pipe: GroundedSamPipeline, image: np.ndarray, query: str, to_msg: Optional[Callable]) -> Frame:
    """One frame through the pipeline (and the message conversion when ``to_msg``); stage seconds + full masks."""
    start = time.perf_counter()
    result = pipe(image, query)
    seconds: Dict[str, float] = {"total": time.perf_counter() - start}
    for stage, value in result.timings.items():
        name = _PIPELINE_STAGES.get(stage, stage)
        seconds[name] = seconds.get(name, 0.0) + value
    if to_msg is not None:
        start = time.perf_counter()
        to_msg(result)
        seconds["message"] = time.perf_counter() - start
    height, width = image.shape[:2]
    boxes = np.array([d.box for d in result.detections], dtype=np.float32).reshape(-1, 4)
    masks = np.array([d.full_mask(height, width) for d in result.detections], dtype=bool).reshape(-1, height, width)
    return Frame(boxes, masks, seconds)


def run_naive(naive: Any, image: np.ndarray, caption: str, k: int) -> Frame:
    start = time.perf_counter()
    boxes, masks, seconds = naive(image, caption, k)
    seconds["total"] = time.perf_counter() - start
    return Frame(boxes, masks, seconds)


def agreement(reference: Frame, other: Frame) -> Dict[str, float]:
    """How far ``other`` is from ``reference`` (same frame, same k).

    Each of ``other``'s boxes is matched to the reference box it overlaps most; pairs with box IoU >= 0.5 count as
    the same object. Returns the matched fraction, the largest and median box-corner drift (px) over matched pairs,
    and the smallest and mean mask IoU over them.
    """
    if len(reference.boxes) == 0 or len(other.boxes) == 0:
        same = len(reference.boxes) == len(other.boxes)
        return {"matched": 1.0 if same else 0.0, "box_drift_max_px": 0.0, "box_drift_median_px": 0.0,
                "mask_iou_min": 1.0, "mask_iou_mean": 1.0}  # fmt: skip
    iou = box_iou(other.boxes, reference.boxes)
    best = iou.argmax(axis=1)
    matched = iou[np.arange(len(best)), best] >= 0.5
    drift, mask_iou = [], []
    for i in np.flatnonzero(matched):
        j = best[i]
        drift.append(float(np.abs(other.boxes[i] - reference.boxes[j]).max()))
        union = np.logical_or(other.masks[i], reference.masks[j]).sum()
        inter = np.logical_and(other.masks[i], reference.masks[j]).sum()
        mask_iou.append(float(inter / union) if union else 1.0)
    if not drift:
        return {"matched": 0.0, "box_drift_max_px": float("nan"), "box_drift_median_px": float("nan"),
                "mask_iou_min": float("nan"), "mask_iou_mean": float("nan")}  # fmt: skip
    return {
        "matched": float(matched.mean()),
        "box_drift_max_px": max(drift),
        "box_drift_median_px": float(np.median(drift)),
        "mask_iou_min": min(mask_iou),
        "mask_iou_mean": float(np.mean(mask_iou)),
    }


def merge_agreement(values: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Worst case over frames (means averaged)."""
    if not values:
        return {}
    out = {}
    for key in values[0]:
        column = [v[key] for v in values]
        if key.endswith("_max_px"):
            out[key] = max(column)
        elif key.endswith("_min") or key == "matched":
            out[key] = min(column)
        else:
            out[key] = float(np.mean(column))
    return out


def _flop_counter() -> Any:
    """``FlopCounterMode`` that also counts the CPU flash-attention kernel (torch registers only the GPU ones)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_flash_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    extra = {}
    kernel = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if kernel is not None:
        extra[kernel] = cpu_flash_attention
    return FlopCounterMode(display=False, custom_mapping=extra)


def count_flops(pipe: GroundedSamPipeline, image: np.ndarray, query: str) -> Dict[str, float]:
    """FLOPs per model stage of one frame, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    It counts matrix multiplications, convolutions and attention (the CPU flash-attention kernel too, which torch
    does not register); element-wise work and Grounding DINO's deformable-attention sampling are not counted, so
    achieved rates computed from it are a floor. Give it a pipeline on the unmodified transformers models to count
    the models' own FLOPs.
    """
    from grounded_sam_ros.postprocess import select_boxes

    config = pipe.config
    prompt = pipe.text_prompt(query)
    flops: Dict[str, float] = {}
    counter = _flop_counter()
    inputs = pipe.detector.preprocess(image)
    with counter:
        raw = pipe.detector.forward(inputs, prompt)
    flops["detector"] = float(counter.get_total_flops())
    height, width = image.shape[:2]
    selection = select_boxes(
        raw.token_probs, raw.boxes_cxcywh, prompt.spans.spans, (height, width), 0.0, 0.0, 1.0, config.max_detections
    )
    if pipe.segmenter is None or len(selection) == 0:
        return flops
    state_inputs = pipe.segmenter.preprocess(image)
    counter = _flop_counter()
    with counter:
        state = pipe.segmenter.embed(state_inputs)
    flops["sam_encoder"] = float(counter.get_total_flops())
    counter = _flop_counter()
    with counter:
        pipe.segmenter.decode(state, selection.boxes, config.multimask)
    flops["sam_decoder"] = float(counter.get_total_flops())
    return flops


def best_of(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] = lambda: None) -> Tuple[float, Any]:
    """(minimum seconds over ``repeats`` calls, the last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, out


def median_of(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] = lambda: None) -> Tuple[float, Any]:
    """(median seconds over ``repeats`` calls, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out
