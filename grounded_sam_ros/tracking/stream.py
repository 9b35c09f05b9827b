# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``StreamTracker``: the pipeline for a stream of frames, with ids that stay with their objects.

The id contract: within one ``StreamTracker`` an id names one object for as long as its track lives and is never
given to another object, not even after a query change or a reset (ids count up from 0). A query change, or a stamp
older than the previous frame's (a replayed bag, a restarted camera), ends every track.

Skipped frames: the tracker only knows the frames it is given. When a caller drops frames (the node's newest-frame
policy), the next frame simply shows the objects further along; IoU matching and the video model's memory both cope
with moderate motion, and ``detect_every`` / ``max_age`` count frames *processed*, not camera frames.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np

from grounded_sam_ros.pipeline import resolve_dtype, validate_image
from grounded_sam_ros.prompts import parse_query
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.tracking.config import TrackerConfig
from grounded_sam_ros.tracking.iou_tracker import IouTracker


@dataclass
class TrackerStats:
    """Running counts for diagnostics: frames by kind (``key`` / ``propagated`` / ``detected``) and their cost."""

    frames: int = 0
    key_frames: int = 0
    live_tracks: int = 0
    ids_issued: int = 0
    dropped_detections: int = 0
    last_kind: str = ""
    seconds: Dict[str, float] = field(default_factory=dict)  # kind -> total seconds
    counts: Dict[str, int] = field(default_factory=dict)  # kind -> frames

    def mean_seconds(self, kind: str) -> float:
        return self.seconds.get(kind, 0.0) / max(1, self.counts.get(kind, 0))

    def key_frame_rate(self) -> float:
        return self.key_frames / max(1, self.frames)


class StreamTracker:
    """Call once per frame, in order: ``tracker(image, query, stamp) -> FrameResult`` with track ids.

    Given a built pipeline (and, for ``sam2``, a :class:`~grounded_sam_ros.tracking.video.VideoPropagator`; see
    :func:`build_tracker`). Not thread-safe: one worker thread, like the pipeline.
    """

    def __init__(self, pipeline: Any, config: TrackerConfig, propagator: Any = None) -> None:
        self.pipeline = pipeline
        self.config = config.validate()
        self.stats = TrackerStats()
        self._ids = itertools.count()
        self._phrases: Optional[Tuple[str, ...]] = None
        self._stamp: Optional[float] = None
        self._query = ""
        if self.config.mode == "sam2":
            if propagator is None:
                raise ValueError("tracking mode 'sam2' needs a video model: build the tracker with build_tracker()")
            if pipeline.segmenter is None or not pipeline.config.segment:
                raise ValueError("tracking mode 'sam2' follows masks: the pipeline must segment (segment=True)")
            from grounded_sam_ros.tracking.sam2_tracker import Sam2Tracker

            self._tracks: Any = Sam2Tracker(propagator, self.config, self._detect, self._new_id)
            self._tracks.segmenter = pipeline.segmenter
        else:
            self._tracks = self._new_iou()

    def reset(self) -> None:
        """End every track (ids keep counting: an id is never reused)."""
        if self.config.mode == "sam2":
            self._tracks.reset()
        else:
            self._tracks = self._new_iou()
        self.stats.live_tracks = 0

    def __call__(self, image: np.ndarray, query: str, stamp: Optional[float] = None) -> FrameResult:
        """image: HxWx3 uint8 RGB; query: phrases separated by '.' or ','; stamp: seconds (any monotonic clock).

        Returns the frame's detections with ``id`` = track id, ``propagated`` and ``age`` set; sorted by score.
        Bad input raises ``ValueError`` and leaves every track as it was.
        """
        start = time.perf_counter()
        image = validate_image(image, self.pipeline.config.max_image_pixels)
        phrases = tuple(parse_query(query))
        if phrases != self._phrases or (stamp is not None and self._stamp is not None and stamp < self._stamp):
            self.reset()
            self._phrases = phrases
        self._stamp, self._query = stamp, query
        height, width = image.shape[:2]
        timings: Dict[str, float] = {}
        if self.config.mode == "sam2":
            detections, key, normalised = self._tracks.step(image, timings)
            kind = "key" if key else "propagated"
            self.stats.dropped_detections = self._tracks.dropped
        else:
            result = self.pipeline(image, query)
            timings.update(result.timings)
            assoc = time.perf_counter()
            detections, key, normalised = self._tracks.update(result.detections), True, result.query
            timings["associate"] = time.perf_counter() - assoc
            kind = "detected"
        self._count(kind, key, time.perf_counter() - start)
        query_text = normalised if normalised is not None else ". ".join(phrases)
        return FrameResult(width, height, query_text, detections, timings)

    def _detect(self, image: np.ndarray) -> FrameResult:
        return self.pipeline(image, self._query)

    def _new_id(self) -> int:
        self.stats.ids_issued += 1
        return next(self._ids)

    def _new_iou(self) -> IouTracker:
        c = self.config
        return IouTracker(c.match_iou, c.min_hits, c.max_age, self._new_id)

    def _count(self, kind: str, key: bool, seconds: float) -> None:
        stats = self.stats
        stats.frames += 1
        stats.key_frames += int(key)
        stats.live_tracks = self._tracks.live
        stats.last_kind = kind
        stats.seconds[kind] = stats.seconds.get(kind, 0.0) + seconds
        stats.counts[kind] = stats.counts.get(kind, 0) + 1


def build_tracker(pipeline: Any, config: TrackerConfig, models: Any = None) -> StreamTracker:
    """A tracker on a loaded pipeline; for ``sam2`` loads the video model on the pipeline's device and dtype.

    ``models``: where loaded video models are shared between trackers (e.g. the cameras of a node): an object with
    ``get(key, load) -> model`` that calls ``load()`` once per key (``grounded_sam_ros.ros.model_store.ModelStore``).
    """
    config = config.validate()
    propagator = None
    if config.mode == "sam2":
        from grounded_sam_ros.models import LoadOptions
        from grounded_sam_ros.tracking.video import VideoPropagator, load_video_model

        pc = pipeline.config
        options = LoadOptions(
            device=pc.device,
            dtype=resolve_dtype(pc.dtype, pc.device),
            local_files_only=pc.local_files_only,
            allow_pickle=pc.allow_pickle,
            cache_dir=pc.cache_dir or None,
        )
        loaded = None
        if models is not None:
            # memory_frames is set on the model itself: part of what makes two loads different
            key = ("video", config.video_family, config.video_model, str(options.dtype), options.device,
                   config.memory_frames)  # fmt: skip
            loaded = models.get(key, lambda: load_video_model(config.video_model, config.video_family, options))
        propagator = VideoPropagator.from_pretrained(
            config.video_model, config.video_family, options, config.cond_frames, config.memory_frames, loaded
        )
    return StreamTracker(pipeline, config, propagator)
