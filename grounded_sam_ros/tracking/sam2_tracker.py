# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Detect on key frames, propagate in between (mode ``sam2``): tracks live in a SAM 2 / EdgeTAM video memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from grounded_sam_ros.postprocess import MaskUpsampler
from grounded_sam_ros.results import Detection, FrameResult
from grounded_sam_ros.tracking.association import assign, iou_matrix
from grounded_sam_ros.tracking.config import TrackerConfig
from grounded_sam_ros.tracking.video import Predictions, VideoPropagator


@dataclass
class _Track:
    label: str
    score: float  # of the last detection
    phrase_index: int
    detected_at: int  # frame count of the last detection
    missed: int = 0  # consecutive key frames without a detection


class Sam2Tracker:
    """Live tracks of one stream in ``sam2`` mode. ``detect`` runs the detector + segmenter on a key frame."""

    def __init__(
        self,
        propagator: VideoPropagator,
        config: TrackerConfig,
        detect: Callable[[np.ndarray], FrameResult],
        new_id: Callable[[], int],
    ) -> None:
        self._video = propagator
        self._config = config
        self._detect = detect
        self._new_id = new_id
        self._tracks: Dict[int, _Track] = {}
        self._frames = 0  # frames seen by this tracker
        self._since_key: Optional[int] = None  # frames since the last key frame (None: none yet)
        self._upsamplers: Dict[Tuple, MaskUpsampler] = {}
        self.dropped = 0  # detections not tracked because max_tracks tracks were alive
        self.segmenter: Any = None  # the pipeline's segmenter (set by StreamTracker), for feature sharing

    @property
    def live(self) -> int:
        return len(self._tracks)

    def reset(self) -> None:
        self._video.reset()
        self._tracks.clear()
        self._since_key = None

    def is_key(self) -> bool:
        """Whether the next frame is a key frame: the first, every ``detect_every``, or no live track."""
        return not self._tracks or self._since_key is None or self._since_key + 1 >= self._config.detect_every

    def step(self, image: np.ndarray, timings: Dict[str, float]) -> Tuple[List[Detection], bool, Optional[str]]:
        """One frame: (reported detections, whether it was a key frame, the detector's normalised query)."""
        key = self.is_key()
        self._frames += 1
        start = time.perf_counter()
        predicted = self._video.step(image)
        timings["propagate"] = time.perf_counter() - start
        if not key:
            self._since_key = (self._since_key or 0) + 1
            return self._propagated(predicted, image.shape[:2], list(self._tracks)), False, None

        self._since_key = 0
        segmenter = self._segmenter()
        if segmenter is not None:  # the key frame's masks reuse the video model's image features
            segmenter.prime(image, self._video.image_embeddings)
        try:
            result = self._detect(image)
        finally:
            if segmenter is not None:
                segmenter.prime(None, None)
        timings.update(result.timings)
        start = time.perf_counter()
        reported = self._associate(predicted, result.detections, image.shape[:2])
        timings["associate"] = time.perf_counter() - start
        return reported, True, result.query

    def _segmenter(self):
        """The pipeline's segmenter when it can take the video model's features (same SAM 2 checkpoint)."""
        segmenter = getattr(self, "segmenter", None)
        source = getattr(segmenter, "source", "")
        if hasattr(segmenter, "prime") and source and source == getattr(self._video, "source", None):
            return segmenter
        return None

    def _associate(self, predicted: Predictions, fresh: List[Detection], size: Tuple[int, int]) -> List[Detection]:
        config = self._config
        ids = list(self._tracks)
        carried = self._propagated(predicted, size, ids, keep_empty=True)
        match = assign(
            iou_matrix(carried, fresh),
            [d.label for d in carried],
            [d.label for d in fresh],
            config.match_iou,
        )
        refresh: Dict[int, np.ndarray] = {}
        reported: List[Detection] = []
        # Matched: same id, memory refreshed with the detection's mask
        for row, col in match.matches:
            track_id = ids[row]
            reported.append(self._detected(track_id, fresh[col], refresh, size))
        # Missed: end when the video model says the object left, or after max_age key frames
        ended = []
        for row in match.unmatched_rows:
            track_id, track = ids[row], self._tracks[ids[row]]
            track.missed += 1
            gone = predicted.get(track_id, (None, -np.inf))[1] < config.exit_score
            if gone or track.missed > config.max_age:
                ended.append(track_id)
            elif carried[row].mask is not None and carried[row].mask.size:
                reported.append(carried[row])
        for track_id in ended:
            del self._tracks[track_id]
        self._video.remove(ended)
        # New: highest scores first, while there is room
        for col in sorted(match.unmatched_cols, key=lambda c: -fresh[c].score):
            if len(self._tracks) >= config.max_tracks:
                self.dropped += 1
                continue
            if fresh[col].mask is None or not fresh[col].mask.any():
                continue  # nothing for the video model to follow
            reported.append(self._detected(self._new_id(), fresh[col], refresh, size))
        self._video.refresh(refresh)
        return sorted(reported, key=lambda d: -d.score)

    def _detected(self, track_id: int, det: Detection, refresh: Dict[int, np.ndarray], size) -> Detection:
        self._tracks[track_id] = _Track(det.label, float(det.score), det.phrase_index, self._frames)
        refresh[track_id] = det.full_mask(*size)
        det.id, det.propagated, det.age = str(track_id), False, 0
        return det

    def _propagated(
        self, predicted: Predictions, size: Tuple[int, int], ids: List[int], keep_empty: bool = False
    ) -> List[Detection]:
        """Detections from the video model's masks; a track judged absent (empty mask) is left out unless
        ``keep_empty`` (then it is there with a (0, 0) mask, so rows line up with ``ids``)."""
        out = []
        for track_id in ids:
            logits, score = predicted[track_id]
            track = self._tracks[track_id]
            crop, x, y = self._upsampler(logits.shape, size)(logits)
            if not crop.size and not keep_empty:
                continue
            box = np.array([x, y, x + crop.shape[1], y + crop.shape[0]], np.float32) if crop.size else np.zeros(4)
            det = Detection(
                label=track.label,
                score=track.score,
                box=box.astype(np.float32),
                mask=crop,
                mask_x=x,
                mask_y=y,
                mask_score=float(1.0 / (1.0 + np.exp(-score))),  # the object score as a probability
                id=str(track_id),
                phrase_index=track.phrase_index,
                propagated=True,
                age=self._frames - track.detected_at,
            )
            out.append(det)
        return out

    def _upsampler(self, low_res: Tuple[int, int], size: Tuple[int, int]) -> MaskUpsampler:
        """The video processor's post-processing: low-res -> S x S -> source size, bilinear."""
        key = (tuple(low_res), tuple(size))
        if key not in self._upsamplers:
            square = self._video.preprocessor.size
            self._upsamplers[key] = MaskUpsampler.create(tuple(low_res), square, square, tuple(size))
        return self._upsamplers[key]
