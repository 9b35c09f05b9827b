# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What a tagger adapter offers: an image in, the names of what it shows out (most confident first).

A tagger says *what* is in an image (RAM: "cup, table, laptop"; a captioner: the nouns of "a man at a table with a
laptop"); :mod:`grounded_sam_ros.auto_query` turns its tags into a detector query. Like the detector and segmenter
adapters, a tagger is given a built model and splits its work into ``preprocess`` -> ``forward`` -> ``postprocess``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Protocol

import numpy as np


@dataclass
class TagResult:
    """Tags of one image.

    ``tags`` are ordered most confident first; ``scores`` has one float in [0, 1] per tag (1.0 when the model gives
    no score, as captioners do); ``text`` is the generated caption of a captioning tagger ("" for RAM).
    """

    tags: List[str] = field(default_factory=list)
    scores: List[float] = field(default_factory=list)
    text: str = ""


class Tagger(Protocol):
    family: str

    def preprocess(self, image: np.ndarray) -> Any:
        """image: HxWx3 uint8 RGB -> model inputs."""

    def forward(self, inputs: Any) -> Any: ...

    def postprocess(self, outputs: Any) -> TagResult: ...

    def __call__(self, image: np.ndarray) -> TagResult:
        """image: HxWx3 uint8 RGB -> its tags (preprocess, forward, postprocess)."""


def read_tag_list(path: str) -> List[str]:
    """One tag per line (the RAM release's ``ram_tag_list.txt``); blank lines are kept so indices stay aligned."""
    file = Path(path).expanduser()
    if not str(path).strip():
        raise ValueError(
            "no tag list given: point tag_list (--tag-list) at the model's own release file, e.g. "
            "ram_tag_list.txt from github.com/xinyu1205/recognize-anything (ram/data/)"
        )
    if not file.is_file():
        raise FileNotFoundError(
            f"tag list {file} not found; it is ram/data/ram_tag_list.txt of github.com/xinyu1205/recognize-anything"
        )
    tags = file.read_text(encoding="utf-8").splitlines()
    if not tags:
        raise ValueError(f"tag list {file} is empty: expected one tag per line")
    return [t.strip() for t in tags]


def read_thresholds(path: str, count: int) -> np.ndarray:
    """One float per line (``ram_tag_list_threshold.txt``), as many as tags: (count,) float32 in [0, 1]."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"tag thresholds {file} not found; it is ram/data/ram_tag_list_threshold.txt of "
            "github.com/xinyu1205/recognize-anything (or leave it empty for one threshold for every tag)"
        )
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        values = np.array([float(v) for v in lines], dtype=np.float32)
    except ValueError as exc:
        raise ValueError(f"tag thresholds {file}: every line must be one number ({exc})") from exc
    if values.size != count:
        raise ValueError(
            f"tag thresholds {file} has {values.size} values but the tag list has {count} tags: use the "
            "threshold file released with that tag list"
        )
    if np.any((values < 0) | (values > 1)):
        raise ValueError(f"tag thresholds {file}: values must lie in [0, 1]")
    return values
