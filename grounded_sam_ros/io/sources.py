# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Frames from everything a command takes as input: image files, folders, glob patterns, videos and rosbag2 bags.

Each frame is a :class:`FrameItem` with a ``key`` that is the same on every run over the same files (resume uses it):

- image file: its absolute path;
- video frame: ``<absolute path>#<frame index>``;
- bag message: ``<absolute path>#<topic>#<message index in the topic>``.

Folders are walked recursively (sorted, hidden entries skipped) for image, video and bag files by extension
(:data:`IMAGE_EXTENSIONS`, :data:`VIDEO_EXTENSIONS`, ``.db3``/``.mcap``); a rosbag2 directory (with
``metadata.yaml``) is read as one bag, not walked.
A pattern with ``*``, ``?`` or ``[`` is expanded (``**`` recursive, sorted) unless a file has that exact name.
One unreadable item gives a FrameItem with ``image=None`` and ``error`` set, and iteration goes on.
"""

from __future__ import annotations

import glob
import os
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import numpy as np

from grounded_sam_ros.io.bags import BAG_EXTENSIONS, is_bag
from grounded_sam_ros.io.video import VIDEO_EXTENSIONS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")
_GLOB_CHARS = set("*?[")


@dataclass
class FrameItem:
    """One input frame. ``image``: ``HxWx3 uint8 RGB``, or None when it could not be read (then ``error`` says why).

    ``source`` is the file (or bag) it came from as given, ``index`` its position in that source (0 for an image
    file), ``stamp_ns`` its time when the source has one (video presentation time; a bag message's header stamp, or
    its record time when the header stamp is zero), else None.
    """

    key: str
    image: Optional[np.ndarray]
    source: str
    index: int
    stamp_ns: Optional[int]
    error: Optional[str] = None


def expand(inputs: Sequence[str]) -> List[str]:
    """The files (and bag directories) that ``inputs`` name, in order: globs expanded, folders walked."""
    paths: List[str] = []
    for item in inputs:
        if not os.path.exists(item) and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            paths.extend(m for m in matches if os.path.isfile(m) or is_bag(m))
            if not matches:
                paths.append(item)  # reported as missing
        elif os.path.isdir(item) and not is_bag(item):
            paths.extend(_walk(item))
        else:
            paths.append(item)
    return paths


def _walk(folder: str) -> List[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        bags = [d for d in dirs if is_bag(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in bags)
        names = sorted(files + bags)
        for name in names:
            path = os.path.join(root, name)
            if name.startswith("."):
                continue
            if name in bags or Path(name).suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS + BAG_EXTENSIONS:
                found.append(path)
    return sorted(found)


def _kind(path: str) -> str:
    if is_bag(path):
        return "bag"
    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return "video"
    return "image"


def iter_frames(inputs: Sequence[str], topic: Optional[str] = None) -> Iterator[FrameItem]:
    """Every frame of ``inputs`` (see the module docstring); ``topic`` picks the image topic of bags (None: the bag's
    only image topic)."""
    for path in expand(inputs):
        if not os.path.exists(path):
            yield FrameItem(_abs(path), None, path, 0, None, f"{path}: no such file or directory")
            continue
        kind = _kind(path)
        if kind == "image":
            yield _image_item(path)
        elif kind == "video":
            yield from _video_items(path)
        else:
            yield from _bag_items(path, topic)


def count_frames(inputs: Sequence[str], topic: Optional[str] = None) -> Optional[int]:
    """How many items :func:`iter_frames` will yield (for progress totals); None when a video or bag does not say."""
    from grounded_sam_ros.io.bags import count_messages, open_reader, pick_image_topic
    from grounded_sam_ros.io.video import count_video_frames

    total = 0
    for path in expand(inputs):
        kind = _kind(path) if os.path.exists(path) else "image"
        if kind == "image":
            total += 1
        elif kind == "video":
            frames = count_video_frames(path)
            if frames is None:
                return None
            total += frames
        else:
            try:
                reader = open_reader(path)
            except ValueError:
                total += 1  # one error item
                continue
            with closing(reader):
                try:
                    total += count_messages(reader, pick_image_topic(reader, topic, path))
                except ValueError:
                    total += 1
    return total


def _abs(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _image_item(path: str) -> FrameItem:
    from grounded_sam_ros.data import load_image

    try:
        image, error = load_image(path), None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this item's error, not the run's
        image, error = None, f"{path}: {exc}"
    return FrameItem(_abs(path), image, path, 0, None, error)


def _video_items(path: str) -> Iterator[FrameItem]:
    from grounded_sam_ros.io.video import iter_video

    key = _abs(path)
    index = 0
    try:
        for index, stamp_s, image in iter_video(path):
            yield FrameItem(f"{key}#{index}", image, path, index, round(stamp_s * 1e9), None)
            index += 1
    except ValueError as exc:
        yield FrameItem(f"{key}#{index}", None, path, index, None, str(exc))


def _bag_items(path: str, topic: Optional[str]) -> Iterator[FrameItem]:
    from grounded_sam_ros.io.bags import iter_images, message_to_rgb, open_reader, pick_image_topic, stamp_ns

    key = _abs(path)
    try:
        reader = open_reader(path)
    except ValueError as exc:
        yield FrameItem(f"{key}#{topic or ''}#0", None, path, 0, None, str(exc))
        return
    with closing(reader):
        try:
            name = pick_image_topic(reader, topic, path)
        except ValueError as exc:
            yield FrameItem(f"{key}#{topic or ''}#0", None, path, 0, None, str(exc))
            return
        index = 0
        try:
            for item in iter_images(reader, name):
                index = item.index
                image, error, stamp = None, item.error, item.receive_ns
                if item.msg is not None:
                    stamp = stamp_ns(item.msg) or item.receive_ns
                    try:
                        image = message_to_rgb(item.msgtype, item.msg)
                    except ValueError as exc:
                        error = f"{path} {name} message {item.index}: {exc}"
                yield FrameItem(f"{key}#{name}#{item.index}", image, path, item.index, stamp, error)
                index += 1
        except ValueError as exc:
            yield FrameItem(f"{key}#{name}#{index}", None, path, index, None, f"{path}: {exc}")
