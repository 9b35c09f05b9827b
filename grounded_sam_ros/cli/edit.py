# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam edit``: find objects by text, repaint them with a diffusion inpainting model."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

from grounded_sam_ros.cli.common import add_model_args, config_from_args, err, first_line, load_pipeline, output_dir
from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.editing.config import EDIT_DTYPES, MODES, EditConfig


def register(commands) -> None:
    edit = commands.add_parser(
        "edit",
        help="find objects by text and repaint them (replace or remove) with Stable Diffusion inpainting",
        description="Find the phrases of --query in IMAGE (Grounding DINO + SAM), then repaint the chosen instances "
        "with a diffusion inpainting model. Writes OUT/<stem>_edited.png, OUT/<stem>_mask.png (the blend weight "
        "actually used: chosen masks, dilated and feathered), OUT/<stem>_before_after.png and OUT/<stem>_edit.json.",
    )
    edit.add_argument("image", metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    edit.add_argument("--query", "-q", required=True, help='what to find, e.g. "bench" or "red cup . person"')
    edit.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    edit.add_argument("--prompt", "-p", default="", help="what to paint (needed for --mode replace)")
    add_edit_args(edit)
    add_instance_args(edit)
    add_model_args(edit)
    edit.set_defaults(func=run)


def add_edit_args(parser: argparse.ArgumentParser, defaults: Optional[EditConfig] = None) -> None:
    """The inpainting model and edit flags shared by ``edit`` and ``synth``."""
    d = defaults or EditConfig()
    parser.add_argument("--negative-prompt", default="", help="what not to paint")
    parser.add_argument("--mode", default="replace", choices=MODES, help="replace (with --prompt) or remove")
    parser.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same image")
    parser.add_argument(
        "--inpainter", default=d.model, metavar="ID|DIR", help=f"diffusers inpainting pipeline (default: {d.model})"
    )
    parser.add_argument("--inpainter-dtype", default=d.dtype, choices=EDIT_DTYPES, help="auto: fp16 on CUDA, else fp32")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"denoising steps (default: {d.steps})")
    parser.add_argument("--guidance", type=float, default=d.guidance, help=f"CFG scale (default: {d.guidance})")
    parser.add_argument(
        "--strength", type=float, default=d.strength, help="denoising strength (default: 1 replace, 0.85 remove)"
    )
    parser.add_argument("--dilate", type=int, default=d.dilate, metavar="PX", help=f"grow masks (default: {d.dilate})")
    parser.add_argument(
        "--feather", type=int, default=d.feather, metavar="PX", help=f"blend ramp width (default: {d.feather})"
    )
    parser.add_argument("--no-crop", action="store_true", help="repaint the whole frame instead of a crop around it")
    parser.add_argument("--crop-padding", type=int, default=d.crop_padding, metavar="PX", help="context around masks")
    parser.add_argument("--resolution", type=int, default=d.resolution, metavar="PX", help="0 = the model's own")


def add_instance_args(parser: argparse.ArgumentParser) -> None:
    """Which of the found instances to repaint."""
    parser.add_argument("--labels", default="", metavar="A,B", help="only instances with these labels")
    parser.add_argument("--index", type=int, action="append", metavar="I", help="only instance I (0 = best score)")
    parser.add_argument("--top-k", type=int, default=0, metavar="K", help="only the K best instances (0 = all)")


def edit_config_from_args(args: argparse.Namespace) -> EditConfig:
    """The validated :class:`EditConfig` of parsed edit flags (``ValueError`` when a value is bad)."""
    return EditConfig(
        model=args.inpainter,
        device=args.device,
        dtype=args.inpainter_dtype,
        local_files_only=args.local_files_only,
        allow_pickle=args.allow_pickle,
        cache_dir=args.cache_dir,
        steps=args.steps,
        guidance=args.guidance,
        strength=args.strength,
        dilate=args.dilate,
        feather=args.feather,
        crop=not args.no_crop,
        crop_padding=args.crop_padding,
        resolution=args.resolution,
    ).validate()


def load_pipeline_and_editor(config: PipelineConfig, edit_config: EditConfig):
    """The Grounded-SAM pipeline and the inpainting editor on its device, each loaded once and reported; ``None``
    (after one error line) when either cannot load."""
    pipe = load_pipeline(config)
    if pipe is None:
        return None
    editor = load_editor_or_report(edit_config, pipe.config.device)
    return None if editor is None else (pipe, editor)


def load_editor_or_report(config: EditConfig, device: str):
    """Load the inpainting model and say so; ``None`` (after one error line) when it cannot load."""
    from grounded_sam_ros.editing.editor import load_editor
    from grounded_sam_ros.models.tiny import has_random_weights

    start = time.perf_counter()
    try:
        editor = load_editor(config, device)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        err(f"could not load the inpainting model: {exc}")
        return None
    print(f"loaded {config.model} on {device} in {time.perf_counter() - start:.1f}s", flush=True)
    if has_random_weights(config.model):
        print(f"warning: {config.model} has random weights: the repainted pixels are noise", file=sys.stderr)
    return editor


def labels_of(args: argparse.Namespace) -> list[str]:
    return [label.strip() for label in args.labels.split(",") if label.strip()]


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.data import load_image
    from grounded_sam_ros.editing.masks import NothingToEditError
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
        edit_config = edit_config_from_args(args)
        if args.mode == "replace" and not args.prompt.strip():
            raise ValueError("--mode replace needs --prompt saying what to paint (or use --mode remove)")
        image = load_image(args.image)
        out_dir = output_dir(args.out)
    except (ValueError, OSError) as exc:
        err(str(exc))
        return 2

    loaded = load_pipeline_and_editor(config, edit_config)
    if loaded is None:
        return 1
    pipe, editor = loaded

    from grounded_sam_ros.editing.editor import edit_query

    start = time.perf_counter()
    try:
        result = edit_query(
            pipe,
            editor,
            image,
            query,
            prompt=args.prompt,
            negative_prompt=args.negative_prompt,
            mode=args.mode,
            seed=args.seed,
            labels=labels_of(args),
            indices=args.index,
            top_k=args.top_k,
        )
    except NothingToEditError as exc:
        err(f"{args.image}: {exc}")
        return 1
    except Exception as exc:  # noqa: BLE001 - report the model's failure in one line
        err(f"{args.image}: edit failed: {first_line(exc)}")
        return 1
    paths = write_edit(out_dir, Path(args.image).stem, image, result, {"image": str(args.image), "query": query})
    used = ", ".join(f"{d.label} {d.score:.2f}" for d in result.detections)
    print(f"{args.image}: {args.mode} [{used}] in {time.perf_counter() - start:.1f}s -> {', '.join(paths)}")
    return 0


def before_after(before: np.ndarray, after: np.ndarray, gap: int = 8) -> np.ndarray:
    """``before`` and ``after`` (HxWx3 uint8 RGB) side by side with a white ``gap``: Hx(2W+gap)x3 uint8 RGB."""
    height = before.shape[0]
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    return np.concatenate([before, spacer, after], axis=1)


def write_edit(out_dir: Path, stem: str, image: np.ndarray, result, info: dict) -> list[str]:
    """Write the edited image, the mask used, the before/after strip and a JSON summary; their file names."""
    from PIL import Image

    names = [f"{stem}_edited.png", f"{stem}_mask.png", f"{stem}_before_after.png", f"{stem}_edit.json"]
    Image.fromarray(result.image).save(out_dir / names[0])
    Image.fromarray(np.rint(result.weight * 255).astype(np.uint8)).save(out_dir / names[1])
    Image.fromarray(before_after(image, result.image)).save(out_dir / names[2])
    region = result.region
    summary = {
        **info,
        "mode": result.mode,
        "prompt": result.prompt,
        "negative_prompt": result.negative_prompt,
        "seed": result.seed,
        "region": [region.x0, region.y0, region.x1, region.y1],
        "model_size": [region.model_width, region.model_height],
        "instances": [{"id": d.id, "label": d.label, "score": round(d.score, 4)} for d in result.detections],
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
    }
    (out_dir / names[3]).write_text(json.dumps(summary, indent=2) + "\n")
    return names
