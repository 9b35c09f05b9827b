# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking by detection: each frame's detections join live tracks by IoU (mode ``iou``).

A track is compared at the place its last detection would be now at constant velocity (the box centre's motion per
frame between its last two detections), so fast objects and skipped frames still overlap their track.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np

from grounded_sam_ros.results import Detection
from grounded_sam_ros.tracking.association import assign, iou_matrix


@dataclass
class _Track:
    label: str
    last: Detection  # the latest detection, for the next frame's IoU
    hits: int = 1  # consecutive frames with a detection
    missed: int = 0  # consecutive frames without one
    id: int = -1  # assigned when the track is confirmed (min_hits), so reported ids have no gaps
    velocity: Tuple[float, float] = (0.0, 0.0)  # pixels per processed frame, from the last two detections

    def predicted(self) -> Detection:
        """The last detection moved on at constant velocity to the coming frame (box and mask crop)."""
        steps = self.missed + 1
        dx, dy = self.velocity[0] * steps, self.velocity[1] * steps
        if dx == 0.0 and dy == 0.0:
            return self.last
        det = copy.copy(self.last)
        det.box = self.last.box + np.array([dx, dy, dx, dy], np.float32)
        det.mask_x, det.mask_y = self.last.mask_x + round(dx), self.last.mask_y + round(dy)
        return det

    def follow(self, det: Detection) -> None:
        """Move on to this frame's detection; the velocity is the centre's motion per frame since the last one."""
        steps = self.missed + 1
        before, after = _centre(self.last.box), _centre(det.box)
        self.velocity = ((after[0] - before[0]) / steps, (after[1] - before[1]) / steps)
        self.last, self.missed = det, 0
        self.hits += 1


def _centre(box: np.ndarray) -> Tuple[float, float]:
    return (float(box[0] + box[2]) / 2.0, float(box[1] + box[3]) / 2.0)


class IouTracker:
    """Live tracks and their ids for one stream; never reuses an id (``new_id`` hands them out)."""

    def __init__(self, match_iou: float, min_hits: int, max_age: int, new_id: Callable[[], int]) -> None:
        self._match_iou = match_iou
        self._min_hits = min_hits
        self._max_age = max_age
        self._new_id = new_id
        self._tracks: List[_Track] = []

    @property
    def live(self) -> int:
        """Confirmed tracks still alive (seen within ``max_age`` frames)."""
        return sum(1 for t in self._tracks if t.id >= 0)

    def update(self, detections: List[Detection]) -> List[Detection]:
        """Associate one frame's detections; returns the reported ones (confirmed tracks), ``id`` = track id.

        Unmatched detections start tentative tracks; tracks unmatched for more than ``max_age`` frames end.
        """
        # Each track where constant velocity puts it now (frames skipped by the caller just mean larger steps)
        iou = iou_matrix([t.predicted() for t in self._tracks], detections)
        result = assign(iou, [t.label for t in self._tracks], [d.label for d in detections], self._match_iou)
        reported: List[Detection] = []
        # Matched: the track moves on to this detection
        for row, col in result.matches:
            track = self._tracks[row]
            track.follow(detections[col])
            reported.extend(self._report(track))
        # Missed: age, and end the too old (tentative tracks end at their first miss)
        for row in result.unmatched_rows:
            track = self._tracks[row]
            track.hits = 0
            track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= (self._max_age if t.id >= 0 else 0)]
        # New: a tentative track per unmatched detection
        for col in result.unmatched_cols:
            track = _Track(label=detections[col].label, last=detections[col])
            self._tracks.append(track)
            reported.extend(self._report(track))
        return sorted(reported, key=lambda d: -d.score)

    def _report(self, track: _Track) -> List[Detection]:
        if track.id < 0 and track.hits >= self._min_hits:
            track.id = self._new_id()
        if track.id < 0:
            return []
        det = copy.copy(track.last)
        det.id, det.propagated, det.age = str(track.id), False, 0
        return [det]
