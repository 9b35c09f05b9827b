# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Text queries: parsing, normalisation, phrase token spans and phrase-level label assignment.

A query is a list of phrases separated by ``.`` or ``,``: ``"Red cup . person, robot arm"``. It is normalised
exactly once (:func:`parse_query`): split, whitespace collapsed, lower-cased, empty and duplicate phrases dropped.
The detector sees the caption ``"red cup . person . robot arm ."``; every detection is labelled with one whole phrase,
the one whose tokens score highest for its box (:func:`assign_phrases`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import numpy as np

_LOG = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[.,]")
_SPACES = re.compile(r"\s+")

MAX_QUERY_CHARS = 4096


def parse_query(query: str) -> List[str]:
    """Split and normalise a query into its phrases.

    ``"Red  cup . person, red cup,, "`` -> ``["red cup", "person"]``. Raises ``ValueError`` when the query is not a
    string, is longer than ``MAX_QUERY_CHARS`` characters, or holds no phrase.
    """
    if not isinstance(query, str):
        raise ValueError(f"query must be a string of phrases separated by '.' or ',', got {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(
            f"query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are accepted "
            "(the detector reads at most 256 tokens anyway)"
        )
    phrases: List[str] = []
    for part in _SEPARATORS.split(query):
        printable = "".join(ch for ch in _SPACES.sub(" ", part) if ch.isprintable())
        phrase = _SPACES.sub(" ", printable).strip().lower()
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    if not phrases:
        raise ValueError(
            f"query {query!r} holds no phrase: give words separated by '.' or ',', e.g. 'red cup . person'"
        )
    return phrases


def normalize_query(query: str) -> str:
    """The canonical form of a query: its phrases joined by ``" . "`` (``"red cup . person"``)."""
    return " . ".join(parse_query(query))


def detector_caption(phrases: Sequence[str]) -> str:
    """The caption Grounding DINO is trained on: phrases joined by ``" . "`` and ending with ``" ."``."""
    return " . ".join(phrases) + " ."


@dataclass(frozen=True)
class PhraseSpans:
    """Where each phrase sits in the detector's token sequence.

    ``spans[i] = (start, end)`` are token positions (end exclusive) of ``phrases[i]`` in ``input_ids``
    (which starts with ``[CLS]``; separators ``.`` and special tokens belong to no phrase).
    """

    phrases: Tuple[str, ...]
    spans: Tuple[Tuple[int, int], ...]
    input_ids: Tuple[int, ...]
    truncated: bool = False

    @property
    def query(self) -> str:
        return " . ".join(self.phrases)


def phrase_spans(
    phrases: Sequence[str],
    tokenize: Callable[[str], List[int]],
    cls_id: int,
    sep_id: int,
    dot_id: int,
    max_tokens: int = 256,
    overflow: str = "truncate",
) -> PhraseSpans:
    """Lay out ``[CLS] p1 . p2 . ... [SEP]`` and record each phrase's token span.

    ``tokenize`` maps a phrase to its word-piece ids without special tokens. When the sequence would exceed
    ``max_tokens``, whole phrases are dropped from the end (``overflow="truncate"``, with a warning) or a
    ``ValueError`` is raised (``overflow="error"``); a single phrase that does not fit is always an error.
    """
    ids = [cls_id]
    spans: List[Tuple[int, int]] = []
    kept: List[str] = []
    for phrase in phrases:
        tokens = tokenize(phrase)
        if not tokens:
            continue
        if len(ids) + len(tokens) + 2 > max_tokens:  # phrase + "." + [SEP]
            dropped = list(phrases[len(kept) :])
            if not kept:
                raise ValueError(
                    f"the phrase {phrase[:60]!r}... alone is longer than the detector's {max_tokens}-token limit"
                )
            if overflow == "error":
                raise ValueError(
                    f"query needs more than the detector's {max_tokens} tokens; shorten it or drop phrases "
                    f"(would drop: {dropped[:5]}{'...' if len(dropped) > 5 else ''})"
                )
            _LOG.warning(
                "query exceeds the detector's %d-token limit: dropped %d trailing phrase(s) %s",
                max_tokens,
                len(dropped),
                dropped[:5],
            )
            return PhraseSpans(tuple(kept), tuple(spans), tuple(ids + [sep_id]), truncated=True)
        spans.append((len(ids), len(ids) + len(tokens)))
        kept.append(phrase)
        ids.extend(tokens)
        ids.append(dot_id)
    if not kept:
        raise ValueError(f"no phrase of {list(phrases)} produced any token for the detector")
    return PhraseSpans(tuple(kept), tuple(spans), tuple(ids + [sep_id]))


def assign_phrases(token_probs: np.ndarray, spans: Sequence[Tuple[int, int]]) -> Tuple[np.ndarray, np.ndarray]:
    """Pick, for each box, the phrase whose tokens score highest.

    token_probs: (N, T) float32 sigmoid scores of N boxes against T text positions.
    spans: per phrase, (start, end) token positions (end exclusive).
    Returns ``(phrase_index, phrase_score)``: (N,) int64 index into ``spans`` and (N,) float32 the winning phrase's
    best token score. Ties go to the earlier phrase.
    """
    if token_probs.ndim != 2:
        raise ValueError(f"token_probs must be (N, T), got shape {token_probs.shape}")
    if not spans:
        raise ValueError("no phrase spans to assign labels from")
    per_phrase = np.stack([token_probs[:, s:e].max(axis=1) for s, e in spans], axis=1)  # (N, P)
    index = per_phrase.argmax(axis=1)
    return index.astype(np.int64), per_phrase[np.arange(len(index)), index].astype(np.float32)
