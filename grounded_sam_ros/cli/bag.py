# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam bag``: replay a recorded image topic through the pipeline into a new bag with the detections."""

from __future__ import annotations

import argparse
import sys

from grounded_sam_ros.cli.common import add_model_args, banner_for, config_from_args, err, load_pipeline


def register(commands) -> None:
    bag = commands.add_parser(
        "bag",
        help="replay a recorded image topic through the pipeline into a new bag with the detections",
        description="Read INPUT (a rosbag2 directory, .db3 or .mcap), run the query on every frame of the image "
        "topic (sensor_msgs/Image in any supported encoding, or CompressedImage) and write OUT with every input "
        "message plus <topic>/detections (grounded_sam_ros/DetectionArray), <topic>/detections_2d "
        "(vision_msgs/Detection2DArray, when vision_msgs is installed) and, with --annotated, <topic>/annotated "
        "(rgb8). Header stamps and record times are the frames'. OUT is written under a temporary name and renamed "
        "when complete, so an interrupted run leaves nothing behind. Pure Python: no ROS install needed.",
    )
    bag.add_argument("input", metavar="INPUT", help="rosbag2 directory, or a .db3 / .mcap file")
    bag.add_argument("--topic", "-t", default=None, help="image topic (default: the bag's only image topic)")
    bag.add_argument("--query", "-q", required=True, help='phrases separated by "." or ",", e.g. "red cup . person"')
    bag.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="OUT",
        help="OUT.mcap or OUT.db3 for one storage file; any other name makes a rosbag2 directory (see --storage)",
    )
    bag.add_argument("--storage", choices=("mcap", "sqlite3"), default=None, help="for a directory OUT (default mcap)")
    bag.add_argument("--annotated", action="store_true", help="also write <topic>/annotated images")
    bag.add_argument("--overwrite", action="store_true", help="replace OUT when it exists")
    add_model_args(bag)
    bag.add_argument(
        "--banner",
        default=None,
        metavar="TEXT",
        help="text across the top of annotated images (default: a warning with random-weight models, else none)",
    )
    bag.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from grounded_sam_ros.io import bags
    from grounded_sam_ros.prompts import normalize_query
    from grounded_sam_ros.replay import replay

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
        bags.storage_for(args.out, args.storage)
        if Path(args.out).exists() and not args.overwrite:
            raise ValueError(f"{args.out} exists: choose another name or pass --overwrite")
        bags.open_reader(args.input).close()
    except ValueError as exc:
        err(str(exc))
        return 2
    banner = banner_for(config, args.banner) if args.annotated else None
    pipe = load_pipeline(config)
    if pipe is None:
        return 1
    try:
        stats = replay(
            pipe,
            args.input,
            query,
            args.out,
            topic=args.topic,
            annotated=args.annotated,
            storage=args.storage,
            overwrite=args.overwrite,
            banner=banner,
            report=lambda line: err(line),
        )
    except (ValueError, OSError) as exc:
        err(str(exc))
        return 1
    print(
        f"{args.input} {stats.topic}: {stats.processed}/{stats.frames} frame(s), {stats.detections} detection(s), "
        f"{stats.copied} message(s) copied -> {stats.output} (+ {', '.join(stats.topics_written)})",
        file=sys.stdout,
        flush=True,
    )
    if stats.failures:
        err(f"{len(stats.failures)} of {stats.frames} frame(s) failed; see the messages above")
        return 1
    return 0
