# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The Grounded-SAM pipeline: text + image -> detections with instance masks. No ROS here.

Stages, each timed (seconds, in ``FrameResult.timings``):
``text`` (query -> tokens, cached per query) -> ``detector_preprocess`` -> ``detector`` -> ``select`` (thresholds,
labels, NMS, top-k) -> ``segmenter_preprocess`` -> ``segmenter_encoder`` (once per frame) -> ``segmenter_decoder``
(all boxes in one call) -> ``masks`` (up-sampling inside each mask's support only). SAM is skipped when no box is kept.
A one-stage model (SAM 3) is the detector stage and predicts the masks with the boxes: the segmenter stages are
skipped and ``masks`` up-samples its masks.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.models import LoadOptions, build_detector, build_one_stage, build_segmenter
from grounded_sam_ros.models.base import Detector, DetectorOutput, Segmenter, TextPrompt
from grounded_sam_ros.models.families import resolve_family
from grounded_sam_ros.postprocess import BoxSelection, MaskUpsampler, select_boxes
from grounded_sam_ros.prompts import parse_query
from grounded_sam_ros.results import Detection, FrameResult

_LOG = logging.getLogger(__name__)

# Fields that change per frame without reloading any model.
RUNTIME_FIELDS = frozenset(
    {
        "box_threshold",
        "text_threshold",
        "nms_iou",
        "max_detections",
        "multimask",
        "segment",
        "query_overflow",
        "max_image_pixels",
    }
)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda:0`` when CUDA is available, else ``cpu``; explicit CUDA without CUDA is an error."""
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but this torch build sees no CUDA device; use device='cpu' or 'auto'")
    return "cuda:0" if device == "cuda" else device


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX), as torch's CPU kernels see it."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_dtype(dtype: str, device: str) -> Any:
    """``auto`` -> float16 on CUDA; on CPU bfloat16 when the CPU has native bf16, else float32. Otherwise the named
    torch dtype.

    bfloat16 on CPU runs as autocast over float32 weights (see :mod:`grounded_sam_ros.models.precision`); the
    benchmark (README "Performance") measured its speed-up and its agreement with float32.
    """
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.float16
        return torch.bfloat16 if device == "cpu" and cpu_has_bf16() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def validate_image(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """Check an input frame: HxWx3 uint8 RGB, non-empty, at most ``max_pixels`` pixels. Returns it C-contiguous."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array HxWx3 uint8 RGB, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"image must be HxWx3 RGB, got shape {image.shape}; convert grey/RGBA/BGR frames to RGB first "
            "(e.g. grounded_sam_ros.data.load_image or PIL's Image.convert('RGB'))"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0..255), got {image.dtype}; scale and cast with .astype(np.uint8)")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image is empty ({width}x{height} pixels)")
    if height * width > max_pixels:
        raise ValueError(
            f"image is {width}x{height} = {height * width} pixels, above the limit of {max_pixels} "
            "(max_image_pixels); downscale it first — the detector resizes to ~800x1333 anyway"
        )
    return np.ascontiguousarray(image)


class _Timer:
    def __init__(self) -> None:
        self.timings: Dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


class GroundedSamPipeline:
    """Grounding DINO boxes -> SAM masks, for one frame at a time.

    Given built adapters (see :func:`build_pipeline`); never opens files. Not thread-safe: call it from one
    worker thread.
    """

    def __init__(self, detector: Detector, segmenter: Optional[Segmenter], config: PipelineConfig) -> None:
        self.detector = detector
        self.segmenter = segmenter
        self._config = config.validate()
        self._prompts: "OrderedDict[Tuple[str, ...], TextPrompt]" = OrderedDict()
        self._upsamplers: "OrderedDict[Tuple, MaskUpsampler]" = OrderedDict()

    @property
    def config(self) -> PipelineConfig:
        return self._config

    def update(self, **changes: Any) -> PipelineConfig:
        """Change per-frame settings (thresholds, NMS, top-k, multimask) without reloading models.

        Model fields (``detector_model``, ``device``, ...) need a new pipeline: :func:`build_pipeline`.
        """
        reload_needed = set(changes) - RUNTIME_FIELDS
        if reload_needed:
            raise RuntimeError(
                f"{', '.join(sorted(reload_needed))} cannot change on a loaded pipeline; build a new one with "
                "build_pipeline(config.replace(...)) (in the node: a lifecycle cleanup + configure)"
            )
        self._config = self._config.replace(**changes)
        return self._config

    def text_prompt(self, query: str) -> TextPrompt:
        """Tokenised query, cached per normalised phrase list (a camera stream repeats the same query)."""
        phrases = tuple(parse_query(query))
        prompt = self._prompts.get(phrases)
        if prompt is None:
            prompt = self.detector.encode_text(phrases, overflow=self._config.query_overflow)
            self._prompts[phrases] = prompt
            if len(self._prompts) > 16:
                self._prompts.popitem(last=False)
        return prompt

    def __call__(self, image: np.ndarray, query: str) -> FrameResult:
        """Detect and segment every phrase of ``query`` in ``image``.

        image: HxWx3 uint8 RGB. query: phrases separated by '.' or ','.
        Returns a FrameResult whose detections are sorted by score, boxes in source pixels, masks cropped to
        their tight bounding boxes.
        """
        config = self._config  # one snapshot for the whole frame
        timer = _Timer()
        image = validate_image(image, config.max_image_pixels)
        height, width = image.shape[:2]

        with timer("text"):
            prompt = self.text_prompt(query)
        with timer("detector_preprocess"):
            inputs = self.detector.preprocess(image)
        with timer("detector"):
            raw = self.detector.forward(inputs, prompt)
        with timer("select"):
            selection = select_boxes(
                raw.token_probs,
                raw.boxes_cxcywh,
                prompt.spans.spans,
                (height, width),
                config.box_threshold,
                config.text_threshold,
                config.nms_iou,
                config.max_detections,
            )

        detections = [
            Detection(
                label=prompt.spans.phrases[int(p)],
                score=float(s),
                box=b.copy(),
                id=str(i),
                phrase_index=int(p),
            )
            for i, (b, s, p) in enumerate(zip(selection.boxes, selection.scores, selection.phrase_index))
        ]
        if detections and config.segment and raw.instance_masks is not None:
            self._instance_masks(raw, selection, detections, (height, width), timer)
        elif detections and config.segment and self.segmenter is not None:
            self._segment(image, selection.boxes, detections, config.multimask, timer)
        return FrameResult(width, height, prompt.spans.query, detections, timer.timings)

    def _segment(self, image: np.ndarray, boxes: np.ndarray, detections: list, multimask: bool, timer: _Timer) -> None:
        segmenter = self.segmenter
        with timer("segmenter_preprocess"):
            inputs = segmenter.preprocess(image)
        with timer("segmenter_encoder"):
            state = segmenter.embed(inputs)
        with timer("segmenter_decoder"):
            logits, mask_scores = segmenter.decode(state, boxes, multimask)
        with timer("masks"):
            upsample = self._upsampler(logits.shape[-2:], segmenter.pad_size, state.resized_size, state.original_size)
            for det, mask_logits, mask_score in zip(detections, logits, mask_scores):
                det.mask, det.mask_x, det.mask_y = upsample(mask_logits)
                det.mask_score = float(np.clip(mask_score, 0.0, 1.0))

    def _instance_masks(
        self, raw: DetectorOutput, selection: BoxSelection, detections: list, size: Tuple[int, int], timer: _Timer
    ) -> None:
        """Masks predicted with the boxes (one-stage models): up-sample the kept ones, no segmenter."""
        with timer("masks"):
            probs = raw.instance_masks(selection.query_index)  # (K, h, w) over the stretched image
            low = probs.shape[-2:]
            upsample = self._upsampler(low, low, low, size)
            for det, mask_probs in zip(detections, probs):
                det.mask, det.mask_x, det.mask_y = upsample(mask_probs, raw.mask_threshold)
                det.mask_score = det.score

    def _upsampler(self, *sizes: Tuple[int, int]) -> MaskUpsampler:
        key = tuple(tuple(int(v) for v in s) for s in sizes)
        upsampler = self._upsamplers.get(key)
        if upsampler is None:
            upsampler = MaskUpsampler.create(*key)
            self._upsamplers[key] = upsampler
            if len(self._upsamplers) > 8:
                self._upsamplers.popitem(last=False)
        return upsampler


def build_pipeline(config: PipelineConfig) -> GroundedSamPipeline:
    """Load the configured detector and segmenter (or one-stage model) once and return a ready pipeline.

    Families are read from the checkpoints when not given; a model of the wrong kind (a segmenter as detector, a
    one-stage model as segmenter, ...) is refused with the reason before anything is loaded.
    """
    config = config.validate()
    device = resolve_device(config.device)
    options = LoadOptions(
        device=device,
        dtype=resolve_dtype(config.dtype, device),
        local_files_only=config.local_files_only,
        allow_pickle=config.allow_pickle,
        cache_dir=config.cache_dir or None,
    )
    families = resolve_families(config, options)
    segmenter = None
    if config.one_stage_model:
        _LOG.info("loading one-stage model %s (%s) on %s", config.one_stage_model, families["one_stage"], device)
        detector = build_one_stage(families["one_stage"], config.one_stage_model, options)
    else:
        _LOG.info("loading detector %s (%s) on %s", config.detector_model, families["detector"], device)
        detector = build_detector(families["detector"], config.detector_model, options)
        if config.segment:
            _LOG.info("loading segmenter %s (%s) on %s", config.segmenter_model, families["segmenter"], device)
            segmenter = build_segmenter(families["segmenter"], config.segmenter_model, options)
    if config.detector_max_size and not config.one_stage_model:
        detector.set_max_size(config.detector_max_size)
    from grounded_sam_ros.models.device_preprocess import use_device_preprocess

    on_device = use_device_preprocess(config.preprocess, device, options.dtype)
    for adapter in (detector, segmenter):
        if adapter is not None and hasattr(adapter, "device_preprocess"):
            adapter.device_preprocess = on_device and config.backend == "torch"
    core = getattr(getattr(detector, "model", None), "model", None)
    if config.backend == "torch" and hasattr(core, "text_backbone"):  # Grounding DINO: BERT once per query
        from grounded_sam_ros.models.text_cache import cache_text_features

        detector.text_cache = cache_text_features(detector.model)
    if hasattr(detector, "shape_buckets"):  # compile / openvino: exact sizes in float32 unless asked otherwise
        detector.shape_buckets = config.shape_buckets == "on" or (
            config.shape_buckets == "auto" and str(options.dtype) != "torch.float32"
        )
    if config.backend == "openvino":
        from grounded_sam_ros.models.openvino_backend import enable_openvino

        enable_openvino(detector, segmenter, config.compile_cache_dir)
    if config.compile:
        from grounded_sam_ros.models.compiled import enable_compile

        _LOG.info("compiling on first use (cache: %s)", config.compile_cache_dir or "~/.cache/grounded_sam_ros/compile")
        enable_compile([a for a in (detector, segmenter) if a is not None], config.compile_cache_dir)
    return GroundedSamPipeline(detector, segmenter, dataclasses.replace(config, device=device))


def resolve_families(config: PipelineConfig, options: LoadOptions) -> Dict[str, str]:
    """The family of each configured model (``detector``, ``segmenter`` or ``one_stage``), explicit or read from
    its checkpoint; ``ValueError`` with the reason when a model is of the wrong kind or unknown."""
    if config.one_stage_model:
        family = resolve_family(
            config.one_stage_model, config.one_stage_family, "one-stage", options, "one_stage_model"
        )
        return {"one_stage": family}
    families = {
        "detector": resolve_family(config.detector_model, config.detector_family, "detector", options, "detector_model")
    }
    if config.segment:
        families["segmenter"] = resolve_family(
            config.segmenter_model, config.segmenter_family, "segmenter", options, "segmenter_model"
        )
    return families
