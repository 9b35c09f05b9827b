# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam warmup``: fill the compile (or OpenVINO) cache ahead of time, e.g. while building a robot image.

    grounded-sam warmup --size 640x480 --size 1280x720 --dtype auto

Runs one frame of each size through the pipeline with ``--compile`` (or ``--backend openvino``), so that the node and
the CLI started later with the same models, dtype, device and options load the cached artefacts instead of
compiling. Prints, per size, the detector's input bucket, whether the cache already had it, and the times.
"""

from __future__ import annotations

import argparse
import time
from typing import Tuple

from grounded_sam_ros.cli.common import add_model_args, config_from_args, err, load_pipeline


def _size(text: str) -> Tuple[int, int]:
    """'640x480' -> (640, 480) (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return width, height


def register(commands) -> None:
    parser = commands.add_parser(
        "warmup",
        help="compile and cache the models ahead of time (torch.compile or OpenVINO)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--size",
        type=_size,
        action="append",
        metavar="WxH",
        help="camera frame size to prepare (repeatable; default: 640x480)",
    )
    parser.add_argument("--query", "-q", default="object", help="query of the warm-up frames (default: object)")
    add_model_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    try:
        config = config_from_args(args)
        if config.backend == "torch":
            config = config.replace(compile=True)
        # Every frame keeps one box, so that the segmenter runs (and is compiled) too
        config = config.replace(box_threshold=0.0, text_threshold=0.0, max_detections=1)
    except ValueError as exc:
        err(str(exc))
        return 2
    started = time.perf_counter()
    pipe = load_pipeline(config)
    if pipe is None:
        return 1
    rng = np.random.default_rng(0)
    for width, height in args.size or [(640, 480)]:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        start = time.perf_counter()
        try:
            pipe(image, args.query)
        except (ValueError, RuntimeError) as exc:
            err(f"{width}x{height}: {exc}")
            return 1
        first = time.perf_counter() - start
        start = time.perf_counter()
        pipe(image, args.query)
        again = time.perf_counter() - start
        states = []
        for adapter in (pipe.detector, pipe.segmenter):
            runner = getattr(adapter, "compiled", None) or getattr(adapter, "openvino", None)
            status = getattr(runner, "status", None)
            if status:
                states.append(", ".join(f"{adapter.family} {'x'.join(map(str, s))}: {v}" for s, v in status.items()))
        print(f"{width}x{height}: first frame {first:.1f}s, next {again:.2f}s; {'; '.join(states) or config.backend}")
    print(f"warm-up done in {time.perf_counter() - started:.1f}s")
    return 0
