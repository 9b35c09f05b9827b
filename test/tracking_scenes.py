# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes with a scripted ground truth, and a scripted detector standing in for the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection, FrameResult


@dataclass
class Shape:
    """A disc of ``radius`` px whose centre is ``path(frame)`` (None: not in the scene), labelled ``label(frame)``.

    It counts as in view (and is detected) while at least 30 % of it is inside the image.
    """

    name: str
    radius: float
    path: Callable[[int], Optional[Tuple[float, float]]]
    label: Callable[[int], str]
    missed: Tuple[int, ...] = ()  # frames where the detector misses it although it is in view


def linear(start: Tuple[float, float], velocity: Tuple[float, float], first: int = 0, last: int = 10**9):
    def path(t: int):
        if not first <= t <= last:
            return None
        return start[0] + velocity[0] * (t - first), start[1] + velocity[1] * (t - first)

    return path


def constant(label: str) -> Callable[[int], str]:
    return lambda t: label


class ScriptedPipeline:
    """Stands in for :class:`GroundedSamPipeline`: 'detects' the scene's shapes from the script, with masks.

    Detections come back sorted by a per-frame random score, so their pipeline ids ("0", "1", ...) say nothing
    about identity; each carries its ground-truth identity in a test-only ``truth`` attribute.
    """

    def __init__(self, shapes: List[Shape], size=(240, 320), segment: bool = True, seed: int = 0) -> None:
        self.shapes = shapes
        self.size = size
        self.config = PipelineConfig(segment=segment)
        self.segmenter = object() if segment else None
        self.frame = 0
        self.truth: Dict[int, List[str]] = {}
        self.visible: Dict[int, List[str]] = {}
        self.last: List[Detection] = []  # the latest call's detections
        self._rng = np.random.default_rng(seed)

    def render(self, t: int) -> np.ndarray:
        """The frame as an image: each visible shape a grey disc on a textured background.

        The next detector call detects this frame (``render`` first, then hand the image to the tracker).
        """
        self.frame = t
        height, width = self.size
        yy, xx = np.mgrid[:height, :width]
        image = ((xx * 7 + yy * 13) % 64).astype(np.uint8)[..., None].repeat(3, axis=2)
        for k, shape in enumerate(self.shapes):
            centre = shape.path(t)
            if centre is not None:
                inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= shape.radius**2
                image[inside] = (80 + 40 * k) % 256
        return image

    def identity(self, shape: Shape, t: int) -> str:
        """Ground-truth identity: the object, and its label (a label change starts a new identity)."""
        return f"{shape.name}:{shape.label(t)}"

    def __call__(self, image: np.ndarray, query: str) -> FrameResult:
        t = self.frame
        height, width = self.size
        yy, xx = np.mgrid[:height, :width]
        detections, truth, visible = [], [], []
        for shape in self.shapes:
            centre = shape.path(t)
            if centre is None:
                continue
            inside = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= shape.radius**2
            if inside.sum() < 0.3 * np.pi * shape.radius**2:
                continue  # (mostly) out of view: neither in the truth nor detected
            visible.append(self.identity(shape, t))
            if t in shape.missed:
                continue
            crop, x, y = crop_mask(inside)
            box = np.array([x, y, x + crop.shape[1], y + crop.shape[0]], np.float32)
            det = Detection(shape.label(t), float(self._rng.uniform(0.4, 0.9)), box, crop, x, y, 0.9)
            det.truth = self.identity(shape, t)  # test-only attribute; copies of the detection keep it
            detections.append(det)
            truth.append(self.identity(shape, t))
        order = np.argsort([-d.score for d in detections], kind="stable")
        detections = [detections[i] for i in order]
        for i, det in enumerate(detections):
            det.id = str(i)
            if not self.config.segment:
                det.mask = None
        self.truth[t] = [truth[i] for i in order]
        self.visible[t] = visible
        self.last = list(detections)
        return FrameResult(width, height, query, detections, {"detector": 0.0})


def id_metrics(frames: List[List[Tuple[str, str]]], visible: int) -> Dict[str, float]:
    """Identity metrics of (truth identity, track id) pairs per frame.

    ``switches``: times an identity's track id changed from its previous one. ``ids_per_object``: the most track
    ids any one identity got. ``objects_per_id``: the most identities any one track id was given (1 = never
    reused). ``idf1``: 2 IDTP / (visible ground-truth instances + reported instances), IDTP from the optimal
    one-to-one identity <-> id matching (Ristani et al. 2016).
    """
    from scipy.optimize import linear_sum_assignment

    last: Dict[str, str] = {}
    switches = 0
    pairs: Dict[Tuple[str, str], int] = {}
    reported = 0
    for frame in frames:
        for truth, track in frame:
            reported += 1
            pairs[(truth, track)] = pairs.get((truth, track), 0) + 1
            if truth in last and last[truth] != track:
                switches += 1
            last[truth] = track
    truths = sorted({t for t, _ in pairs})
    tracks = sorted({k for _, k in pairs})
    counts = np.zeros((len(truths), len(tracks)))
    for (t, k), n in pairs.items():
        counts[truths.index(t), tracks.index(k)] = n
    rows, cols = linear_sum_assignment(counts, maximize=True)
    idtp = counts[rows, cols].sum()
    return {
        "switches": switches,
        "ids_per_object": int((counts > 0).sum(axis=1).max()) if truths else 0,
        "objects_per_id": int((counts > 0).sum(axis=0).max()) if tracks else 0,
        "idf1": 2 * idtp / (visible + reported) if visible + reported else 1.0,
    }
