# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam label``: label a dataset (images, folders, globs, videos, rosbag2 bags) into one COCO JSON."""

from __future__ import annotations

import argparse
import sys
import time

from grounded_sam_ros.cli.common import add_model_args, banner_for, config_from_args, err, output_dir

TAGGER_CHOICES = ("ram", "ram_plus", "blip", "florence2")


def register(commands) -> None:
    lab = commands.add_parser(
        "label",
        help="label a dataset into one COCO instances JSON (boxes, RLE masks, scores)",
        description="Detect and segment every frame of INPUT (image files, folders walked recursively, glob patterns, "
        "video files, rosbag2 bags: sqlite3 .db3 or .mcap) and write OUT/instances.json (COCO instances, file_name "
        "relative to OUT), OUT/instances.failures.json (unreadable or failed frames) and, for videos and bags, the "
        "frames under OUT/frames/. Interrupted runs resume where they stopped (journal OUT/instances.json.journal).",
    )
    lab.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, globs, videos, rosbag2 bags")
    lab.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    what = lab.add_mutually_exclusive_group(required=True)
    what.add_argument("--query", "-q", help='phrases separated by "." or ",", e.g. "red cup . person"')
    what.add_argument(
        "--auto", choices=TAGGER_CHOICES, help="query each frame with what this tagger sees (RAM tags, caption nouns)"
    )
    lab.add_argument("--topic", default=None, help="image topic of the bags (default: the bag's only image topic)")
    tag = lab.add_argument_group("tagger (--auto)")
    tag.add_argument("--tagger-model", default="", metavar="ID|FILE", help="RAM .pth or captioner Hub id / dir")
    tag.add_argument("--tag-list", default="", metavar="FILE", help="RAM: the release's ram_tag_list.txt")
    tag.add_argument("--tag-thresholds", default="", metavar="FILE", help="RAM: ram_tag_list_threshold.txt")
    tag.add_argument("--tag-threshold", type=float, default=0.68, metavar="F", help="RAM: for tags without one")
    tag.add_argument("--exclude", default="", metavar="PHRASES", help='never query these, e.g. "room, floor"')
    tag.add_argument("--florence-task", default="<OD>", metavar="TASK", help="Florence-2: <OD> or <CAPTION>, ...")
    tag.add_argument("--max-tags", type=int, default=0, metavar="N", help="at most N tags per query (0 = no limit)")
    lab.add_argument("--previews", action="store_true", help="also write annotated JPEGs under OUT/previews/")
    lab.add_argument("--restart", action="store_true", help="ignore an earlier run's journal and start over")
    ray = lab.add_argument_group("Ray (scale out)")
    ray.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray Data: no ADDRESS = a local Ray instance; 'auto' = this machine's cluster; "
        "'ray://HEAD:10001' = a remote head (default: in this process, no Ray)",
    )
    ray.add_argument("--concurrency", type=int, default=1, metavar="N", help="Ray actors, each loads the models once")
    ray.add_argument("--batch-size", type=int, default=4, metavar="N", help="frames per actor call")
    ray.add_argument("--num-gpus", type=float, default=0.0, metavar="F", help="GPUs per actor (e.g. 1, or 0.5)")
    ray.add_argument("--num-cpus", type=float, default=1.0, metavar="F", help="CPU cores per actor")
    add_model_args(lab)
    lab.add_argument("--banner", default=None, metavar="TEXT", help="text across the top of every preview")
    lab.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    """The validated :class:`~grounded_sam_ros.labeling.LabelSettings` of parsed flags (``ValueError`` if bad)."""
    from grounded_sam_ros.auto_query import TaggerConfig
    from grounded_sam_ros.labeling import LabelSettings
    from grounded_sam_ros.prompts import normalize_query

    config = config_from_args(args)
    tagger = None
    if args.auto:
        tagger = TaggerConfig(
            family=args.auto,
            model=args.tagger_model,
            tag_list=args.tag_list,
            tag_thresholds=args.tag_thresholds,
            threshold=args.tag_threshold,
            exclude=args.exclude,
            max_tags=args.max_tags,
            task=args.florence_task,
        )
    query = normalize_query(args.query) if args.query else ""
    return LabelSettings(config, args.out, query, tagger, args.previews).validate()


def run(args: argparse.Namespace) -> int:

    try:
        settings = settings_from_args(args)
        output_dir(args.out)
    except (ValueError, OSError) as exc:
        err(str(exc))
        return 2
    settings.banner = banner_for(settings.pipeline, args.banner) if args.previews else None
    start = time.perf_counter()
    try:
        if args.ray is None:
            from grounded_sam_ros.labeling import run_in_process

            summary = run_in_process(settings, args.inputs, args.topic, resume=not args.restart)
        else:
            from grounded_sam_ros.label_ray import run_on_ray

            summary = run_on_ray(
                settings,
                args.inputs,
                args.topic,
                resume=not args.restart,
                address=args.ray,
                concurrency=args.concurrency,
                batch_size=args.batch_size,
                num_gpus=args.num_gpus,
                num_cpus=args.num_cpus,
            )
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        err(f"could not label: {exc}")
        return 1
    elapsed = time.perf_counter() - start
    print(
        f"labelled {summary.labelled} frame(s) ({summary.instances} instances) in {elapsed:.1f}s, "
        f"{summary.resumed} already done, {summary.failed} failed -> {summary.coco_path}"
    )
    if summary.failures:
        for line in summary.failures[:5]:
            print(f"  failed: {line}", file=sys.stderr)
        more = len(summary.failures) - 5
        print(f"  {'... ' + str(more) + ' more, ' if more > 0 else ''}all in {summary.failures_path}", file=sys.stderr)
    return 0
