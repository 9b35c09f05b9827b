# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Model-level agreement of a variant with eager float32 on one frame, and OpenVINO's per-operation profile.

The per-frame agreement of ``bench.measure.agreement`` compares each variant's top-k boxes; with random weights the
900 box scores are nearly tied, so any rounding reorders the top k and that comparison says little. Here the raw
outputs are compared instead, on the same unpadded frame: the detector's token scores and boxes of all 900 queries,
SAM's image embedding, and SAM's masks decoded from each variant's embedding for the *same* boxes (the reference's).
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np


def raw_outputs(pipe: Any, image: np.ndarray, query: str, boxes: np.ndarray) -> Dict[str, Any]:
    """Detector scores/boxes (all queries), SAM embedding and the masks (low-res logits > 0) for ``boxes``.

    image: HxWx3 uint8 RGB; boxes: Nx4 float32 XYXY pixels.
    """
    height, width = image.shape[:2]
    detector = pipe.detector
    inputs = detector.preprocess(image)
    out = detector.forward(inputs, pipe.text_prompt(query))
    # Boxes are relative to the valid (unpadded) image: to source pixels
    boxes_px = out.boxes_cxcywh * np.array([width, height, width, height], dtype=np.float32)
    state = pipe.segmenter.embed(pipe.segmenter.preprocess(image))
    logits, _ = pipe.segmenter.decode(state, boxes, False)
    return {"scores": out.token_probs, "boxes_px": boxes_px, "embedding": state.embedding.float(), "masks": logits > 0}


def compare(reference: Dict[str, Any], other: Dict[str, Any]) -> Dict[str, float]:
    """Largest score and box differences over all queries, embedding relative error, mask IoU for the same boxes."""
    ref_e, oth_e = reference["embedding"], other["embedding"]
    ious = []
    for a, b in zip(reference["masks"], other["masks"]):
        union = np.logical_or(a, b).sum()
        ious.append(float(np.logical_and(a, b).sum() / union) if union else 1.0)
    return {
        "queries_matched": queries_matched(reference, other),
        "score_diff_max": float(np.abs(reference["scores"] - other["scores"]).max()),
        "box_diff_max_px": float(np.abs(reference["boxes_px"] - other["boxes_px"]).max()),
        "box_diff_median_px": float(np.median(np.abs(reference["boxes_px"] - other["boxes_px"]))),
        "embedding_rel_err": float((oth_e - ref_e).norm() / ref_e.norm()),
        "same_box_mask_iou_min": min(ious) if ious else 1.0,
    }


def queries_matched(reference: Dict[str, Any], other: Dict[str, Any], score_tol=1e-3, box_tol_px=0.5) -> float:
    """Fraction of the reference's 900 queries that ``other`` has too, in any slot: scores within ``score_tol`` and
    box within ``box_tol_px``. Grounding DINO picks its queries by a top-k over the encoder's proposals, so on random
    weights (near-tied proposal scores) float rounding can change the order of, or swap, a few queries at the edge of
    that top-k; a per-slot comparison then reports their differences as if the outputs differed."""
    ref = np.concatenate([reference["scores"] / score_tol, reference["boxes_px"] / box_tol_px], axis=1)
    oth = np.concatenate([other["scores"] / score_tol, other["boxes_px"] / box_tol_px], axis=1)
    found = [np.abs(oth - row).max(axis=1).min() <= 1.0 for row in ref]
    return float(np.mean(found))


def openvino_profile(pipe: Any, image: np.ndarray, query: str, top: int = 12) -> Dict[str, List[Dict[str, Any]]]:
    """{"detector": [...], "sam_encoder": [...]}: time per operation type of one inference on an OpenVINO pipeline,
    from the CPU plugin's performance counters (a separate compile of the cached IR with ``PERF_COUNT``)."""
    from grounded_sam_ros.models.compiled import pad_text
    from grounded_sam_ros.models.openvino_backend import DetectorGraph

    detector, segmenter = pipe.detector, pipe.segmenter
    text = pad_text(pipe.text_prompt(query).tensors, detector.max_text_tokens)
    det_inputs = DetectorGraph.inputs(detector.model, detector.preprocess(image), text)
    det_shape = (*det_inputs["pixel_values"].shape[-2:], text["input_ids"].shape[1])
    sam_inputs = {"pixel_values": segmenter.preprocess(image)["pixel_values"]}
    return {
        "detector": _counters(detector.openvino, det_inputs, det_shape, top),
        "sam_encoder": _counters(segmenter.openvino, sam_inputs, tuple(sam_inputs["pixel_values"].shape[-2:]), top),
    }


def _counters(runner: Any, inputs: Dict[str, Any], shape: tuple, top: int) -> List[Dict[str, Any]]:
    import openvino as ov

    xml = runner.ir_path(shape)
    compiled = ov.Core().compile_model(str(xml), "CPU", {**runner.plugin_config, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    arrays = [t.numpy() for t in inputs.values()]
    request.infer(arrays)  # untimed
    request.infer(arrays)
    totals: Dict[str, float] = {}
    for info in request.profiling_info:
        name = f"{info.node_type} ({info.exec_type})"
        totals[name] = totals.get(name, 0.0) + info.real_time.total_seconds() * 1000.0
    total = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"op": name, "ms": ms, "share": ms / total} for name, ms in ranked]
