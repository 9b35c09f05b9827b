# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam segment``: detect and segment the phrases of a query in image files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grounded_sam_ros.cli.common import (
    add_model_args,
    banner_for,
    config_from_args,
    err,
    load_pipeline,
    output_dir,
    unique_stem,
)


def register(commands) -> None:
    seg = commands.add_parser(
        "segment",
        help="detect and segment the phrases of a query in image files",
        description="For each IMAGE write OUT/<stem>.png (annotated) and OUT/<stem>.json (boxes, scores, labels and "
        "COCO RLE masks). Models load once for all images.",
    )
    seg.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    seg.add_argument("--query", "-q", required=True, help='phrases separated by "." or ",", e.g. "red cup . person"')
    seg.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    add_model_args(seg)
    seg.add_argument(
        "--banner",
        default=None,
        metavar="TEXT",
        help="text written across the top of every annotated image (default: a warning when the models have "
        "random weights, else none; '' for none)",
    )
    seg.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
        out_dir = output_dir(args.out)
    except ValueError as exc:
        err(str(exc))
        return 2

    banner = banner_for(config, args.banner)
    pipe = load_pipeline(config)
    if pipe is None:
        return 1

    from grounded_sam_ros.io.progress import Progress

    failures = 0
    used_stems: set[str] = set()
    with Progress(len(args.images), "segment") as progress:
        for name in args.images:
            if not _segment_one(pipe, Path(name), query, out_dir, banner, used_stems, progress.write):
                failures += 1
            progress.update()
    if failures:
        err(f"{failures} of {len(args.images)} image(s) failed; see the messages above")
        return 1
    return 0


def _segment_one(
    pipe, path: Path, query: str, out_dir: Path, banner: str | None, used_stems: set[str], say=print
) -> bool:
    """Segment one image file and write its PNG and JSON; report and return False on any failure.

    ``say`` prints the result line (the progress bar's ``write``, so the bar stays intact).
    """
    from grounded_sam_ros.data import load_image
    from grounded_sam_ros.visualize import annotate

    try:
        image = load_image(path)
    except (OSError, ValueError) as exc:
        err(f"{path}: {exc}")
        return False
    start = time.perf_counter()
    try:
        result = pipe(image, query)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
        err(f"{path}: segmentation failed: {type(exc).__name__}: {exc}")
        return False
    elapsed = time.perf_counter() - start

    stem = unique_stem(path, used_stems)
    png_path, json_path = out_dir / f"{stem}.png", out_dir / f"{stem}.json"
    try:
        from PIL import Image

        Image.fromarray(annotate(image, result, banner=banner)).save(png_path)
        json_path.write_text(result_json(result.to_dict(image=str(path))))
    except OSError as exc:
        err(f"{path}: cannot write results to {out_dir}: {exc}")
        return False

    labels = ", ".join(f"{d.label} {d.score:.2f}" for d in result.detections[:5])
    more = f", ... (+{len(result.detections) - 5})" if len(result.detections) > 5 else ""
    say(
        f"{path}: {len(result.detections)} detection(s) in {elapsed:.2f}s"
        f"{' [' + labels + more + ']' if labels else ''} -> {png_path}, {json_path.name}"
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
