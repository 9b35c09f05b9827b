# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ``grounded-sam`` command: segment image files, or download model weights for offline use. No ROS here.

grounded-sam segment photo.jpg other.png --query "red cup . person" --out results/
grounded-sam download                      # the two default models, into the Hugging Face cache
grounded-sam --version
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from grounded_sam_ros.config import DEFAULT_DETECTOR, DEFAULT_SEGMENTER, DEVICES_HELP, DTYPES, PipelineConfig

PROG = "grounded-sam"

# What a model needs to load: weights as safetensors, configs and tokenizer/processor files as json/txt
DOWNLOAD_PATTERNS = ("*.safetensors", "*.json", "*.txt")


def version() -> str:
    """The package version (``grounded_sam_ros.__version__``, the one setup.py installs)."""
    import grounded_sam_ros

    return getattr(grounded_sam_ros, "__version__", "unknown")


def build_parser() -> argparse.ArgumentParser:
    defaults = PipelineConfig()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Open-vocabulary instance segmentation: Grounding DINO boxes from a text query, SAM masks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    seg = commands.add_parser(
        "segment",
        help="detect and segment the phrases of a query in image files",
        description="For each IMAGE write OUT/<stem>.png (annotated) and OUT/<stem>.json (boxes, scores, labels and "
        "COCO RLE masks). Models load once for all images.",
    )
    seg.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    seg.add_argument("--query", "-q", required=True, help='phrases separated by "." or ",", e.g. "red cup . person"')
    seg.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    seg.add_argument(
        "--detector",
        default=defaults.detector_model,
        metavar="ID|DIR",
        help=f"Grounding DINO Hub id or local directory (default: {defaults.detector_model})",
    )
    seg.add_argument(
        "--segmenter",
        default=defaults.segmenter_model,
        metavar="ID|DIR",
        help=f"SAM Hub id or local directory (default: {defaults.segmenter_model})",
    )
    seg.add_argument("--box-threshold", type=float, default=defaults.box_threshold, metavar="F")
    seg.add_argument("--text-threshold", type=float, default=defaults.text_threshold, metavar="F")
    seg.add_argument(
        "--nms-iou",
        type=float,
        default=defaults.nms_iou,
        metavar="F",
        help="suppress a box overlapping a better-scoring one (any label) above this IoU (1.0 = off)",
    )
    seg.add_argument("--max-detections", type=int, default=defaults.max_detections, metavar="N", help="0 = no limit")
    seg.add_argument("--multimask", action="store_true", help="let SAM pick the best of 3 masks per box")
    seg.add_argument("--boxes-only", action="store_true", help="skip SAM: boxes and labels, no masks")
    seg.add_argument("--device", default=defaults.device, help=f"{DEVICES_HELP} (default: {defaults.device})")
    seg.add_argument("--dtype", default=defaults.dtype, choices=DTYPES, help=f"default: {defaults.dtype}")
    seg.add_argument(
        "--local-files-only",
        action="store_true",
        help="never contact the Hub; load from local directories or the cache only (same as HF_HUB_OFFLINE=1)",
    )
    seg.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow pytorch_model.bin checkpoints (loaded with weights_only=True); safetensors only by default",
    )
    seg.add_argument("--cache-dir", default="", metavar="DIR", help="Hugging Face cache (default: ~/.cache/...)")
    seg.add_argument(
        "--banner",
        default=None,
        metavar="TEXT",
        help="text written across the top of every annotated image (default: a warning when the models have "
        "random weights, else none; '' for none)",
    )
    seg.set_defaults(func=_segment)

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
        default=[DEFAULT_DETECTOR, DEFAULT_SEGMENTER],
        help=f"Hub ids (default: {DEFAULT_DETECTOR} {DEFAULT_SEGMENTER})",
    )
    dl.add_argument("--cache-dir", default="", metavar="DIR", help="Hugging Face cache (default: ~/.cache/...)")
    dl.set_defaults(func=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``grounded-sam`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _err(message: str, stream: TextIO | None = None) -> None:
    print(f"{PROG}: error: {message}", file=stream or sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# segment


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The validated :class:`PipelineConfig` of parsed ``segment`` arguments (``ValueError`` when a value is bad)."""
    return PipelineConfig(
        detector_model=args.detector,
        segmenter_model=args.segmenter,
        device=args.device,
        dtype=args.dtype,
        local_files_only=args.local_files_only,
        allow_pickle=args.allow_pickle,
        cache_dir=args.cache_dir,
        box_threshold=args.box_threshold,
        text_threshold=args.text_threshold,
        nms_iou=args.nms_iou,
        max_detections=args.max_detections,
        multimask=args.multimask,
        segment=not args.boxes_only,
    ).validate()


def _segment(args: argparse.Namespace) -> int:
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
    except ValueError as exc:
        _err(str(exc))
        return 2
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _err(f"cannot create output directory {out_dir}: {exc}")
        return 2

    banner = args.banner
    if banner is None and _has_random_weights(config):
        from grounded_sam_ros.visualize import RANDOM_WEIGHTS_BANNER

        banner = RANDOM_WEIGHTS_BANNER
        print(
            f"warning: {config.detector_model} / {config.segmenter_model} have random weights: results are "
            "meaningless (run `grounded-sam download` on a machine with internet for real models)",
            file=sys.stderr,
        )

    # Load the models once
    from grounded_sam_ros.pipeline import build_pipeline

    start = time.perf_counter()
    try:
        pipe = build_pipeline(config)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        _err(f"could not load the models: {exc}")
        return 1
    print(
        f"loaded {config.detector_model} + {config.segmenter_model if config.segment else 'no segmenter'} on "
        f"{pipe.config.device} in {time.perf_counter() - start:.1f}s"
    )

    failures = 0
    used_stems: set[str] = set()
    for name in args.images:
        if not _segment_one(pipe, Path(name), query, out_dir, banner, used_stems):
            failures += 1
    if failures:
        _err(f"{failures} of {len(args.images)} image(s) failed; see the messages above")
        return 1
    return 0


def _segment_one(pipe, path: Path, query: str, out_dir: Path, banner: str | None, used_stems: set[str]) -> bool:
    """Segment one image file and write its PNG and JSON; report and return False on any failure."""
    from grounded_sam_ros.data import load_image
    from grounded_sam_ros.visualize import annotate

    try:
        image = load_image(path)
    except (OSError, ValueError) as exc:
        _err(f"{path}: {exc}")
        return False
    start = time.perf_counter()
    try:
        result = pipe(image, query)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
        _err(f"{path}: segmentation failed: {type(exc).__name__}: {exc}")
        return False
    elapsed = time.perf_counter() - start

    # Unique output names even when two inputs share a stem (a/x.jpg, b/x.png)
    stem, n = path.stem, 2
    while stem in used_stems:
        stem, n = f"{path.stem}_{n}", n + 1
    used_stems.add(stem)
    png_path, json_path = out_dir / f"{stem}.png", out_dir / f"{stem}.json"
    try:
        from PIL import Image

        Image.fromarray(annotate(image, result, banner=banner)).save(png_path)
        json_path.write_text(result_json(result.to_dict(image=str(path))))
    except OSError as exc:
        _err(f"{path}: cannot write results to {out_dir}: {exc}")
        return False

    labels = ", ".join(f"{d.label} {d.score:.2f}" for d in result.detections[:5])
    more = f", ... (+{len(result.detections) - 5})" if len(result.detections) > 5 else ""
    print(
        f"{path}: {len(result.detections)} detection(s) in {elapsed:.2f}s"
        f"{' [' + labels + more + ']' if labels else ''} -> {png_path}, {json_path.name}",
        flush=True,
    )
    return True


def result_json(result: dict) -> str:
    """``FrameResult.to_dict()`` as JSON text with one detection per line (RLE counts would take one line each)."""
    lines = ["{"]
    lines += [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in result.items() if key != "detections"]
    detections = [json.dumps(det) for det in result.get("detections", [])]
    if detections:
        lines.append('  "detections": [')
        lines += [f"    {det}," for det in detections[:-1]] + [f"    {detections[-1]}", "  ]"]
    else:
        lines.append('  "detections": []')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _has_random_weights(config: PipelineConfig) -> bool:
    """True when a model is a local directory of tiny random weights (built by grounded_sam_ros.models.tiny)."""
    from grounded_sam_ros.models.tiny import has_random_weights

    return any(has_random_weights(model) for model in (config.detector_model, config.segmenter_model))


# ---------------------------------------------------------------------------------------------------------------
# download


def _download(args: argparse.Namespace) -> int:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.utils import enable_progress_bars

    if not constants.HF_HUB_DISABLE_PROGRESS_BARS:  # the user's HF_HUB_DISABLE_PROGRESS_BARS=1 wins
        enable_progress_bars()
    cache = args.cache_dir or str(constants.HF_HUB_CACHE)
    offline = bool(constants.HF_HUB_OFFLINE)
    failed: list[str] = []
    for model in args.models:
        print(f"downloading {model} into {cache} ...", flush=True)
        try:
            path = snapshot_download(model, cache_dir=args.cache_dir or None, allow_patterns=list(DOWNLOAD_PATTERNS))
        except GatedRepoError as exc:
            _err(f"{model} is gated on the Hub: accept its terms on huggingface.co and log in (hf auth login). {exc}")
            failed.append(model)
            continue
        except RepositoryNotFoundError as exc:
            _err(f"{model} was not found on the Hub (check the id, or log in if it is private): {_first_line(exc)}")
            failed.append(model)
            continue
        except LocalEntryNotFoundError as exc:
            # No connection (or offline mode) and nothing cached
            if offline:
                reason = "HF_HUB_OFFLINE is set, so the Hub was not contacted (unset it to download from here)"
            else:
                reason = "the Hub is unreachable"
            _err(
                f"could not download {model}: {reason}; {_first_line(exc.__cause__ or exc)}.\n"
                f"  Run `{PROG} download {model}"
                f"{' --cache-dir ' + args.cache_dir if args.cache_dir else ''}` on a machine with internet access, "
                f"then copy its Hugging Face cache ({cache}) to the same place on this machine "
                "(or point HF_HUB_CACHE / --cache-dir at where you put it)."
            )
            failed.append(model)
            continue
        except Exception as exc:  # noqa: BLE001 - a dropped connection mid-file, a full disk, an HTTP error: report, go on
            _err(f"could not download {model} into {cache}: {_first_line(exc)} (run the command again to resume)")
            failed.append(model)
            continue
        print(f"  {model} -> {path}")
    if failed:
        _err(f"{len(failed)} of {len(args.models)} model(s) not downloaded: {' '.join(failed)}")
        return 1

    cache_flag = f" --cache-dir {args.cache_dir}" if args.cache_dir else ""
    print(
        "\nDone. To run without network access, load from the cache only:\n"
        f"  {PROG} segment IMAGE --query 'cup . person' --local-files-only{cache_flag} --out results/\n"
        f"  or export HF_HUB_OFFLINE=1{'' if not args.cache_dir else ' HF_HUB_CACHE=' + args.cache_dir} "
        "(also for the ROS node: local_files_only:=true)"
    )
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


if __name__ == "__main__":
    sys.exit(main())
