# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What several subcommands share: the model and device flags, the config they make, loading with a banner."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, TextIO

from grounded_sam_ros.config import BACKENDS, DEVICES_HELP, DTYPES, SHAPE_BUCKETS, PipelineConfig

PROG = "grounded-sam"


def version() -> str:
    """The package version (``grounded_sam_ros.__version__``, the one setup.py installs)."""
    import grounded_sam_ros

    return getattr(grounded_sam_ros, "__version__", "unknown")


def err(message: str, stream: Optional[TextIO] = None) -> None:
    """One ``grounded-sam: error: ...`` line on stderr."""
    print(f"{PROG}: error: {message}", file=stream or sys.stderr, flush=True)


def output_dir(path: str, *subdirs: str) -> Path:
    """``path`` and ``path/<sub>`` for each of ``subdirs``, created when missing; ``ValueError`` naming the folder
    and the reason when that fails."""
    out = Path(path)
    try:
        for sub in ("", *subdirs):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {out}: {exc}") from None
    return out


def unique_stem(path: Path, used: set) -> str:
    """``path``'s stem, suffixed ``_2``, ``_3``... when an earlier input already took it (a/x.jpg, b/x.png); recorded
    in ``used``."""
    stem, n = path.stem, 2
    while stem in used:
        stem, n = f"{path.stem}_{n}", n + 1
    used.add(stem)
    return stem


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """The model, threshold, device and loading flags of every command that runs the pipeline."""
    defaults = PipelineConfig()
    parser.add_argument(
        "--detector",
        default=defaults.detector_model,
        metavar="ID|DIR",
        help=f"detector Hub id, local directory or original .pth file (default: {defaults.detector_model})",
    )
    parser.add_argument(
        "--segmenter",
        default=defaults.segmenter_model,
        metavar="ID|DIR",
        help=f"segmenter Hub id, local directory or original .pth file (default: {defaults.segmenter_model})",
    )
    parser.add_argument(
        "--one-stage",
        default="",
        metavar="ID|DIR",
        help="a one-stage model (text -> boxes and masks, e.g. facebook/sam3) replacing --detector and --segmenter",
    )
    for kind in ("detector", "segmenter", "one-stage"):
        parser.add_argument(
            f"--{kind}-family",
            default="",
            metavar="FAMILY",
            help=f"{kind} family (default: read from the checkpoint's config.json; `{PROG} models` lists them)",
        )
    parser.add_argument("--box-threshold", type=float, default=defaults.box_threshold, metavar="F")
    parser.add_argument("--text-threshold", type=float, default=defaults.text_threshold, metavar="F")
    parser.add_argument(
        "--nms-iou",
        type=float,
        default=defaults.nms_iou,
        metavar="F",
        help="suppress a box overlapping a better-scoring one (any label) above this IoU (1.0 = off)",
    )
    parser.add_argument("--max-detections", type=int, default=defaults.max_detections, metavar="N", help="0 = no limit")
    parser.add_argument("--multimask", action="store_true", help="let SAM pick the best of 3 masks per box")
    parser.add_argument("--boxes-only", action="store_true", help="skip SAM: boxes and labels, no masks")
    parser.add_argument("--device", default=defaults.device, help=f"{DEVICES_HELP} (default: {defaults.device})")
    parser.add_argument("--dtype", default=defaults.dtype, choices=DTYPES, help=f"default: {defaults.dtype}")
    parser.add_argument(
        "--local-files-only",
        action="store_true",
        help="never contact the Hub; load from local directories or the cache only (same as HF_HUB_OFFLINE=1)",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow pytorch_model.bin checkpoints (loaded with weights_only=True); safetensors only by default",
    )
    parser.add_argument("--cache-dir", default="", metavar="DIR", help="Hugging Face cache (default: ~/.cache/...)")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the heavy layers; cached, so only the first run per model/dtype/size compiles "
        "(see `grounded-sam warmup`)",
    )
    parser.add_argument(
        "--compile-cache-dir", default="", metavar="DIR", help="default: ~/.cache/grounded_sam_ros/compile"
    )
    parser.add_argument("--backend", default=defaults.backend, choices=BACKENDS, help=f"default: {defaults.backend}")
    parser.add_argument(
        "--shape-buckets",
        default=defaults.shape_buckets,
        choices=SHAPE_BUCKETS,
        help="compile/openvino: pad the detector input to size buckets (on) or one graph per exact size (off: "
        "outputs equal eager's); auto = off in float32 (default: auto)",
    )
    parser.add_argument(
        "--detector-max-size",
        type=int,
        default=defaults.detector_max_size,
        metavar="PX",
        help="detector input short side (0 = the model's own, 800); smaller is faster, small objects suffer",
    )
    parser.add_argument(
        "--preprocess",
        default=defaults.preprocess,
        choices=("auto", "host", "device"),
        help="resize/normalise on the host (official processors) or the device; auto: device with CUDA + half "
        "precision",
    )


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The validated :class:`PipelineConfig` of parsed pipeline flags (``ValueError`` when a value is bad)."""
    return PipelineConfig(
        detector_model=args.detector,
        segmenter_model=args.segmenter,
        one_stage_model=args.one_stage,
        detector_family=args.detector_family,
        segmenter_family=args.segmenter_family,
        one_stage_family=args.one_stage_family,
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
        compile=args.compile,
        compile_cache_dir=args.compile_cache_dir,
        backend=args.backend,
        detector_max_size=args.detector_max_size,
        preprocess=args.preprocess,
        shape_buckets=args.shape_buckets,
    ).validate()


def banner_for(config: PipelineConfig, banner: Optional[str]) -> Optional[str]:
    """``banner`` unless it is None; then a warning banner (and a stderr line) when a model has random weights."""
    if banner is not None or not has_random_weights(config):
        return banner
    from grounded_sam_ros.visualize import RANDOM_WEIGHTS_BANNER

    print(
        f"warning: {config.detector_model} / {config.segmenter_model} have random weights: results are "
        "meaningless (run `grounded-sam download` on a machine with internet for real models)",
        file=sys.stderr,
    )
    return RANDOM_WEIGHTS_BANNER


def has_random_weights(config: PipelineConfig) -> bool:
    """True when a model is a local directory of tiny random weights (built by grounded_sam_ros.models.tiny)."""
    from grounded_sam_ros.models.tiny import has_random_weights as marked

    models = (config.one_stage_model,) if config.one_stage_model else (config.detector_model, config.segmenter_model)
    return any(marked(model) for model in models)


def load_pipeline(config: PipelineConfig):
    """Build the pipeline once and say so; ``None`` (after one error line) when the models cannot load."""
    from grounded_sam_ros.pipeline import build_pipeline

    start = time.perf_counter()
    try:
        pipe = build_pipeline(config)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        err(f"could not load the models: {exc}")
        return None
    if config.one_stage_model:
        models = f"{config.one_stage_model} (one-stage)"
    else:
        models = f"{config.detector_model} + {config.segmenter_model if config.segment else 'no segmenter'}"
    print(f"loaded {models} on {pipe.config.device} in {time.perf_counter() - start:.1f}s")
    return pipe
