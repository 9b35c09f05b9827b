# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Dataset labelling: frames in, one COCO instances JSON out. No ROS, no argparse.

The job is split so that the same code runs in this process and on Ray workers (:mod:`grounded_sam_ros.label_ray`):

- :func:`plan` (driver) lists the work: one :class:`WorkItem` per frame, with a stable key. Image files travel as
  paths (the worker decodes them); video and bag frames are decoded here and saved once under ``OUT/frames/`` (the
  dataset needs a file), and travel as arrays (as lossless PNG bytes to Ray workers).
- :class:`Labeler` (worker) loads the models once and turns one item into a plain record: the query (fixed or from
  the tagger), the tags and the pipeline's ``FrameResult.to_dict()``; optionally writes an annotated preview.
- :func:`record_to` (driver) writes a record into the resumable :class:`~grounded_sam_ros.io.coco.CocoWriter`.

COCO ``file_name`` is relative to the folder of the COCO file, so the output folder and its inputs move together.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from grounded_sam_ros.auto_query import TaggerConfig
from grounded_sam_ros.config import PipelineConfig

COCO_NAME = "instances.json"
FRAMES_DIR = "frames"
PREVIEWS_DIR = "previews"


@dataclass
class LabelSettings:
    """Everything a worker needs to label frames (plain data: it is sent to Ray workers).

    Exactly one of ``query`` (fixed phrases) and ``tagger`` (automatic query per image) is set.
    """

    pipeline: PipelineConfig
    out_dir: str
    query: str = ""
    tagger: Optional[TaggerConfig] = None
    previews: bool = False
    banner: Optional[str] = None

    def validate(self) -> "LabelSettings":
        if bool(self.query) == (self.tagger is not None):
            raise ValueError("give either a query (--query) or a tagger (--auto), not both and not neither")
        self.pipeline.validate()
        if self.tagger is not None:
            self.tagger.validate()
        return self


@dataclass
class WorkItem:
    """One frame to label: ``path`` (an image file the worker reads) or ``image`` (a decoded frame, HxWx3 uint8 RGB)."""

    key: str
    file_name: str  # relative to the output folder
    path: str = ""
    image: Optional[np.ndarray] = None
    error: str = ""


def _abs(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def frame_file(out_dir: str, source: str, topic: Optional[str], index: int) -> str:
    """Where a video or bag frame is saved, relative to ``out_dir``: ``frames/<stem>-<hash>[/<topic>]/<index>.jpg``."""
    folder = f"{Path(source.rstrip('/')).stem}-{_short_hash(_abs(source))}"
    if topic:
        folder = os.path.join(folder, topic.strip("/").replace("/", "_"))
    return os.path.join(FRAMES_DIR, folder, f"{index:06d}.jpg")


def plan(
    inputs: Sequence[str], topic: Optional[str], out_dir: str, done: Callable[[str], bool] = lambda key: False
) -> Iterator[WorkItem]:
    """Every frame of ``inputs`` as a work item, in input order (keys as :func:`grounded_sam_ros.io.sources.iter_frames`
    gives them). Video and bag frames are decoded and saved under ``out_dir/frames`` (kept when already there); a
    frame whose key is ``done`` is yielded without its image."""
    from PIL import Image

    from grounded_sam_ros.io.sources import IMAGE_EXTENSIONS, expand, iter_frames

    for path in expand(inputs):
        if os.path.isfile(path) and Path(path).suffix.lower() in IMAGE_EXTENSIONS:
            yield WorkItem(_abs(path), os.path.relpath(_abs(path), _abs(out_dir)), path=path)
            continue
        for item in iter_frames([path], topic):
            bag_topic = item.key.split("#")[1] if item.key.count("#") == 2 else None
            name = frame_file(out_dir, item.source, bag_topic, item.index)
            if item.image is None or done(item.key):
                yield WorkItem(item.key, name, error="" if item.image is not None else item.error or "unreadable")
                continue
            target = Path(out_dir) / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.tmp")
                Image.fromarray(item.image).save(tmp, format="JPEG", quality=95)
                os.replace(tmp, target)
            yield WorkItem(item.key, name, image=item.image)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless, fast PNG bytes of an HxWx3 uint8 RGB frame (how decoded frames travel to Ray workers)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.array(img.convert("RGB"), dtype=np.uint8)


def load_item_image(item: WorkItem) -> np.ndarray:
    """The item's frame as HxWx3 uint8 RGB (``ValueError``/``OSError`` when unreadable)."""
    if item.image is not None:
        return item.image
    from grounded_sam_ros.data import load_image

    return load_image(item.path)


class Labeler:
    """Models loaded once; ``labeler(item) -> record`` for each frame (runs in-process or in a Ray actor).

    A record is a dict: ``key``, ``file_name``, ``width``, ``height``, ``query``, ``tags``, ``result`` (the
    pipeline's ``FrameResult.to_dict()``, masks as RLE) and ``error`` ("" on success; then ``result`` is None).
    """

    def __init__(self, settings: LabelSettings, pipeline: Any = None, auto_query: Any = None) -> None:
        from grounded_sam_ros.pipeline import build_pipeline

        self.settings = settings.validate()
        self.pipeline = pipeline if pipeline is not None else build_pipeline(settings.pipeline)
        self.auto_query = auto_query
        if settings.tagger is not None and auto_query is None:
            from grounded_sam_ros.auto_query import build_auto_query, load_options

            options = load_options(self.pipeline.config)
            self.auto_query = build_auto_query(settings.tagger, options, self.pipeline.detector)

    def __call__(self, item: WorkItem) -> Dict[str, Any]:
        from grounded_sam_ros.results import FrameResult

        record: Dict[str, Any] = {"key": item.key, "file_name": item.file_name, "width": 0, "height": 0}
        record.update(query="", tags=[], result=None, error=item.error)
        if item.error:
            return record
        try:
            image = load_item_image(item)
        except (OSError, ValueError) as exc:
            record["error"] = str(exc) if item.path else f"{item.key}: {exc}"
            return record
        record["height"], record["width"] = (int(v) for v in image.shape[:2])
        try:
            query, tags = self.settings.query, []
            if self.auto_query is not None:
                query, tagged = self.auto_query(image)
                tags = list(tagged.tags)
            # No tag left: an image with no annotation (the detector needs at least one phrase)
            result = self.pipeline(image, query) if query else FrameResult(image.shape[1], image.shape[0], "")
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the run
            record["error"] = f"{item.key}: labelling failed: {type(exc).__name__}: {exc}"
            return record
        record.update(query=result.query, tags=tags, result=result.to_dict())
        if self.settings.previews:
            self._preview(item, image, result)
        return record

    def _preview(self, item: WorkItem, image: np.ndarray, result: Any) -> None:
        from PIL import Image

        from grounded_sam_ros.visualize import annotate

        stem = Path(item.file_name).stem
        path = Path(self.settings.out_dir) / PREVIEWS_DIR / f"{stem}-{_short_hash(item.key)}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(annotate(image, result, banner=self.settings.banner)).save(path, quality=90)


class _Exported:
    """A result already exported with ``FrameResult.to_dict()`` (what workers send back), for ``CocoWriter.add``."""

    def __init__(self, exported: dict) -> None:
        self._exported = exported

    def to_dict(self) -> dict:
        return self._exported


def record_to(writer: Any, record: Dict[str, Any]) -> bool:
    """Write one record (success or failure) into a CocoWriter; True on success."""
    if record["error"] or record["result"] is None:
        writer.add_failure(record["key"], record["error"] or "no result")
        return False
    writer.add(record["key"], record["file_name"], record["width"], record["height"], _Exported(record["result"]))
    return True


@dataclass
class LabelSummary:
    """What a run did: frames labelled now, skipped as already done (resume), failed; instances written."""

    labelled: int = 0
    resumed: int = 0
    failed: int = 0
    instances: int = 0
    coco_path: str = ""
    failures_path: str = ""
    failures: List[str] = field(default_factory=list)


def run_in_process(
    settings: LabelSettings,
    inputs: Sequence[str],
    topic: Optional[str] = None,
    resume: bool = True,
    labeler: Optional[Labeler] = None,
) -> LabelSummary:
    """Label every frame of ``inputs`` here, one at a time, into ``settings.out_dir/instances.json``."""
    labeler = labeler or Labeler(settings)
    return drive(settings, inputs, topic, resume, lambda items: map(labeler, items))


def drive(settings: LabelSettings, inputs: Sequence[str], topic, resume: bool, label_many) -> LabelSummary:
    """The driver loop shared by both runners: plan, skip what is done, label the rest with ``label_many`` (an
    iterable of work items -> records in the same order), write the COCO file and the failures report."""
    from grounded_sam_ros.io.coco import CocoWriter
    from grounded_sam_ros.io.progress import Progress
    from grounded_sam_ros.io.sources import count_frames
    from grounded_sam_ros.prompts import parse_query

    summary = LabelSummary()
    categories = parse_query(settings.query) if settings.query else []
    out = Path(settings.out_dir)
    with CocoWriter(out / COCO_NAME, resume=resume, categories=categories) as writer:
        total = count_frames(inputs, topic)
        with Progress(total, "label") as bar:

            def todo() -> Iterator[WorkItem]:
                for item in plan(inputs, topic, settings.out_dir, writer.done):
                    if writer.done(item.key):
                        summary.resumed += 1
                        bar.update()
                    else:
                        yield item

            for record in label_many(todo()):
                if record_to(writer, record):
                    summary.labelled += 1
                    summary.instances += len(record["result"]["detections"])
                else:
                    summary.failed += 1
                bar.update()
        summary.failures = [f"{k}: {r}" for k, r in writer.failures.items()]
    summary.coco_path, summary.failures_path = str(writer.path), str(writer.failures_path)
    return summary
