# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's camera inputs and what its diagnostics say about them.

- :class:`CameraInput`: one camera's newest frame (:class:`FrameSlot`), counters, image subscriptions and the
  capability instances that serve it.
- :func:`pipeline_status`: the node's ``/diagnostics`` status from its state and inputs (core values, then every
  capability's key/values).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Sequence, Type

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CompressedImage, Image

from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities import Camera, Capability, FrameContext
from grounded_sam_ros.ros.qos import image_qos
from grounded_sam_ros.ros.runtime import Frame, FrameSlot, NodeStats, SequenceGaps


@dataclass
class CameraInput:
    """One camera: its frames, counters, subscriptions and capability instances (made at configure)."""

    camera: Camera
    slot: FrameSlot = field(default_factory=FrameSlot)
    gaps: SequenceGaps = field(default_factory=SequenceGaps)
    stats: NodeStats = field(default_factory=NodeStats)
    subs: List[Any] = field(default_factory=list)
    capabilities: List[Capability] = field(default_factory=list)

    def open(self, node: Any, capability_types: Sequence[Type[Capability]], on_frame: Callable, group: Any) -> None:
        """Subscribe to the camera's images (``on_frame(input, compressed, msg, info)``), then make and configure
        its capability instances. On an exception the caller cleans up with :meth:`close`."""
        settings = node.settings
        qos = image_qos(settings.image_reliability)
        topics = [("image", Image, False)]
        if settings.compressed_input:
            topics.append(("image/compressed", CompressedImage, True))
        for name, msg_type, compressed in topics:
            callback = functools.partial(on_frame, self, compressed)
            self.subs.append(
                node.create_subscription(msg_type, self.camera.topic(name), callback, qos, callback_group=group)
            )
        self.capabilities = [cls(node, self.camera) for cls in capability_types]
        for capability in self.capabilities:
            capability.configure()

    def close(self, node: Any) -> None:
        """Drop the subscriptions, clean up the capabilities, forget pending frames (counters stay)."""
        for sub in self.subs:
            node.destroy_subscription(sub)
        self.subs = []
        for capability in self.capabilities:
            try:
                capability.cleanup()
            except Exception as exc:  # noqa: BLE001 - clean up the others regardless
                node.get_logger().error(f"{type(capability).__name__} cleanup failed: {exc}")
        self.capabilities = []
        self.slot.clear()


def frame_context(camera: Camera, frame: Frame, publish: bool) -> FrameContext:
    """The hooks' view of a received frame; its image is converted on first use."""
    convert = conversions.compressed_msg_to_rgb if frame.compressed else conversions.image_msg_to_rgb
    return FrameContext(camera, frame.msg.header, frame.received, publish=publish, msg=frame.msg,
                        convert=functools.partial(convert, frame.msg))  # fmt: skip


def pipeline_status(
    name: str, hardware_id: str, state: str, query: str, inputs: Sequence[CameraInput], extra: Mapping[str, str]
) -> DiagnosticStatus:
    """The node's status: level and message (first problem found), then the core values, ``extra`` (model names,
    rate) and every capability's diagnostics."""
    inp = inputs[0]
    snap = inp.stats.snapshot()
    status = DiagnosticStatus(name=name, hardware_id=hardware_id)
    recent_error = snap["last_error_age_s"] is not None and snap["last_error_age_s"] < 10.0
    warnings = [w for w in (c.warning() for c in inp.capabilities) if w]
    if state != "active":
        status.level, status.message = DiagnosticStatus.WARN, f"{state}: not processing frames"
    elif not query:
        status.level, status.message = DiagnosticStatus.WARN, "no query: not processing frames"
    elif recent_error and snap["errors"]:
        status.level, status.message = DiagnosticStatus.ERROR, snap["last_error"][:200]
    elif warnings:
        status.level, status.message = DiagnosticStatus.WARN, warnings[0]
    else:
        status.level = DiagnosticStatus.OK
        status.message = f"{snap['fps']:.1f} fps, latency {snap['latency_ms_mean']:.0f} ms"
    values: Dict[str, str] = {
        "state": state,
        "query": query,
        "fps": f"{snap['fps']:.2f}",
        "latency_ms": f"{snap['latency_ms_mean']:.1f}",
        "latency_ms_max": f"{snap['latency_ms_max']:.1f}",
        "inference_ms": f"{snap['inference_ms_mean']:.1f}",
        "frames_received": str(inp.slot.received),
        "frames_processed": str(snap["processed"]),
        "frames_dropped": str(inp.slot.dropped + inp.gaps.lost),
        "frames_dropped_in_transport": str(inp.gaps.lost),
        "frames_skipped_no_query": str(snap["skipped_no_query"]),
        "invalid_inputs": str(snap["invalid_inputs"]),
        "inference_errors": str(snap["errors"]),
        "last_error": snap["last_error"][:500],
        **extra,
    }
    for capability in inp.capabilities:
        values.update(capability.diagnostics())
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    return status
