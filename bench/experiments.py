# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One A/B measurement per optimisation, each variant run interleaved with the other on the same inputs.

Every function returns ``{"name", "a", "b", "a_ms", "b_ms", "speedup", ...}`` where ``b`` is the optimised variant and
``speedup = a_ms / b_ms``; the README lists them with what was kept.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List

import numpy as np

from bench.measure import best_of, median_of, synchronising
from grounded_sam_ros.pipeline import GroundedSamPipeline
from grounded_sam_ros.postprocess import select_boxes


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], repeats: int, sync=lambda: None) -> Dict[str, float]:
    """Median ms of ``a`` and ``b`` called alternately ``repeats`` times each (after one untimed call of each)."""
    a(), b()
    sync()
    times: Dict[str, List[float]] = {"a": [], "b": []}
    for _ in range(repeats):
        for key, fn in (("a", a), ("b", b)):
            start = time.perf_counter()
            fn()
            sync()
            times[key].append(time.perf_counter() - start)
    a_ms, b_ms = 1000.0 * float(np.median(times["a"])), 1000.0 * float(np.median(times["b"]))
    return {"a_ms": a_ms, "b_ms": b_ms, "speedup": a_ms / b_ms}


def _result(name: str, a: str, b: str, measured: Dict[str, float], **extra: Any) -> Dict[str, Any]:
    return {"name": name, "a": a, "b": b, **measured, **extra}


def text_cache(pipe: GroundedSamPipeline, query: str, repeats: int) -> List[Dict[str, Any]]:
    """Tokenising the query each frame vs the per-query cache; and what caching the BERT features could add."""
    import torch

    detector = pipe.detector
    phrases = tuple(p.strip() for p in query.split("."))
    measured = _interleaved(lambda: detector.encode_text(phrases), lambda: pipe.text_prompt(query), repeats)
    out = [_result("cached tokens", "tokenise per frame", "cache per query", measured)]
    # The text encoder (BERT) still runs inside every detector forward; time it alone to bound a feature cache
    prompt = pipe.text_prompt(query)
    bert = getattr(getattr(detector.model, "model", None), "text_backbone", None)
    if bert is not None:
        tensors = {k: v for k, v in prompt.tensors.items() if k in ("input_ids", "attention_mask", "token_type_ids")}

        def run_bert():
            with torch.inference_mode():
                bert(**tensors)

        seconds, _ = best_of(run_bert, repeats, synchronising(str(detector.device)))
        out.append({"name": "BERT forward per frame", "ms": 1000.0 * seconds,
                    "note": "upper bound of what caching text features would save per frame"})  # fmt: skip
    return out


def crop_upsampling(pipe: GroundedSamPipeline, image: np.ndarray, query: str, counts, repeats: int) -> List[Dict]:
    """Mask post-processing: the processor's full-frame ``post_process_masks`` vs up-sampling inside each crop."""
    import torch

    segmenter = pipe.segmenter
    height, width = image.shape[:2]
    inputs = segmenter.preprocess(image)
    state = segmenter.embed(inputs)
    prompt = pipe.text_prompt(query)
    raw = pipe.detector.forward(pipe.detector.preprocess(image), prompt)
    selection = select_boxes(
        raw.token_probs, raw.boxes_cxcywh, prompt.spans.spans, (height, width), 0.0, 0.0, 1.0, max(counts)
    )
    out = []
    for k in counts:
        logits, _ = segmenter.decode(state, selection.boxes[:k], False)
        upsample = pipe._upsampler(logits.shape[-2:], segmenter.pad_size, state.resized_size, state.original_size)
        low = torch.from_numpy(logits)[None, :, None]  # (1, k, 1, h, w) as SamModel returns pred_masks
        sizes = torch.tensor([state.original_size]), torch.tensor([state.resized_size])

        def full_frame(low=low, sizes=sizes):
            return segmenter.processor.post_process_masks(low, *sizes)

        def crops(logits=logits, upsample=upsample):
            return [upsample(m) for m in logits]

        measured = _interleaved(full_frame, crops, repeats)
        out.append(_result(f"crop-only mask up-sampling, {k} boxes", "full frame", "crops", measured, boxes=k))
    return out


def skip_sam_when_empty(pipe: GroundedSamPipeline, image: np.ndarray, query: str, frame_ms: float) -> Dict[str, Any]:
    """A frame where no box passes the thresholds: SAM is not run at all (measured), vs a frame with boxes."""
    config = pipe.config
    pipe.update(box_threshold=1.0)
    try:
        start = time.perf_counter()
        result = pipe(image, query)
        empty_ms = 1000.0 * (time.perf_counter() - start)
    finally:
        pipe.update(box_threshold=config.box_threshold)
    return _result(
        "SAM skipped on empty frames",
        "frame with boxes",
        "frame without boxes",
        {"a_ms": frame_ms, "b_ms": empty_ms, "speedup": frame_ms / empty_ms},
        boxes=len(result.detections),
    )


def sam_encoder_variants(
    pipe: GroundedSamPipeline, image: np.ndarray, segmenter_dir: str, repeats: int
) -> List[Dict[str, Any]]:
    """SAM image encoder: bf16 autocast over float32 weights vs bfloat16 weights; SDPA vs eager attention."""
    import torch
    from transformers import SamModel

    from grounded_sam_ros.models.sam import SamSegmenter

    segmenter = pipe.segmenter
    inputs = segmenter.preprocess(image)
    out = []
    if segmenter.dtype == torch.bfloat16 and str(segmenter.device) == "cpu":
        cast = SamSegmenter(SamModel.from_pretrained(segmenter_dir).to(torch.bfloat16), segmenter.processor,
                            "cpu", torch.bfloat16)  # fmt: skip
        cast_inputs = cast.preprocess(image)
        a = cast.embed(cast_inputs).embedding.float()
        b = segmenter.embed(inputs).embedding.float()
        measured = _interleaved(lambda: cast.embed(cast_inputs), lambda: segmenter.embed(inputs), repeats)
        out.append(_result("bf16: autocast over fp32 weights (SAM encoder)", "bf16 weights", "autocast", measured,
                           relative_difference=float((a - b).norm() / b.norm())))  # fmt: skip
        del cast
    eager = SamSegmenter(
        SamModel.from_pretrained(segmenter_dir, attn_implementation="eager").to(segmenter.device),
        segmenter.processor,
        str(segmenter.device),
        segmenter.dtype,
    )
    sync = synchronising(str(segmenter.device))
    measured = _interleaved(lambda: eager.embed(inputs), lambda: segmenter.embed(inputs), repeats, sync)
    out.append(_result("SDPA attention (SAM encoder)", "eager", "sdpa", measured))
    return out


def detector_weight_cast(pipe: GroundedSamPipeline, image: np.ndarray, query: str, detector_dir: str, repeats: int):
    """Grounding DINO forward: bfloat16 weights vs autocast over float32 weights (CPU bf16 only)."""
    import torch
    from transformers import AutoModelForZeroShotObjectDetection

    from grounded_sam_ros.models.grounding_dino import GroundingDinoDetector

    detector = pipe.detector
    if not (detector.dtype == torch.bfloat16 and str(detector.device) == "cpu"):
        return []
    model = AutoModelForZeroShotObjectDetection.from_pretrained(detector_dir).to(torch.bfloat16)
    cast = GroundingDinoDetector(model, detector.processor, "cpu", torch.bfloat16)
    prompt = pipe.text_prompt(query)
    inputs, cast_inputs = detector.preprocess(image), cast.preprocess(image)
    cast_out = cast.forward(cast_inputs, prompt)
    measured = _interleaved(
        lambda: cast.forward(cast_inputs, prompt), lambda: detector.forward(inputs, prompt), repeats
    )
    finite = bool(np.isfinite(cast_out.boxes_cxcywh).all())
    return [_result("bf16: autocast over fp32 weights (detector)", "bf16 weights", "autocast", measured,
                    bf16_weights_finite_boxes=finite)]  # fmt: skip


def gather_deformable_attention(pipe: GroundedSamPipeline, image: np.ndarray, query: str, detector_dir: str,
                                repeats: int) -> Dict[str, Any]:  # fmt: skip
    """Grounding DINO forward with transformers' deformable attention (grid_sample) vs the gather version."""
    from transformers import AutoModelForZeroShotObjectDetection

    from grounded_sam_ros.models.grounding_dino import GroundingDinoDetector

    detector = pipe.detector
    model = AutoModelForZeroShotObjectDetection.from_pretrained(detector_dir).to(detector.device)
    original = GroundingDinoDetector(model, detector.processor, str(detector.device), detector.dtype)
    prompt = pipe.text_prompt(query)
    inputs = detector.preprocess(image)
    a, b = original.forward(inputs, prompt), detector.forward(inputs, prompt)
    sync = synchronising(str(detector.device))
    measured = _interleaved(lambda: original.forward(inputs, prompt), lambda: detector.forward(inputs, prompt),
                            repeats, sync)  # fmt: skip
    return _result(f"gather deformable attention (detector, {str(detector.dtype).replace('torch.', '')})",
                   "grid_sample", "embedding_bag", measured,
                   max_box_difference=float(np.abs(a.boxes_cxcywh - b.boxes_cxcywh).max()))  # fmt: skip


def threads(pipe: GroundedSamPipeline, image: np.ndarray, repeats: int) -> Dict[str, Any]:
    """SAM image encoder with one intra-op thread vs torch's default (one per core)."""
    import torch

    segmenter = pipe.segmenter
    inputs = segmenter.preprocess(image)
    default = torch.get_num_threads()

    def one_thread():
        torch.set_num_threads(1)
        try:
            segmenter.embed(inputs)
        finally:
            torch.set_num_threads(default)

    measured = _interleaved(one_thread, lambda: segmenter.embed(inputs), repeats)
    return _result(f"threads (SAM encoder): {default} vs 1", "1 thread", f"{default} threads", measured)


def compile_sam_encoder(pipe: GroundedSamPipeline, image: np.ndarray, repeats: int) -> Dict[str, Any]:
    """``torch.compile`` of SAM's image encoder: cold start (first call) and steady state vs eager PyTorch."""
    import torch

    segmenter = pipe.segmenter
    inputs = segmenter.preprocess(image)
    sync = synchronising(str(segmenter.device))
    eager_s, _ = median_of(lambda: segmenter.embed(inputs), repeats, sync)
    encoder = segmenter.model.vision_encoder
    compiled = torch.compile(encoder)
    segmenter.model.vision_encoder = compiled
    try:
        start = time.perf_counter()
        segmenter.embed(inputs)
        sync()
        cold_s = time.perf_counter() - start
        warm_s, _ = median_of(lambda: segmenter.embed(inputs), repeats, sync)
    finally:
        segmenter.model.vision_encoder = encoder
    return _result(
        "torch.compile (SAM encoder)",
        "eager",
        "compiled",
        {"a_ms": 1000.0 * eager_s, "b_ms": 1000.0 * warm_s, "speedup": eager_s / warm_s},
        cold_start_s=cold_s,
    )


def folded_rel_pos_attention(pipe: GroundedSamPipeline, image: np.ndarray, segmenter_dir: str, repeats: int):
    """SAM image encoder with transformers' SDPA attention (explicit rel-pos bias) vs the folded version."""
    from transformers import SamModel

    from grounded_sam_ros.models.sam import SamSegmenter

    segmenter = pipe.segmenter
    model = SamModel.from_pretrained(segmenter_dir).to(segmenter.device)
    original = SamSegmenter(model, segmenter.processor, str(segmenter.device), segmenter.dtype)
    inputs = segmenter.preprocess(image)
    a = original.embed(inputs).embedding.float()
    b = segmenter.embed(inputs).embedding.float()
    sync = synchronising(str(segmenter.device))
    measured = _interleaved(lambda: original.embed(inputs), lambda: segmenter.embed(inputs), repeats, sync)
    dtype = str(segmenter.dtype).replace("torch.", "")
    return _result(f"folded rel-pos attention (SAM encoder, {dtype})", "bias tensor", "folded", measured,
                   relative_difference=float((a - b).norm() / a.norm()))  # fmt: skip
