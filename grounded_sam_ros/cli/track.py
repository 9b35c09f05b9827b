# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam track``: follow the phrases of a query through a video or a folder of frames, with stable ids."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grounded_sam_ros.cli.common import (
    add_model_args,
    banner_for,
    config_from_args,
    err,
    first_line,
    load_pipeline,
    output_dir,
)
from grounded_sam_ros.tracking.config import DEFAULT_VIDEO_MODEL, MODES, VIDEO_FAMILIES, TrackerConfig


def register(commands) -> None:
    trk = commands.add_parser(
        "track",
        help="track the phrases of a query through a video or a folder of frames (stable ids)",
        description="Read frames from INPUT (a video file, a folder of images walked in name order, image files or "
        "globs, or a rosbag2 bag), track every phrase of the query and write OUT/json/<frame>.json (ids, labels, "
        "boxes, RLE masks, propagated, age) and OUT/annotated.mp4 (or OUT/annotated/<frame>.png with --png), each "
        "track in its own colour. Mode sam2 (default) detects every --detect-every frames and lets the SAM 2 video "
        "model carry the masks in between; mode iou detects every frame and matches by mask IoU.",
    )
    trk.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER", help="video file, folder, images, globs or a bag")
    trk.add_argument("--query", "-q", required=True, help='phrases separated by "." or ",", e.g. "red cup . person"')
    trk.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    trk.add_argument("--topic", default=None, help="image topic when reading a bag")
    defaults = TrackerConfig()
    trk.add_argument("--tracking", choices=MODES, default="sam2", help="tracking mode (default: sam2)")
    trk.add_argument("--detect-every", type=int, default=defaults.detect_every, metavar="N", help="sam2: key frames")
    trk.add_argument("--match-iou", type=float, default=defaults.match_iou, metavar="F")
    trk.add_argument("--max-age", type=int, default=defaults.max_age, metavar="N", help="frames (iou) / key frames")
    trk.add_argument("--min-hits", type=int, default=defaults.min_hits, metavar="N", help="iou: hits before an id")
    trk.add_argument("--max-tracks", type=int, default=defaults.max_tracks, metavar="N", help="sam2: live tracks")
    trk.add_argument(
        "--video-model",
        default="",
        metavar="ID|DIR",
        help="sam2: SAM 2 / EdgeTAM video model (default: --segmenter when it is a SAM 2 checkpoint, else "
        f"{DEFAULT_VIDEO_MODEL})",
    )
    trk.add_argument("--video-family", choices=VIDEO_FAMILIES, default="sam2")
    trk.add_argument(
        "--memory-frames",
        type=int,
        default=0,
        metavar="N",
        help="sam2: recent frames the video model attends to (0 = the model's own, 6; fewer = faster, lossy)",
    )
    trk.add_argument("--png", action="store_true", help="annotated PNG per frame instead of one MP4")
    trk.add_argument("--fps", type=float, default=30.0, help="frame rate of annotated.mp4 (default: 30)")
    add_model_args(trk)
    trk.set_defaults(segmenter=DEFAULT_VIDEO_MODEL)  # SAM 2.1-tiny segments the key frames by default
    trk.add_argument("--banner", default=None, metavar="TEXT", help="text across the top of annotated frames")
    trk.set_defaults(func=run)


def checkpoint_family(model: str) -> str:
    """``sam2`` / ``edgetam`` / ``sam`` (the key-frame segmenter's family) from a local checkpoint's ``config.json``
    model type (:data:`~grounded_sam_ros.models.families.MODEL_TYPES`), or from a Hub id's name."""
    from grounded_sam_ros.models.families import MODEL_TYPES

    path = Path(model).expanduser() / "config.json"
    if path.is_file():
        return MODEL_TYPES.get(str(json.loads(path.read_text()).get("model_type", "")), "sam")
    name = model.lower().replace("sam2.1", "sam2")
    return next((family for family in ("edgetam", "sam2") if family in name), "sam")


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.io.sources import count_frames, iter_frames
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
        if not getattr(args, "segmenter_family", ""):
            config = config.replace(segmenter_family=checkpoint_family(config.segmenter_model))
        video_model = args.video_model or (
            config.segmenter_model if config.segmenter_family in VIDEO_FAMILIES else DEFAULT_VIDEO_MODEL
        )
        tracking = TrackerConfig(
            mode=args.tracking,
            detect_every=args.detect_every,
            match_iou=args.match_iou,
            max_age=args.max_age,
            min_hits=args.min_hits,
            max_tracks=args.max_tracks,
            video_model=video_model,
            video_family=args.video_family,
            memory_frames=args.memory_frames,
        ).validate()
        if args.fps <= 0:
            raise ValueError(f"--fps {args.fps}: expected a positive frame rate")
    except ValueError as exc:
        err(str(exc))
        return 2
    try:
        out = output_dir(args.out, "json", *(("annotated",) if args.png else ()))
    except ValueError as exc:
        err(str(exc))
        return 2

    banner = banner_for(config, args.banner)
    pipe = load_pipeline(config)
    if pipe is None:
        return 1
    from grounded_sam_ros.tracking import build_tracker

    try:
        tracker = build_tracker(pipe, tracking)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        err(f"could not load the video model {tracking.video_model}: {exc}")
        return 1
    frames = iter_frames(args.inputs, args.topic)
    writer = _Writer(out, args.png, args.fps, banner)
    failures = 0
    from grounded_sam_ros.io.progress import Progress

    with Progress(count_frames(args.inputs, args.topic), "track", unit="frame") as progress, writer:
        for index, item in enumerate(frames):
            progress.update()
            if item.image is None:
                failures += 1
                err(f"{item.key}: skipped: {item.error}")
                continue
            stamp = item.stamp_ns / 1e9 if item.stamp_ns is not None else None
            try:
                result = tracker(item.image, query, stamp)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the stream
                failures += 1
                err(f"{item.key}: tracking failed: {first_line(exc)}")
                continue
            entry = result.to_dict(image=item.key)
            entry.update(frame=index, stamp=stamp, kind=tracker.stats.last_kind)
            try:
                (out / "json" / f"{index:06d}.json").write_text(json.dumps(entry) + "\n")
                writer.write(index, item.image, result)
            except (OSError, ValueError) as exc:
                failures += 1
                err(f"{item.key}: cannot write results: {exc}")
    stats = tracker.stats
    print(
        f"{stats.frames} frame(s), {stats.key_frames} key, {stats.ids_issued} id(s); "
        f"key {stats.mean_seconds('key'):.3f}s, propagated {stats.mean_seconds('propagated'):.3f}s, "
        f"detected {stats.mean_seconds('detected'):.3f}s per frame -> {out}"
    )
    if failures:
        err(f"{failures} frame(s) failed; see the messages above")
        return 1
    return 0


class _Writer:
    """Annotated frames, coloured per track id: one MP4 (opened on the first frame) or one PNG per frame."""

    def __init__(self, out: Path, png: bool, fps: float, banner) -> None:
        self._out, self._png, self._fps, self._banner = out, png, fps, banner
        self._video = None

    def write(self, index: int, image, result) -> None:
        from grounded_sam_ros.visualize import annotate

        drawn = annotate(image, result, banner=self._banner, color_by="id")
        if self._png:
            from PIL import Image

            Image.fromarray(drawn).save(self._out / "annotated" / f"{index:06d}.png")
            return
        if self._video is None:
            from grounded_sam_ros.io.video import VideoWriter

            self._video = VideoWriter(self._out / "annotated.mp4", self._fps)
        self._video.write(drawn)

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.close()
