# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A text query as it reaches the node (parameter, ``query`` topic, service request): checked and normalised."""

from __future__ import annotations

from typing import Any

from grounded_sam_ros.prompts import normalize_query


def clean_query(raw: Any) -> str:
    """A query as the node stores it: normalised (``"Red cup, person"`` -> ``"red cup . person"``).

    Blank means "no query" and gives ``""``. Raises ``ValueError`` (with the reason) for a query that is not blank but
    holds no phrase, is too long, holds undecodable bytes (U+FFFD), or is not a string.
    """
    if not isinstance(raw, str):
        raise ValueError(f"query must be a string, got {type(raw).__name__}")
    if not raw.strip():
        return ""
    if "\ufffd" in raw:
        # ROS decodes bytes that are not UTF-8 as U+FFFD: the sender's text is lost, so refuse it
        raise ValueError("query holds bytes that are not valid UTF-8 (decoded as U+FFFD); send UTF-8 text")
    return normalize_query(raw)
