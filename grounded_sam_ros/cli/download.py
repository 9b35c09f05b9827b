# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam download``: model weights into the Hugging Face cache for offline use."""

from __future__ import annotations

import argparse

from grounded_sam_ros.cli.common import PROG, err, first_line
from grounded_sam_ros.config import DEFAULT_DETECTOR, DEFAULT_SEGMENTER

# `download` with no model and no --family: the two defaults (compared by identity to tell "none given")
DEFAULT_MODELS = [DEFAULT_DETECTOR, DEFAULT_SEGMENTER]
# What a model needs to load: weights as safetensors, configs and tokenizer/processor files as json/txt
DOWNLOAD_PATTERNS = ("*.safetensors", "*.json", "*.txt")


def register(commands) -> None:
    dl = commands.add_parser(
        "download",
        help="download model weights into the Hugging Face cache for offline use",
        description="Download Hub models (safetensors weights + json/txt config, tokenizer and processor files) so "
        "that `segment` and the ROS node can run offline.",
    )
    dl.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        default=DEFAULT_MODELS,
        help=f"Hub ids (default, with no --family either: {DEFAULT_DETECTOR} {DEFAULT_SEGMENTER})",
    )
    dl.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="FAMILY",
        help="also download this family's default model (repeatable; `grounded-sam models` lists them)",
    )
    dl.add_argument("--cache-dir", default="", metavar="DIR", help="Hugging Face cache (default: ~/.cache/...)")
    dl.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.utils import enable_progress_bars

    if not constants.HF_HUB_DISABLE_PROGRESS_BARS:  # the user's HF_HUB_DISABLE_PROGRESS_BARS=1 wins
        enable_progress_bars()
    from grounded_sam_ros.models.catalog import default_entry

    models = [] if args.models is DEFAULT_MODELS and args.family else list(args.models)
    for family in args.family:
        entry = default_entry(family)
        if entry is None:
            err(f"unknown family {family!r}; `{PROG} models` lists the families")
            return 2
        models.append(entry.model_id)
    args.models = models
    cache = args.cache_dir or str(constants.HF_HUB_CACHE)
    offline = bool(constants.HF_HUB_OFFLINE)
    failed: list[str] = []
    for model in args.models:
        print(f"downloading {model} into {cache} ...", flush=True)
        try:
            path = snapshot_download(model, cache_dir=args.cache_dir or None, allow_patterns=list(DOWNLOAD_PATTERNS))
        except GatedRepoError as exc:
            err(f"{model} is gated on the Hub: accept its terms on huggingface.co and log in (hf auth login). {exc}")
            failed.append(model)
            continue
        except RepositoryNotFoundError as exc:
            err(f"{model} was not found on the Hub (check the id, or log in if it is private): {first_line(exc)}")
            failed.append(model)
            continue
        except LocalEntryNotFoundError as exc:
            # No connection (or offline mode) and nothing cached
            if offline:
                reason = "HF_HUB_OFFLINE is set, so the Hub was not contacted (unset it to download from here)"
            else:
                reason = "the Hub is unreachable"
            err(
                f"could not download {model}: {reason}; {first_line(exc.__cause__ or exc)}.\n"
                f"  Run `{PROG} download {model}"
                f"{' --cache-dir ' + args.cache_dir if args.cache_dir else ''}` on a machine with internet access, "
                f"then copy its Hugging Face cache ({cache}) to the same place on this machine "
                "(or point HF_HUB_CACHE / --cache-dir at where you put it)."
            )
            failed.append(model)
            continue
        except Exception as exc:  # noqa: BLE001 - a dropped connection mid-file, a full disk, an HTTP error: report, go on
            err(f"could not download {model} into {cache}: {first_line(exc)} (run the command again to resume)")
            failed.append(model)
            continue
        print(f"  {model} -> {path}")
    if failed:
        err(f"{len(failed)} of {len(args.models)} model(s) not downloaded: {' '.join(failed)}")
        return 1

    cache_flag = f" --cache-dir {args.cache_dir}" if args.cache_dir else ""
    print(
        "\nDone. To run without network access, load from the cache only:\n"
        f"  {PROG} segment IMAGE --query 'cup . person' --local-files-only{cache_flag} --out results/\n"
        f"  or export HF_HUB_OFFLINE=1{'' if not args.cache_dir else ' HF_HUB_CACHE=' + args.cache_dir} "
        "(also for the ROS node: local_files_only:=true)"
    )
    return 0
