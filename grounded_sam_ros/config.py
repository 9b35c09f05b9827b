# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One typed configuration object for the whole pipeline.

Every setting that reaches the pipeline — from ROS parameters, a YAML file or CLI flags — travels in a
:class:`PipelineConfig`. The node and the CLI only fill it in; :func:`grounded_sam_ros.pipeline.build_pipeline`
reads it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
DEFAULT_SEGMENTER = "facebook/sam-vit-base"

DEVICES_HELP = "auto, cpu, cuda or cuda:N"
DTYPES = ("auto", "float32", "bfloat16", "float16")
BACKENDS = ("torch", "openvino")
SHAPE_BUCKETS = ("auto", "on", "off")


@dataclass
class PipelineConfig:
    """Settings of a Grounded-SAM pipeline.

    Model fields take a Hugging Face Hub id (``IDEA-Research/grounding-dino-tiny``) or a local directory holding a
    model saved with ``save_pretrained`` (segmenters also an original ``.pth`` file). A pipeline is a detector plus
    a segmenter, or one one-stage model (``one_stage_model``, e.g. SAM 3), which then replaces both. Families
    (``grounding_dino``, ``owlv2``, ``sam_hq``, ...) are read from each checkpoint's ``config.json`` when empty; a
    non-empty family overrides that. Thresholds and limits apply per frame and can change between frames without
    reloading models (see :meth:`GroundedSamPipeline.update_thresholds`).
    """

    # Models
    detector_model: str = DEFAULT_DETECTOR
    segmenter_model: str = DEFAULT_SEGMENTER
    detector_family: str = ""  # "" = read from the checkpoint
    segmenter_family: str = ""
    one_stage_model: str = ""  # a one-stage model (text -> boxes and masks); replaces detector and segmenter
    one_stage_family: str = ""
    device: str = "auto"
    dtype: str = "auto"
    local_files_only: bool = False
    allow_pickle: bool = False
    cache_dir: str = ""

    # Speed (see README "Performance")
    compile: bool = False  # torch.compile the heavy regions; artefacts cached in compile_cache_dir
    compile_cache_dir: str = ""  # default ~/.cache/grounded_sam_ros/compile
    backend: str = "torch"  # torch or openvino (CPU: models converted once, cached as OpenVINO IR)
    detector_max_size: int = 0  # detector's short-side resize in px; 0 = the model's own (800 for Grounding DINO)
    preprocess: str = "auto"  # auto (on the device with CUDA + half precision), host or device: resize/normalise
    # compile / openvino: pad the detector input to size buckets (on), or one graph per exact size (off: outputs
    # equal eager's); auto = off in float32 (the exact path stays exact), on otherwise
    shape_buckets: str = "auto"

    # Detection
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    nms_iou: float = 1.0
    max_detections: int = 0

    # Segmentation
    multimask: bool = False
    segment: bool = True

    # Input limits
    max_image_pixels: int = 40_000_000
    query_overflow: str = "truncate"

    def validate(self) -> "PipelineConfig":
        """Check every field; raise ``ValueError`` naming the field, the value and what is accepted."""
        _check_range("box_threshold", self.box_threshold, 0.0, 1.0)
        _check_range("text_threshold", self.text_threshold, 0.0, 1.0)
        _check_range("nms_iou", self.nms_iou, 0.0, 1.0)
        if int(self.max_detections) != self.max_detections or self.max_detections < 0:
            raise ValueError(f"max_detections={self.max_detections!r}: expected an integer >= 0 (0 = unlimited)")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r}: expected one of {', '.join(DTYPES)}")
        if not _valid_device(self.device):
            raise ValueError(f"device={self.device!r}: expected {DEVICES_HELP}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r}: expected one of {', '.join(BACKENDS)}")
        if self.compile and self.backend != "torch":
            raise ValueError(f"compile=true needs backend='torch' (got {self.backend!r}); OpenVINO compiles itself")
        if self.shape_buckets not in SHAPE_BUCKETS:
            raise ValueError(f"shape_buckets={self.shape_buckets!r}: expected one of {', '.join(SHAPE_BUCKETS)}")
        if int(self.detector_max_size) != self.detector_max_size or not 0 <= self.detector_max_size <= 4096:
            raise ValueError(
                f"detector_max_size={self.detector_max_size!r}: expected pixels in [1, 4096], or 0 for the default"
            )
        if self.preprocess not in ("auto", "host", "device"):
            raise ValueError(f"preprocess={self.preprocess!r}: expected auto, host or device")
        if self.query_overflow not in ("truncate", "error"):
            raise ValueError(f"query_overflow={self.query_overflow!r}: expected 'truncate' or 'error'")
        if self.max_image_pixels < 1:
            raise ValueError(f"max_image_pixels={self.max_image_pixels!r}: expected a positive pixel count")
        for name in ("detector_family", "segmenter_family", "one_stage_family"):
            family = getattr(self, name)
            if family:
                from grounded_sam_ros.models import kind_of

                kind_of(family)  # a ValueError listing the registered families when unknown
        if self.one_stage_model:
            return self
        for name in ("detector_model", "segmenter_model"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"{name} is empty: give a Hugging Face Hub id or a local model directory")
        return self

    def replace(self, **changes: Any) -> "PipelineConfig":
        """A validated copy with ``changes`` applied; unknown names raise ``ValueError``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown PipelineConfig field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes).validate()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "PipelineConfig":
        """Build from a mapping (YAML, ROS parameters); keys that are not config fields are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}).validate()

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or not (low <= float(value) <= high):
        raise ValueError(f"{name}={value!r}: expected a number in [{low}, {high}]")


def _valid_device(device: str) -> bool:
    if device in ("auto", "cpu", "cuda", "mps"):
        return True
    if device.startswith("cuda:"):
        return device[5:].isdigit()
    return False
