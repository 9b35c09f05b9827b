# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking by detection: each frame's detections join live tracks by IoU (mode ``iou``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, List

from grounded_sam_ros.results import Detection
from grounded_sam_ros.tracking.association import assign, iou_matrix


@dataclass
class _Track:
    label: str
    last: Detection  # the latest detection, for the next frame's IoU
    hits: int = 1  # consecutive frames with a detection
    missed: int = 0  # consecutive frames without one
    id: int = -1  # assigned when the track is confirmed (min_hits), so reported ids have no gaps


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
        iou = iou_matrix([t.last for t in self._tracks], detections)
        result = assign(iou, [t.label for t in self._tracks], [d.label for d in detections], self._match_iou)
        reported: List[Detection] = []
        # Matched: the track moves on to this detection
        for row, col in result.matches:
            track = self._tracks[row]
            track.last, track.missed = detections[col], 0
            track.hits += 1
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
