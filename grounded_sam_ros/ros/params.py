# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's ROS parameters: the core table here, each capability's own in its module; one set of rules over all.

The core parameters (query, models, per-frame thresholds, image input, rate) are listed here; a capability declares
its own in its module (``PARAMS``, e.g. the depth settings in :mod:`grounded_sam_ros.ros.capabilities.depth`).
:data:`TABLE` joins them in registration order and applies the rules of :mod:`grounded_sam_ros.ros.param_table`
(declared once, validated in one place, turned into a PipelineConfig). The module-level names below are that table's.
Pure Python apart from :func:`declare` and :func:`descriptor`: the rules are unit-tested without ``rclpy.init``.
Each parameter says when a change takes effect:

- ``live``: from the next frame, without reloading models (query, thresholds, rate);
- ``configure``: only while the node is unconfigured — models load on the lifecycle ``configure`` transition, so a
  change needs ``cleanup`` → set → ``configure`` → ``activate``;
- ``startup``: read once when the node starts (read-only afterwards).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Tuple, Type

from grounded_sam_ros.config import (
    BACKENDS,
    DEFAULT_DETECTOR,
    DEFAULT_SEGMENTER,
    DEVICES_HELP,
    DTYPES,
    SHAPE_BUCKETS,
    PipelineConfig,
)
from grounded_sam_ros.ros.capabilities import CAPABILITIES, Capability, capability_params
from grounded_sam_ros.ros.param_table import (  # noqa: F401 - re-exported: the names users of this module know
    CONFIGURE,
    LIVE,
    STARTUP,
    ParamSpec,
    ParamTable,
    Settings,
    descriptor,
)
from grounded_sam_ros.ros.query import clean_query

RELIABILITIES = ("best_effort", "reliable")
MAX_CAMERAS = 16
_NAMESPACE = re.compile(r"/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")


def clean_cameras(names: List[str]) -> List[str]:
    """Camera namespaces, stripped; ``[""]`` for the single camera on the node's own topics (also from ``[]``)."""
    cleaned = [name.strip().rstrip("/") for name in names]
    if all(not name for name in cleaned):
        return [""]
    for name in cleaned:
        if not _NAMESPACE.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a ROS namespace: letters, digits and '_' separated by '/', not starting with a "
                "digit (e.g. cam1 or robot/front_camera)"
            )
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"{cleaned}: each camera namespace may appear once")
    if len(cleaned) > MAX_CAMERAS:
        raise ValueError(f"{len(cleaned)} cameras: at most {MAX_CAMERAS} per node (start another node for more)")
    return cleaned


_DEFAULTS = PipelineConfig()

CORE_PARAMS: Tuple[ParamSpec, ...] = (
    ParamSpec(
        "query",
        "",
        "Phrases to find, separated by '.' or ',' (e.g. 'red cup . person'). Empty = run no inference. "
        "Also set by the 'query' topic and per call of the 'segment' service.",
        clean=clean_query,
    ),
    # Models (loaded on configure)
    ParamSpec(
        "detector_model",
        DEFAULT_DETECTOR,
        "Detector (Grounding DINO, OWLv2, OmDet-Turbo): Hugging Face Hub id, local directory saved with "
        "save_pretrained, or an original .pth checkpoint.",
        CONFIGURE,
        config_field="detector_model",
    ),
    ParamSpec(
        "segmenter_model",
        DEFAULT_SEGMENTER,
        "Segmenter (SAM, SlimSAM, SAM-HQ): Hugging Face Hub id, local directory saved with save_pretrained, or an "
        "original .pth checkpoint.",
        CONFIGURE,
        config_field="segmenter_model",
    ),
    ParamSpec(
        "one_stage_model",
        _DEFAULTS.one_stage_model,
        "A one-stage model (text -> boxes and masks, e.g. facebook/sam3) replacing detector and segmenter; "
        "'' = use detector_model + segmenter_model.",
        CONFIGURE,
        config_field="one_stage_model",
    ),
    ParamSpec(
        "detector_family",
        _DEFAULTS.detector_family,
        "Detector family (grounding_dino, mm_grounding_dino, owlv2, omdet_turbo); '' = read from the checkpoint.",
        CONFIGURE,
        config_field="detector_family",
    ),
    ParamSpec(
        "segmenter_family",
        _DEFAULTS.segmenter_family,
        "Segmenter family (sam, sam_hq, ...); '' = read from the checkpoint.",
        CONFIGURE,
        config_field="segmenter_family",
    ),
    ParamSpec(
        "one_stage_family",
        _DEFAULTS.one_stage_family,
        "One-stage model family (sam3); '' = read from the checkpoint.",
        CONFIGURE,
        config_field="one_stage_family",
    ),
    ParamSpec("device", _DEFAULTS.device, f"Torch device: {DEVICES_HELP}.", CONFIGURE, config_field="device"),
    ParamSpec(
        "dtype",
        _DEFAULTS.dtype,
        "Model precision: auto (float16 on CUDA, bfloat16 on CPUs with AMX/AVX512-BF16, else float32), float32, "
        "bfloat16 or float16.",
        CONFIGURE,
        choices=DTYPES,
        config_field="dtype",
    ),
    ParamSpec(
        "local_files_only",
        _DEFAULTS.local_files_only,
        "Never contact the Hugging Face Hub: load models from local directories or the local cache only.",
        CONFIGURE,
        config_field="local_files_only",
    ),
    ParamSpec(
        "cache_dir",
        _DEFAULTS.cache_dir,
        "Hugging Face cache directory for Hub ids ('' = the default cache).",
        CONFIGURE,
        config_field="cache_dir",
    ),
    ParamSpec(
        "allow_pickle",
        _DEFAULTS.allow_pickle,
        "Also accept pickle checkpoints (pytorch_model.bin, loaded with weights_only=True); safetensors only if false.",
        CONFIGURE,
        config_field="allow_pickle",
    ),
    # Speed (configure; see the README, "Performance")
    ParamSpec(
        "compile",
        _DEFAULTS.compile,
        "torch.compile the detector's and SAM encoder's heavy layers (detector inputs padded to size buckets); the "
        "compiled code is cached in compile_cache_dir, so only the first start with a new model/dtype/device/size "
        "compiles (fill it ahead with `grounded-sam warmup`).",
        CONFIGURE,
        config_field="compile",
    ),
    ParamSpec(
        "compile_cache_dir",
        _DEFAULTS.compile_cache_dir,
        "Where compiled artefacts are cached ('' = ~/.cache/grounded_sam_ros/compile).",
        CONFIGURE,
        config_field="compile_cache_dir",
    ),
    ParamSpec(
        "backend",
        _DEFAULTS.backend,
        "Inference engine: torch, or openvino (CPU: detector and SAM encoder converted once and cached as IR).",
        CONFIGURE,
        choices=BACKENDS,
        config_field="backend",
    ),
    ParamSpec(
        "shape_buckets",
        _DEFAULTS.shape_buckets,
        "compile / openvino: pad the detector input to size buckets (on: fewer graphs for varied sizes) or one graph "
        "per exact input size (off: outputs equal eager's); auto = off in float32, on otherwise.",
        CONFIGURE,
        choices=SHAPE_BUCKETS,
        config_field="shape_buckets",
    ),
    ParamSpec(
        "detector_max_size",
        _DEFAULTS.detector_max_size,
        "Detector input short side in pixels (0 = the model's own, 800 for Grounding DINO); smaller is faster and "
        "finds small objects less well.",
        CONFIGURE,
        low=0,
        high=4096,
        config_field="detector_max_size",
    ),
    ParamSpec(
        "preprocess",
        _DEFAULTS.preprocess,
        "Where images are resized/normalised: auto (on the GPU with CUDA in half precision, else on the host), host "
        "(the official processors, bit-exact with transformers) or device (tensor ops on the model's device).",
        CONFIGURE,
        choices=("auto", "host", "device"),
        config_field="preprocess",
    ),
    # Per-frame settings (live)
    ParamSpec(
        "box_threshold",
        _DEFAULTS.box_threshold,
        "Keep boxes whose best phrase score is at least this.",
        low=0.0,
        high=1.0,
        config_field="box_threshold",
    ),
    ParamSpec(
        "text_threshold",
        _DEFAULTS.text_threshold,
        "A phrase labels a box only if its token score is at least this.",
        low=0.0,
        high=1.0,
        config_field="text_threshold",
    ),
    ParamSpec(
        "nms_iou",
        _DEFAULTS.nms_iou,
        "Suppress a box overlapping a higher-scoring one of any label (class-agnostic) above this IoU (1.0 = off).",
        low=0.0,
        high=1.0,
        config_field="nms_iou",
    ),
    ParamSpec(
        "max_detections",
        _DEFAULTS.max_detections,
        "Keep at most this many detections per frame, highest scores first (0 = unlimited).",
        low=0,
        high=1000,
        config_field="max_detections",
    ),
    ParamSpec(
        "multimask",
        _DEFAULTS.multimask,
        "Let SAM propose three masks per box and keep the one with the best predicted IoU.",
        config_field="multimask",
    ),
    # Node I/O
    ParamSpec(
        "compressed_input",
        False,
        "Subscribe to 'image/compressed' (sensor_msgs/CompressedImage) as well as 'image'.",
        CONFIGURE,
    ),
    ParamSpec(
        "image_reliability",
        "best_effort",
        "QoS reliability of the image subscriptions: best_effort (sensor data) or reliable.",
        CONFIGURE,
        choices=RELIABILITIES,
    ),
    ParamSpec(
        "cameras",
        [""],
        "Namespaces of the cameras this node serves with one copy of the models, e.g. [cam1, cam2]: each has its own "
        "<ns>/image (and <ns>/image/compressed, <ns>/depth/...) and its own outputs (<ns>/detections...). "
        "[''] = one camera on the node's own topics (image, detections, ...).",
        CONFIGURE,
        clean=clean_cameras,
    ),
    ParamSpec(
        "max_rate",
        0.0,
        "Process at most this many frames per second, always the newest one (0 = as fast as possible).",
        low=0.0,
        high=1000.0,
    ),
    ParamSpec(
        "autostart",
        True,
        "Configure and activate at start-up, so the node works without a lifecycle manager.",
        STARTUP,
    ),
    ParamSpec(
        "debug_delay",
        0.0,
        "Testing only: sleep this many seconds before each inference to simulate a slow model.",
        low=0.0,
        high=10.0,
    ),
)


def node_table(capabilities: Iterable[Type[Capability]] = CAPABILITIES) -> ParamTable:
    """The parameter table of a node made of ``capabilities``: the core parameters, then each capability's."""
    capabilities = tuple(capabilities)
    return ParamTable(CORE_PARAMS + capability_params(capabilities), checks=[cap.check for cap in capabilities])


TABLE = node_table()
PARAMS: Tuple[ParamSpec, ...] = TABLE.specs
SPECS: Dict[str, ParamSpec] = TABLE.by_name
# Pipeline fields that GroundedSamPipeline.update() applies per frame without reloading models
LIVE_CONFIG_FIELDS = TABLE.live_config_fields
# Node-only parameters that apply from the next frame (Settings fields)
LIVE_NODE_FIELDS = TABLE.live_node_fields


def defaults() -> Dict[str, Any]:
    """Every parameter's default value by name."""
    return TABLE.defaults()


def validate_value(name: str, value: Any) -> Any:
    """Check one parameter value; return it cleaned (queries normalised, ints as float), or raise ``ValueError``."""
    return TABLE.validate_value(name, value)


def check_changes(current: Mapping[str, Any], changes: Mapping[str, Any], configured: bool) -> Dict[str, Any]:
    """Validate a set of parameter changes as one (see :meth:`ParamTable.check_changes`)."""
    return TABLE.check_changes(current, changes, configured)


def config_from_params(values: Mapping[str, Any]) -> PipelineConfig:
    """The PipelineConfig described by parameter values (missing ones take their defaults); validated."""
    return TABLE.config_from(values)


def settings_from_params(values: Mapping[str, Any]) -> Settings:
    """The settings described by parameter values, each validated (``ValueError`` names the bad one)."""
    return TABLE.settings_from(values)


def live_settings(changes: Mapping[str, Any]) -> Dict[str, Any]:
    """The cleaned parameter changes that are live node settings, as ``Settings.replace`` keywords."""
    return TABLE.live_settings(changes)


def live_updates(changes: Mapping[str, Any]) -> Dict[str, Any]:
    """The subset of cleaned parameter changes that the pipeline applies per frame, as ``update()`` keywords."""
    return TABLE.live_updates(changes)


def declare(node) -> Dict[str, Any]:
    """Declare every parameter on ``node`` (an rclpy Node); return the values it starts with (overrides applied)."""
    return TABLE.declare(node)
