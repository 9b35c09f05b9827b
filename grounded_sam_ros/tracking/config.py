# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracker settings: one dataclass, filled from ROS parameters, YAML or CLI flags like :class:`PipelineConfig`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

MODES = ("iou", "sam2")
VIDEO_FAMILIES = ("sam2", "edgetam")
DEFAULT_VIDEO_MODEL = "facebook/sam2.1-hiera-tiny"


@dataclass
class TrackerConfig:
    """How detections become tracks.

    ``iou``: every frame is detected; detections join live tracks by mask IoU (box IoU without masks), same label
    only, by an optimal assignment. A track is reported from its ``min_hits``-th consecutive detection and ends
    after ``max_age`` frames without one.

    ``sam2``: the detector and segmenter run on key frames only (every ``detect_every`` frames, the first frame,
    after a query change, and whenever no track is alive); in between, a SAM 2 / EdgeTAM video model carries every
    live track's mask from its memory. On a key frame, detections join propagated tracks by mask IoU (>=
    ``match_iou``) and refresh their memory; the rest start new tracks (at most ``max_tracks`` live at once; the
    lowest-scoring extra detections are dropped). A track the detector misses lives on for ``max_age`` key frames,
    unless the video model's object score (a logit) falls below ``exit_score``, which ends it at once.

    ``memory_frames`` < the model's own (SAM 2.1: 6 recent frames + the key frames) is a speed knob: each propagated
    frame attends to ``(memory_frames + cond_frames) x 4096`` memory tokens per track, the bulk of its cost on a CPU;
    fewer recent memories are cheaper and less robust to occlusion.
    """

    mode: str = "iou"
    match_iou: float = 0.3
    max_age: int = 5  # iou: frames without a detection; sam2: key frames without a detection
    min_hits: int = 1  # iou only: consecutive detections before a track is reported
    detect_every: int = 10  # sam2 only: frames between key frames
    max_tracks: int = 16  # sam2 only: live tracks carried by the video model
    video_model: str = DEFAULT_VIDEO_MODEL
    video_family: str = "sam2"
    cond_frames: int = 2  # sam2 only: key-frame (conditioning) memories kept per track
    memory_frames: int = 0  # sam2 only: recent-frame memories attended to; 0 = the model's own (6 for SAM 2.1)
    exit_score: float = 0.0  # sam2 only: object-score logit below which a track is judged gone

    def validate(self) -> "TrackerConfig":
        """Check every field; raise ``ValueError`` naming the field, the value and what is accepted."""
        if self.mode not in MODES:
            raise ValueError(f"tracking mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.video_family not in VIDEO_FAMILIES:
            raise ValueError(f"video_family={self.video_family!r}: expected one of {', '.join(VIDEO_FAMILIES)}")
        if not (0.0 < float(self.match_iou) <= 1.0):
            raise ValueError(f"match_iou={self.match_iou!r}: expected a number in (0, 1]")
        minimums = (
            ("max_age", 0),
            ("min_hits", 1),
            ("detect_every", 1),
            ("max_tracks", 1),
            ("cond_frames", 1),
            ("memory_frames", 0),
        )
        for name, low in minimums:
            value = getattr(self, name)
            if int(value) != value or value < low:
                raise ValueError(f"{name}={value!r}: expected an integer >= {low}")
        if self.mode == "sam2" and not str(self.video_model).strip():
            raise ValueError("video_model is empty: give a SAM 2 / EdgeTAM Hub id or a local model directory")
        return self

    def replace(self, **changes: Any) -> "TrackerConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown TrackerConfig field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes).validate()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "TrackerConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}).validate()
