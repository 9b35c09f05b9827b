# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ``grounded-sam`` command. No ROS here.

Each subcommand is one module of this package with ``register(commands)`` (adds its parser and sets ``func``);
adding a command is one module plus one line in :data:`COMMANDS`.

grounded-sam segment photo.jpg other.png --query "red cup . person" --out results/
grounded-sam label photos/ run.mcap --query "cup . person" --out dataset/   # one COCO JSON, resumable
grounded-sam download                      # the two default models, into the Hugging Face cache
grounded-sam bag in.mcap --topic /cam/image_raw --query "person" --out out.mcap
grounded-sam mesh photo.jpg --mesh-model osx_l_wo_decoder.pth.tar --smplx-model SMPLX_NEUTRAL.npz --out meshes/
grounded-sam download --family owlv2       # a family's default model
grounded-sam models                        # families, default ids, sizes, licences, what is cached
grounded-sam track video.mp4 --query "red cup . person" --out tracks/
grounded-sam warmup --size 640x480          # compile and cache ahead of time (for --compile / the node's compile)
grounded-sam --version
"""

from __future__ import annotations

import argparse
import importlib

from grounded_sam_ros.cli.common import PROG, config_from_args, err, version

# Subcommand modules, in the order `grounded-sam --help` lists them
COMMANDS = (
    "grounded_sam_ros.cli.segment",
    "grounded_sam_ros.cli.label",
    "grounded_sam_ros.cli.download",
    "grounded_sam_ros.cli.bag",
    "grounded_sam_ros.cli.mesh",
    "grounded_sam_ros.cli.edit",
    "grounded_sam_ros.cli.synth",
    "grounded_sam_ros.cli.models",
    "grounded_sam_ros.cli.track",
    "grounded_sam_ros.cli.warmup",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Open-vocabulary instance segmentation: Grounding DINO boxes from a text query, SAM masks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``grounded-sam`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        err("interrupted")
        return 130


__all__ = ["COMMANDS", "PROG", "build_parser", "config_from_args", "main"]
