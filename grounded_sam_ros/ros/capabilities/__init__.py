# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's capabilities, registered in ONE list: a new output, service or per-frame step is one module + one line.

The contract (hooks, parameters, threads, cameras) is in :mod:`grounded_sam_ros.ros.capabilities.base`. The order
of ``CAPABILITIES`` is the order of the hooks: capabilities that fill in the result (depth) come before the ones that
publish it. Capability modules never import :mod:`grounded_sam_ros.ros.params` (it imports this list).
"""

from __future__ import annotations

from typing import Iterable, Tuple, Type

from grounded_sam_ros.ros.capabilities.annotated import AnnotatedImage
from grounded_sam_ros.ros.capabilities.auto_query import AutoQuery
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.capabilities.depth import Depth3D
from grounded_sam_ros.ros.capabilities.detections import Detections
from grounded_sam_ros.ros.capabilities.edit import EditService
from grounded_sam_ros.ros.capabilities.mesh import HumanMeshes
from grounded_sam_ros.ros.capabilities.segment import SegmentService
from grounded_sam_ros.ros.capabilities.tracking import Tracking
from grounded_sam_ros.ros.capabilities.vision import VisionMsgs
from grounded_sam_ros.ros.param_table import ParamSpec

CAPABILITIES: Tuple[Type[Capability], ...] = (
    AutoQuery,  # before inference: the tagger's query in query_source auto
    Tracking,  # its infer replaces the pipeline call of streamed frames: ids before anything else sees the result
    Depth3D,  # before the outputs: fills the 3D fields that the outputs after it publish
    Detections,
    AnnotatedImage,
    VisionMsgs,
    HumanMeshes,  # after the detections: their latency does not wait for the meshes
    SegmentService,
    EditService,
)


def capability_params(capabilities: Iterable[Type[Capability]]) -> Tuple[ParamSpec, ...]:
    """Every parameter the given capabilities declare, in registration order."""
    return tuple(spec for cap in capabilities for spec in cap.PARAMS)


__all__ = ["CAPABILITIES", "Camera", "Capability", "FrameContext", "NodeApi", "capability_params"]
