# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What the benchmark feeds the pipeline: real photos at camera resolutions, queries and forced box counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from PIL import Image

from grounded_sam_ros.data import load_image, sample_image

# Photos shipped in grounded_sam_ros/data, cycled over the repeats (every variant sees the same frame per repeat)
PHOTOS = ("coffee", "astronaut", "chelsea", "rocket")

# 16 phrases; a query of n phrases takes the first n. Every word is in the random models' vocabulary
# (grounded_sam_ros.models.architectures), so none becomes [UNK].
PHRASES = (
    "cup",
    "person",
    "cat",
    "plate",
    "spoon",
    "rocket",
    "red flag",
    "white helmet",
    "laptop",
    "keyboard",
    "lamp",
    "bowl",
    "cookie",
    "saucer",
    "small plant",
    "black shoe",
)


@dataclass(frozen=True)
class Workload:
    """One benchmark case: frames of ``size`` (width, height), a query of ``phrases`` phrases, ``boxes`` boxes.

    The box count is forced: the top ``boxes`` detections by score, whatever the thresholds (see
    :func:`bench.measure.forced_top_k`).
    """

    size: Tuple[int, int]
    phrases: int
    boxes: int

    @property
    def name(self) -> str:
        return f"{self.size[0]}x{self.size[1]} q{self.phrases} k{self.boxes}"

    @property
    def query(self) -> str:
        return " . ".join(PHRASES[: self.phrases])

    @property
    def caption(self) -> str:
        """The query as the transformers docs write a Grounding DINO caption: lower case, each phrase ends in '.'."""
        return " . ".join(PHRASES[: self.phrases]) + " ."


CENTRE = Workload((640, 480), 4, 8)

# Quick: the centre workload only. Full: the centre, then one factor changed at a time (the scaling table).
QUICK: List[Workload] = [CENTRE]
FULL: List[Workload] = [
    CENTRE,
    Workload((1280, 720), 4, 8),
    Workload((640, 480), 1, 8),
    Workload((640, 480), 16, 8),
    Workload((640, 480), 4, 1),
    Workload((640, 480), 4, 32),
]


def frame(repeat: int, size: Tuple[int, int]) -> Tuple[str, np.ndarray]:
    """(photo name, HxWx3 uint8 RGB) of the photo for ``repeat``, resized (bilinear, aspect not kept) to ``size``."""
    name = PHOTOS[repeat % len(PHOTOS)]
    image = Image.fromarray(load_image(sample_image(name))).resize(size, Image.BILINEAR)
    return name, np.asarray(image)
