# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam synth``: synthetic training data — found objects repainted N ways, labelled with their masks."""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from typing import List

from grounded_sam_ros.cli.common import add_model_args, config_from_args, err, first_line, output_dir
from grounded_sam_ros.cli.edit import (
    add_edit_args,
    add_instance_args,
    edit_config_from_args,
    labels_of,
    load_pipeline_and_editor,
)
from grounded_sam_ros.editing.config import EditConfig

# Synthetic labels are the source masks: repaint close to them (a wide dilation would let the new object grow past
# its label)
SYNTH_DEFAULTS = EditConfig(dilate=3, feather=4)
COCO_NAME = "annotations.json"


def register(commands) -> None:
    synth = commands.add_parser(
        "synth",
        help="synthetic data: repaint the found objects N ways, written as a COCO dataset of the source masks",
        description="For every frame of INPUT (image files, folders, globs, videos, rosbag2 bags) find --query, then "
        "write --variants repainted versions to OUT/images/ (one prompt of --prompts each) and OUT/annotations.json "
        "(COCO instances whose masks are the source masks: the object stays where it was, only its appearance "
        "changes). Interrupted runs resume where they stopped (--no-resume starts again).",
    )
    synth.add_argument("inputs", nargs="+", metavar="INPUT", help="images, folders, globs, videos or bags")
    synth.add_argument("--query", "-q", required=True, help='what to find and repaint, e.g. "cup"')
    synth.add_argument("--prompts", required=True, metavar="FILE", help="one prompt per line (# comments allowed)")
    synth.add_argument("--variants", "-n", type=int, default=4, metavar="N", help="repainted versions per frame")
    synth.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    synth.add_argument("--topic", default=None, help="image topic of rosbag2 inputs (default: the only one)")
    synth.add_argument("--no-resume", action="store_true", help="start from scratch instead of resuming")
    add_edit_args(synth, SYNTH_DEFAULTS)
    add_instance_args(synth)
    add_model_args(synth)
    synth.set_defaults(func=run)


def read_prompts(path: str) -> List[str]:
    """Non-empty, non-comment lines of ``path``; ``ValueError`` when there are none."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read --prompts {path}: {exc}") from exc
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ValueError(f"--prompts {path} has no prompts: write one per line")
    return prompts


def variant_plan(key: str, variant: int, prompts: List[str], base_seed: int) -> tuple[str, int]:
    """(prompt, seed) of one variant: stable across runs (a resumed run repaints exactly the same images)."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
    return prompts[(digest + variant) % len(prompts)], (base_seed + digest + variant) % 2**32


def file_stem(key: str) -> str:
    """A readable, unique file stem for a frame key (a path plus maybe ``#index``)."""
    path, _, index = key.partition("#")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem + (f"_{index.rsplit('#', 1)[-1]}" if index else ""))
    return f"{name[-60:]}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.io.coco import CocoWriter
    from grounded_sam_ros.io.progress import Progress
    from grounded_sam_ros.io.sources import count_frames, iter_frames
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        prompts = read_prompts(args.prompts)
        config = config_from_args(args)
        edit_config = edit_config_from_args(args)
        if args.variants < 1:
            raise ValueError(f"--variants {args.variants}: expected at least 1")
        if args.mode != "replace":
            raise ValueError("synth keeps the source masks as labels, so it repaints objects (--mode replace) only")
        out_dir = output_dir(args.out, "images")
    except (ValueError, OSError) as exc:
        err(str(exc))
        return 2

    loaded = load_pipeline_and_editor(config, edit_config)
    if loaded is None:
        return 1
    pipe, editor = loaded

    frames = count_frames(args.inputs, args.topic)
    writer = CocoWriter(out_dir / COCO_NAME, resume=not args.no_resume, categories=[])
    written = skipped = 0
    with writer, Progress(None if frames is None else frames * args.variants, "synth") as progress:
        for item in iter_frames(args.inputs, args.topic):
            keys = [f"{item.key}@v{v}" for v in range(args.variants)]
            todo = [v for v, key in enumerate(keys) if not writer.done(key)]
            skipped += len(keys) - len(todo)
            if not todo:
                progress.update(len(keys))
                continue
            if item.image is None:
                for v in todo:
                    writer.add_failure(keys[v], item.error or "unreadable")
                progress.update(len(keys))
                continue
            written += _synth_frame(pipe, editor, item, keys, todo, query, prompts, args, out_dir, writer, progress)
            progress.update(len(keys))
    coco_path = writer.path
    failed = len(writer.failures)
    print(f"{written} image(s) written, {skipped} already done, {failed} failed -> {coco_path}")
    return 1 if failed and not written and not skipped else 0


def _synth_frame(pipe, editor, item, keys, todo, query, prompts, args, out_dir, writer, progress) -> int:
    """Find the objects once, repaint them once per missing variant; images written."""
    from PIL import Image

    from grounded_sam_ros.editing.masks import NothingToEditError, select_instances
    from grounded_sam_ros.results import FrameResult

    height, width = item.image.shape[:2]
    try:
        found = pipe(item.image, query)
        chosen = select_instances(found, labels_of(args), args.index, args.top_k)
    except (NothingToEditError, ValueError) as exc:
        for v in todo:
            writer.add_failure(keys[v], str(exc))
        return 0
    # The labels: the repainted instances with their source masks
    labels = FrameResult(width, height, found.query, chosen, found.timings)
    written = 0
    for v in todo:
        prompt, seed = variant_plan(item.key, v, prompts, args.seed)
        try:
            edited = editor.edit_detections(item.image, labels, prompt, args.negative_prompt, args.mode, seed)
            file_name = f"images/{file_stem(item.key)}_v{v}.png"
            Image.fromarray(edited.image).save(out_dir / file_name)
        except Exception as exc:  # noqa: BLE001 - one bad variant must not stop the run
            writer.add_failure(keys[v], f"edit failed: {first_line(exc)}")
            continue
        writer.add(keys[v], file_name, width, height, labels)
        progress.write(f"{item.key} v{v}: {prompt!r} seed {seed} -> {file_name}")
        written += 1
    return written
