# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam models``: the model families, their default ids, sizes, licences and what is cached here."""

from __future__ import annotations

import argparse
from typing import Optional

from grounded_sam_ros.cli.common import PROG


def register(commands) -> None:
    parser = commands.add_parser(
        "models",
        help="list the model families, default ids, sizes, licences and which are cached here",
        description="List every registered model family (detector, segmenter, one-stage) with its published models, "
        "approximate parameter count, licence and whether it is in the local Hugging Face cache.",
    )
    parser.add_argument("--cache-dir", default="", metavar="DIR", help="Hugging Face cache (default: ~/.cache/...)")
    parser.set_defaults(func=run)


def cached(model_id: str, cache_dir: Optional[str] = None) -> bool:
    """True when the model's config.json and weights are in the Hugging Face cache (never contacts the Hub)."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(model_id, "config.json", cache_dir=cache_dir or None)
    if not isinstance(config, str):
        return False
    weights = try_to_load_from_cache(model_id, "model.safetensors", cache_dir=cache_dir or None)
    index = try_to_load_from_cache(model_id, "model.safetensors.index.json", cache_dir=cache_dir or None)
    return isinstance(weights, str) or isinstance(index, str)


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.models import KINDS
    from grounded_sam_ros.models.catalog import CATALOG

    registered = {family for registry in KINDS.values() for family in registry}
    rows = [
        (
            e.family + ("" if e.default else " *"),
            e.kind,
            e.model_id,
            f"{e.params_m:.0f}M" if e.params_m >= 10 else f"{e.params_m:.1f}M",
            e.licence,
            "yes" if cached(e.model_id, args.cache_dir) else "no",
            e.note,
        )
        for e in CATALOG
        if e.family in registered
    ]
    header = ("family", "kind", "model id", "params", "licence", "cached", "notes")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(
        f"\n* a variant (not the family default). Families are read from each checkpoint's config.json; "
        f"download a family's default with `{PROG} download --family FAMILY`, any Hub id with `{PROG} download ID`. "
        "Original .pth files of SAM, SAM-HQ and Grounding DINO load directly (converted once, cached)."
    )
    return 0
