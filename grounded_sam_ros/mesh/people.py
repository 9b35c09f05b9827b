# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Grounded-SAM detections -> human meshes: which detections are people, and the settings that say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from grounded_sam_ros.mesh.camera import Intrinsics
from grounded_sam_ros.mesh.estimator import HumanMesh, MeshEstimator
from grounded_sam_ros.results import Detection, FrameResult


@dataclass(frozen=True)
class MeshConfig:
    """model: OSX / SMPLer-X checkpoint file; smplx_model: ``SMPLX_NEUTRAL.npz`` (or its folder); labels: query
    phrases whose detections get a mesh; max_people: at most this many per frame, highest scores first (0 = all)."""

    model: str = ""
    smplx_model: str = ""
    labels: tuple[str, ...] = ("person",)
    max_people: int = 0

    def validate(self) -> "MeshConfig":
        if not self.model:
            raise ValueError(
                "mesh model is empty: give the OSX/SMPLer-X checkpoint file (e.g. osx_l_wo_decoder.pth.tar)"
            )
        if not self.smplx_model:
            raise ValueError("SMPL-X model is empty: give the path of SMPLX_NEUTRAL.npz")
        if not isinstance(self.max_people, int) or isinstance(self.max_people, bool) or self.max_people < 0:
            raise ValueError(f"max_people={self.max_people!r}: expected an integer >= 0 (0 = every person)")
        if not normalise_labels(self.labels):
            raise ValueError("mesh labels are empty: give at least one query phrase, e.g. 'person'")
        return self


def normalise_labels(labels: Sequence[str] | str) -> tuple[str, ...]:
    """'person, man' or ['Person', ' man'] -> ('person', 'man'): lower case, trimmed, no empties or duplicates."""
    if isinstance(labels, str):
        labels = labels.replace(".", ",").split(",")
    return tuple(dict.fromkeys(" ".join(str(x).split()).lower() for x in labels if str(x).strip()))


def select_people(detections: Sequence[Detection], labels: Sequence[str], max_people: int = 0) -> list[Detection]:
    """The detections whose label is one of ``labels`` (case-insensitive), highest score first, at most
    ``max_people`` (0 = all)."""
    wanted = set(normalise_labels(labels))
    people = sorted((d for d in detections if d.label.strip().lower() in wanted), key=lambda d: -d.score)
    return people[:max_people] if max_people else people


def meshes_for_result(
    estimator: MeshEstimator,
    image: np.ndarray,
    result: FrameResult,
    config: MeshConfig,
    intrinsics: Optional[Intrinsics] = None,
    depth: Optional[np.ndarray] = None,
    measured: Optional[Mapping[str, float]] = None,
) -> list[HumanMesh]:
    """One mesh per person-labelled detection of ``result`` (image: HxWx3 uint8 RGB, the frame ``result`` came
    from); each mesh carries its detection's ``id`` and ``label``. ``depth`` (HxW float32 metres, registered) or
    ``measured`` (detection id -> distance of its visible surface, metres) fix the distance when ``intrinsics`` are
    given; masks (when segmented) choose the pixels compared."""
    people = select_people(result.detections, config.labels, config.max_people)
    if not people:
        return []
    height, width = image.shape[:2]
    masks = None
    if depth is not None or measured:
        masks = [d.full_mask(height, width) if d.mask is not None else None for d in people]
    distances = [measured.get(d.id) for d in people] if measured else None
    boxes = np.stack([d.box for d in people])
    meshes = estimator(image, boxes, intrinsics=intrinsics, depth=depth, masks=masks, measured=distances)
    for mesh in meshes:
        det = people[mesh.extra["input_index"]]
        mesh.id, mesh.label = det.id, det.label
    return meshes
