# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Automatic queries: a tagger says what an image shows, its tags become the detector's query. No ROS here.

``TaggerConfig`` carries every tagger setting (from CLI flags or ROS parameters); :func:`build_query` turns tags into
a query (normalised, deduplicated, ``exclude`` phrases out, capped at the detector's token window);
:class:`AutoQuery` runs a built tagger on an image and returns that query.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from grounded_sam_ros.models.tagging import TagResult
from grounded_sam_ros.nouns import singular

TAGGER_FAMILIES = ("ram", "ram_plus", "blip", "florence2")
DEFAULT_TAGGER_MODELS = {
    "ram": "ram_swin_large_14m.pth",
    "ram_plus": "ram_plus_swin_large_14m.pth",
    "blip": "Salesforce/blip-image-captioning-large",
    "florence2": "florence-community/Florence-2-base",
}
_SEPARATORS = re.compile(r"[.,|;]")
_SPACES = re.compile(r"\s+")


@dataclass
class TaggerConfig:
    """Settings of the tagger behind an automatic query.

    ``model``: RAM/RAM++ release checkpoint (``.pth``) or a captioner's Hub id / local directory; "" = the family's
    default (:data:`DEFAULT_TAGGER_MODELS`). ``tag_list``/``tag_thresholds``: RAM's release files
    (``ram_tag_list.txt``, ``ram_tag_list_threshold.txt``); no thresholds file = ``threshold`` for every tag.
    ``exclude``: phrases never put in the query ("room, floor"). ``max_tags``: keep at most this many (0 = as many as
    the detector's token window holds).
    """

    family: str = "ram_plus"
    model: str = ""
    tag_list: str = ""
    tag_thresholds: str = ""
    threshold: float = 0.68
    exclude: str = ""
    max_tags: int = 0
    max_new_tokens: int = 0  # captioners: generated tokens at most (0 = the family's: BLIP 30, Florence-2 256)
    task: str = "<OD>"  # Florence-2: <OD> (object labels) or a caption task (<CAPTION>, <DETAILED_CAPTION>, ...)

    def validate(self) -> "TaggerConfig":
        if self.family not in TAGGER_FAMILIES:
            raise ValueError(f"tagger family {self.family!r}: expected one of {', '.join(TAGGER_FAMILIES)}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"tag threshold {self.threshold!r}: expected a number in [0, 1]")
        if int(self.max_tags) != self.max_tags or self.max_tags < 0:
            raise ValueError(f"max_tags={self.max_tags!r}: expected an integer >= 0 (0 = no limit)")
        if int(self.max_new_tokens) != self.max_new_tokens or self.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens={self.max_new_tokens!r}: expected an integer >= 0 (0 = default)")
        if self.family in ("ram", "ram_plus") and not str(self.tag_list).strip():
            raise ValueError(
                f"tagger {self.family} needs its tag list: pass the release's ram_tag_list.txt (--tag-list / "
                "tag_list) and, for per-tag thresholds, ram_tag_list_threshold.txt (--tag-thresholds)"
            )
        return self

    def replace(self, **changes: Any) -> "TaggerConfig":
        return dataclasses.replace(self, **changes).validate()

    @property
    def model_id(self) -> str:
        return self.model or DEFAULT_TAGGER_MODELS[self.family]


def normalize_tag(tag: str) -> str:
    """``" Coffee  Cup. "`` -> ``"coffee cup"``: lower case, single spaces, no query separators."""
    return _SPACES.sub(" ", _SEPARATORS.sub(" ", str(tag))).strip().lower()


def build_query(
    tags: Sequence[str],
    exclude: Sequence[str] | str = (),
    max_tokens: int = 256,
    count_tokens: Optional[Callable[[str], int]] = None,
    max_tags: int = 0,
) -> str:
    """Tags (most confident first) -> a detector query ``"cup . table . laptop"`` ("" when no tag is left).

    Tags are normalised (:func:`normalize_tag`); a tag equal to an earlier one or to an ``exclude`` phrase — also
    after making its last word singular ("cups" = "cup") — is dropped. Tags are then taken in order while the
    detector's caption ``[CLS] t1 . t2 . ... [SEP]`` fits ``max_tokens`` (``count_tokens(phrase)`` word pieces per
    phrase; whitespace words when not given) and at most ``max_tags`` of them (0 = no limit).
    """
    if isinstance(exclude, str):
        exclude = _SEPARATORS.split(exclude)
    count = count_tokens or (lambda phrase: len(phrase.split()))

    def key(phrase: str) -> str:
        words = phrase.split()
        return " ".join(words[:-1] + [singular(words[-1])])

    seen = {key(p) for p in map(normalize_tag, exclude) if p}
    kept: List[str] = []
    used = 2  # [CLS] and [SEP]
    for tag in tags:
        phrase = normalize_tag(tag)
        if not phrase or key(phrase) in seen:
            continue
        cost = count(phrase) + 1  # the phrase and its " ."
        if used + cost > max_tokens or (max_tags and len(kept) >= max_tags):
            break
        seen.add(key(phrase))
        kept.append(phrase)
        used += cost
    return " . ".join(kept)


class AutoQuery:
    """A built tagger plus the query rules: ``auto(image) -> (query, tags)``.

    ``count_tokens``/``max_tokens``: the detector's tokenizer and window (see
    :meth:`GroundingDinoDetector.count_tokens`), so the query is never truncated by the detector.
    """

    def __init__(
        self,
        tagger: Any,
        exclude: Sequence[str] | str = (),
        max_tags: int = 0,
        max_tokens: int = 256,
        count_tokens: Optional[Callable[[str], int]] = None,
    ) -> None:
        self.tagger = tagger
        self.exclude = exclude
        self.max_tags = max_tags
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens

    def query_of(self, tags: TagResult) -> str:
        return build_query(tags.tags, self.exclude, self.max_tokens, self.count_tokens, self.max_tags)

    def __call__(self, image: np.ndarray) -> Tuple[str, TagResult]:
        """image: HxWx3 uint8 RGB -> (query, the tagger's tags); the query is "" when no tag is left."""
        tags = self.tagger(image)
        return self.query_of(tags), tags


def load_options(config: Any) -> Any:
    """The :class:`~grounded_sam_ros.models.LoadOptions` a pipeline of ``config`` loads with (for its tagger)."""
    from grounded_sam_ros.models import LoadOptions
    from grounded_sam_ros.pipeline import resolve_device, resolve_dtype

    device = resolve_device(config.device)
    return LoadOptions(
        device=device,
        dtype=resolve_dtype(config.dtype, device),
        local_files_only=config.local_files_only,
        allow_pickle=config.allow_pickle,
        cache_dir=config.cache_dir or None,
    )


def build_auto_query(config: TaggerConfig, options: Any, detector: Any = None) -> AutoQuery:
    """Load the configured tagger once; cap queries to ``detector``'s token window when one is given."""
    from grounded_sam_ros.models import build_tagger

    config = config.validate()
    if config.family in ("ram", "ram_plus"):
        files = {"tag_list": config.tag_list, "tag_thresholds": config.tag_thresholds, "threshold": config.threshold}
    else:
        files = {"max_new_tokens": config.max_new_tokens} if config.max_new_tokens else {}
        if config.family == "florence2":
            files["task"] = config.task
    tagger = build_tagger(config.family, config.model_id, options, **files)
    max_tokens = int(getattr(detector, "max_text_tokens", 256))
    count_tokens = getattr(detector, "count_tokens", None)
    return AutoQuery(tagger, config.exclude, config.max_tags, max_tokens, count_tokens)
