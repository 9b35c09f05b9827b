# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's ROS parameters: declared once from one table, validated in one place, turned into a PipelineConfig.

Everything here except :func:`declare` and :func:`descriptor` is pure Python (no ``rclpy``), so the rules are
unit-tested without ``rclpy.init``. Each parameter says when a change takes effect:

- ``live``: from the next frame, without reloading models (query, thresholds, rate);
- ``configure``: only while the node is unconfigured — models load on the lifecycle ``configure`` transition, so a
  change needs ``cleanup`` → set → ``configure`` → ``activate``;
- ``startup``: read once when the node starts (read-only afterwards).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from grounded_sam_ros.config import (
    BACKENDS,
    DEFAULT_DETECTOR,
    DEFAULT_SEGMENTER,
    DEVICES_HELP,
    DTYPES,
    PipelineConfig,
)
from grounded_sam_ros.prompts import normalize_query

LIVE = "live"
CONFIGURE = "configure"
STARTUP = "startup"

RELIABILITIES = ("best_effort", "reliable")


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: its default (which also fixes its type), meaning, limits and when it applies."""

    name: str
    default: Any
    description: str
    applies: str = LIVE
    low: Optional[float] = None  # inclusive range, ints for int parameters
    high: Optional[float] = None
    choices: Tuple[str, ...] = ()
    config_field: Optional[str] = None  # PipelineConfig field this parameter fills; None for node-only ones

    @property
    def type(self) -> type:
        return type(self.default)


_DEFAULTS = PipelineConfig()

PARAMS: Tuple[ParamSpec, ...] = (
    ParamSpec(
        "query",
        "",
        "Phrases to find, separated by '.' or ',' (e.g. 'red cup . person'). Empty = run no inference. "
        "Also set by the 'query' topic and per call of the 'segment' service.",
    ),
    # Models (loaded on configure)
    ParamSpec(
        "detector_model",
        DEFAULT_DETECTOR,
        "Grounding DINO: Hugging Face Hub id or local directory saved with save_pretrained.",
        CONFIGURE,
        config_field="detector_model",
    ),
    ParamSpec(
        "segmenter_model",
        DEFAULT_SEGMENTER,
        "SAM: Hugging Face Hub id or local directory saved with save_pretrained.",
        CONFIGURE,
        config_field="segmenter_model",
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
        "detector_max_size",
        _DEFAULTS.detector_max_size,
        "Detector input short side in pixels (0 = the model's own, 800 for Grounding DINO); smaller is faster and "
        "finds small objects less well.",
        CONFIGURE,
        low=0,
        high=4096,
        config_field="detector_max_size",
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
    # Depth: 3D instances (see the README's "3D instances from depth")
    ParamSpec(
        "use_depth",
        False,
        "Subscribe to 'depth/image' (16UC1 mm or 32FC1 m, registered to the colour image) and 'depth/camera_info', "
        "and fill each detection's 3D fields and 'detections_markers'.",
        CONFIGURE,
    ),
    ParamSpec(
        "depth_slop",
        0.05,
        "A depth image is fused with a colour frame only if their header stamps differ by at most this many seconds.",
        low=0.0,
        high=5.0,
    ),
    ParamSpec(
        "depth_scale",
        0.0,
        "Metres per raw depth unit (e.g. 0.00025 for quarter-millimetre 16UC1); 0 = from the encoding "
        "(16UC1: 0.001, 32FC1: 1).",
        low=0.0,
        high=100.0,
    ),
    ParamSpec(
        "depth_min_points",
        30,
        "An instance needs at least this many valid depth pixels under its mask to get a 3D position (has_3d).",
        low=1,
        high=1_000_000,
    ),
    ParamSpec(
        "publish_cloud",
        False,
        "Also publish 'instances_cloud' (sensor_msgs/PointCloud2: x, y, z, instance) while someone subscribes.",
        CONFIGURE,
    ),
    ParamSpec(
        "cloud_stride",
        1,
        "Keep every n-th point of each instance in 'instances_cloud' (1 = all).",
        low=1,
        high=1000,
    ),
    ParamSpec(
        "debug_delay",
        0.0,
        "Testing only: sleep this many seconds before each inference to simulate a slow model.",
        low=0.0,
        high=10.0,
    ),
)

SPECS: Dict[str, ParamSpec] = {spec.name: spec for spec in PARAMS}

# Pipeline fields that GroundedSamPipeline.update() applies per frame without reloading models
LIVE_CONFIG_FIELDS = tuple(s.config_field for s in PARAMS if s.applies == LIVE and s.config_field)
# Node-only parameters that apply from the next frame (NodeSettings fields)
LIVE_NODE_FIELDS = tuple(s.name for s in PARAMS if s.applies == LIVE and not s.config_field)


@dataclass(frozen=True)
class NodeSettings:
    """The node-only parameters (everything that does not reach the pipeline)."""

    query: str = ""  # normalised; "" = no query
    compressed_input: bool = False
    image_reliability: str = "best_effort"
    max_rate: float = 0.0
    autostart: bool = True
    debug_delay: float = 0.0
    use_depth: bool = False
    depth_slop: float = 0.05  # seconds
    depth_scale: float = 0.0  # metres per raw unit; 0 = from the encoding
    depth_min_points: int = 30
    publish_cloud: bool = False
    cloud_stride: int = 1


def defaults() -> Dict[str, Any]:
    """Every parameter's default value by name."""
    return {spec.name: spec.default for spec in PARAMS}


def clean_query(raw: str) -> str:
    """A query as the node stores it: normalised (``"Red cup, person"`` -> ``"red cup . person"``).

    Blank means "no query" and gives ``""``. Raises ``ValueError`` (with the reason) for a query that is not blank but
    holds no phrase, is too long, holds undecodable bytes (U+FFFD), or is not a string.
    """
    if not isinstance(raw, str):
        raise ValueError(f"query must be a string, got {type(raw).__name__}")
    if not raw.strip():
        return ""
    if "\ufffd" in raw:
        # ROS decodes bytes that are not UTF-8 as U+FFFD: the sender's text is lost, so refuse it
        raise ValueError("query holds bytes that are not valid UTF-8 (decoded as U+FFFD); send UTF-8 text")
    return normalize_query(raw)


def validate_value(name: str, value: Any) -> Any:
    """Check one parameter value; return it cleaned (queries normalised, ints as int), or raise ``ValueError``."""
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown parameter {name!r}; known: {', '.join(SPECS)}")
    # Types: bool is an int in Python, so check it first; an int is accepted for a float parameter
    if spec.type is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r}: expected true or false")
    elif spec.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}={value!r}: expected an integer")
    elif spec.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name}={value!r}: expected a finite number")
        value = float(value)
    elif spec.type is str and not isinstance(value, str):
        raise ValueError(f"{name}={value!r}: expected a string")
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise ValueError(f"{name}={value!r}: expected a value in [{spec.low}, {spec.high}]")
    if spec.choices and value not in spec.choices:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(spec.choices)}")
    if name == "query":
        try:
            return clean_query(value)
        except ValueError as exc:
            raise ValueError(f"query rejected: {exc}") from None
    return value


def check_changes(current: Mapping[str, Any], changes: Mapping[str, Any], configured: bool) -> Dict[str, Any]:
    """Validate a set of parameter changes as one; return the cleaned new values or raise ``ValueError``.

    ``current`` holds every parameter's present value; ``configured`` is true while models are loaded (lifecycle
    states inactive and active), when ``configure`` parameters cannot change.
    """
    cleaned = {name: validate_value(name, value) for name, value in changes.items()}
    for name, value in cleaned.items():
        spec = SPECS[name]
        if value == current.get(name):
            continue
        if spec.applies == STARTUP:
            raise ValueError(f"{name} is read once at start-up; restart the node to change it")
        if spec.applies == CONFIGURE and configured:
            raise ValueError(
                f"{name} applies when the models load: deactivate and clean up the node first "
                f"(ros2 lifecycle set <node> deactivate; ros2 lifecycle set <node> cleanup), set {name}, "
                "then configure and activate again"
            )
    # Cross-field checks (PipelineConfig.validate) on the combined result
    merged = {**current, **cleaned}
    config_from_params(merged)
    return cleaned


def config_from_params(values: Mapping[str, Any]) -> PipelineConfig:
    """The PipelineConfig described by parameter values (missing ones take their defaults); validated."""
    merged = {**defaults(), **values}
    fields = {spec.config_field: merged[spec.name] for spec in PARAMS if spec.config_field}
    unknown = set(fields) - {f.name for f in dataclasses.fields(PipelineConfig)}
    if unknown:
        raise ValueError(f"parameter table names unknown PipelineConfig field(s): {', '.join(sorted(unknown))}")
    for name in ("detector_model", "segmenter_model"):
        if isinstance(fields.get(name), str):
            fields[name] = fields[name].strip()
    return PipelineConfig(**fields).validate()


def settings_from_params(values: Mapping[str, Any]) -> NodeSettings:
    """The node-only settings described by parameter values, each validated (``ValueError`` names the bad one)."""
    merged = {**defaults(), **values}
    names = [f.name for f in dataclasses.fields(NodeSettings)]
    return NodeSettings(**{name: validate_value(name, merged[name]) for name in names})


def live_settings(changes: Mapping[str, Any]) -> Dict[str, Any]:
    """The cleaned parameter changes that are live NodeSettings fields, as ``dataclasses.replace`` keywords."""
    return {name: value for name, value in changes.items() if name in LIVE_NODE_FIELDS}


def live_updates(changes: Mapping[str, Any]) -> Dict[str, Any]:
    """The subset of cleaned parameter changes that the pipeline applies per frame, as ``update()`` keywords."""
    return {SPECS[n].config_field: v for n, v in changes.items() if SPECS[n].config_field in LIVE_CONFIG_FIELDS}


# ROS side: descriptors and declaration (imports rcl_interfaces lazily; no rclpy.init needed for descriptor())


def descriptor(spec: ParamSpec):
    """The ``rcl_interfaces/ParameterDescriptor`` of a parameter: type, description, range, read-only flag."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {
        bool: ParameterType.PARAMETER_BOOL,
        int: ParameterType.PARAMETER_INTEGER,
        float: ParameterType.PARAMETER_DOUBLE,
        str: ParameterType.PARAMETER_STRING,
    }
    desc = ParameterDescriptor(
        name=spec.name,
        type=types[spec.type],
        description=spec.description,
        read_only=spec.applies == STARTUP,
    )
    notes = []
    if spec.choices:
        notes.append(f"one of: {', '.join(spec.choices)}")
    if spec.applies == CONFIGURE:
        notes.append("changes only while unconfigured (lifecycle cleanup, set, configure, activate)")
    desc.additional_constraints = "; ".join(notes)
    if spec.low is not None and spec.type is float:
        low, high = float(spec.low), float(spec.high)
        desc.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    elif spec.low is not None and spec.type is int:
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return desc


def declare(node) -> Dict[str, Any]:
    """Declare every parameter on ``node`` (an rclpy Node); return the values it starts with (overrides applied)."""
    for spec in PARAMS:
        node.declare_parameter(spec.name, spec.default, descriptor(spec))
    return {spec.name: node.get_parameter(spec.name).value for spec in PARAMS}
