# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking (``tracking`` = ``iou`` | ``sam2``): detection ids become track ids that stay with their objects.

The capability replaces the inference of streamed frames with a :class:`~grounded_sam_ros.tracking.StreamTracker`
built on the node's pipeline (one per camera). Every output after it (``detections``, the annotated image, the 3D
markers) then carries track ids; the annotated image and the markers colour instances per id. Frames a service
brings (``segment``) go to the plain pipeline: they are not part of the stream and must not move its tracks.

The node keeps its newest-frame policy: frames that arrive while one is processed are dropped, and the tracker sees
only the frames the node processes. That is the skipped-frame case the tracker documents: ``detect_every`` and
``max_age`` count processed frames, and motion between two processed frames is larger (propagated frames are cheap,
so fewer are dropped with ``sam2``). A frame that fails (bad encoding) changes no track.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros.capabilities.base import Capability, FrameContext, InferFn
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.tracking.config import DEFAULT_VIDEO_MODEL, TrackerConfig

_DEFAULTS = TrackerConfig()

PARAMS = (
    ParamSpec(
        "tracking",
        "off",
        "Stable ids across frames: 'off' (ids per frame, by score), 'iou' (detect every frame, match by mask IoU), "
        "'sam2' (detect every detect_every frames, a SAM 2 video model carries the masks in between).",
        CONFIGURE,
        choices=("off", "iou", "sam2"),
    ),
    ParamSpec(
        "detect_every",
        _DEFAULTS.detect_every,
        "tracking=sam2: run the detector on every n-th processed frame (and whenever no track is alive).",
        CONFIGURE,
        low=1,
        high=10_000,
    ),
    ParamSpec(
        "match_iou",
        _DEFAULTS.match_iou,
        "A detection continues a track (same label) when their masks overlap by at least this IoU.",
        CONFIGURE,
        low=0.01,
        high=1.0,
    ),
    ParamSpec(
        "max_age",
        _DEFAULTS.max_age,
        "A track the detector misses ends after this many frames (iou) or key frames (sam2).",
        CONFIGURE,
        low=0,
        high=100_000,
    ),
    ParamSpec(
        "max_tracks",
        _DEFAULTS.max_tracks,
        "tracking=sam2: at most this many tracks live in the video model; extra detections (lowest score) are dropped.",
        CONFIGURE,
        low=1,
        high=256,
    ),
    ParamSpec(
        "tracking_video_model",
        DEFAULT_VIDEO_MODEL,
        "tracking=sam2: SAM 2 / SAM 2.1 video model, Hub id or local directory.",
        CONFIGURE,
    ),
)


class Tracking(Capability):
    """One camera's tracker; off unless ``tracking`` says otherwise."""

    PARAMS = PARAMS

    def configure(self) -> None:
        settings = self.node.settings
        self._tracker = None
        if settings.tracking == "off":
            return
        from grounded_sam_ros.ros.model_store import models_of
        from grounded_sam_ros.tracking import build_tracker

        config = TrackerConfig(
            mode=settings.tracking,
            detect_every=settings.detect_every,
            match_iou=settings.match_iou,
            max_age=settings.max_age,
            max_tracks=settings.max_tracks,
            video_model=settings.tracking_video_model,
        )
        # configure runs while the worker is stopped: the pipeline is free to use here. One video model for every
        # camera of the node (the node's model store); each camera's tracker keeps its own memory
        self._tracker = build_tracker(self.node.pipeline, config, models_of(self.node))

    def cleanup(self) -> None:
        self._tracker = None
        super().cleanup()

    def infer(self, frame: FrameContext, image: np.ndarray, query: str, call_next: InferFn) -> Optional[FrameResult]:
        if self._tracker is None or not frame.publish:
            return call_next(image, query)
        return self._tracker(image, query, frame.stamp_ns / 1e9)

    def diagnostics(self) -> Dict[str, str]:
        tracker = getattr(self, "_tracker", None)
        if tracker is None:
            return {}
        stats = tracker.stats
        return {
            "tracking_live_tracks": str(stats.live_tracks),
            "tracking_ids_issued": str(stats.ids_issued),
            "tracking_key_frame_rate": f"{stats.key_frame_rate():.3f}",
            "tracking_frames": ", ".join(f"{k} {n}" for k, n in sorted(stats.counts.items())),
            "tracking_frame_cost_s": ", ".join(f"{k} {stats.mean_seconds(k):.3f}" for k in sorted(stats.counts)),
            "tracking_dropped_detections": str(stats.dropped_detections),
        }
