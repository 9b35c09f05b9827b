# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A COCO instances JSON written from pipeline results, resumable after an interruption.

Every ``add``/``add_failure`` appends one line to ``<path>.journal`` (JSON lines, flushed) before returning; a new
writer on the same path with ``resume=True`` reads that journal back, so ``done(key)`` skips what a killed run
already finished and nothing is counted twice. ``close()`` builds the JSON from the journal (images and annotations
in the order they were first added, so a resumed run gives the same file as an uninterrupted one) and writes it
atomically (temporary file + rename), plus ``<stem>.failures.json`` (``[{"key", "reason"}]``). The journal is kept
after ``close()``: running the same command again finds everything done and rewrites the same file; ``resume=False``
starts from scratch.

COCO fields: ``images`` (``id`` from 1, ``file_name``, ``width``, ``height``), ``categories`` (``id`` from 1 in
order of first appearance, after any names given up front; ``name`` = the query phrase), ``annotations`` (``id``,
``image_id``, ``category_id``, ``bbox`` XYWH pixels, ``area`` = mask pixels (box area without masks),
``segmentation`` = uncompressed COCO RLE of the full-size mask, ``iscrowd`` 0, ``score``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from grounded_sam_ros.results import FrameResult


class CocoWriter:
    """Collects results per frame ``key`` (a :class:`~grounded_sam_ros.io.sources.FrameItem` key) into ``path``."""

    def __init__(self, path: str | Path, resume: bool = True, categories: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.failures_path = self.path.with_name(self.path.stem + ".failures.json")
        self._categories = list(dict.fromkeys(categories))
        self._entries: Dict[str, dict] = {}  # key -> journal record of a success, in first-added order
        self._failures: Dict[str, str] = {}  # key -> reason, for keys with no success
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.journal_path.exists():
            self._replay()
        elif self.journal_path.exists():
            self.journal_path.unlink()
        self._journal = open(self.journal_path, "a", encoding="utf-8")
        self.resumed = len(self._entries)

    def _replay(self) -> None:
        data = self.journal_path.read_bytes()
        good = 0  # bytes of complete records
        for line in data.split(b"\n"):
            try:
                record = json.loads(line)
            except ValueError:
                break  # the line a killed run was writing: drop it and everything after
            self._apply(record)
            good = min(good + len(line) + 1, len(data))
        # Cut a torn last line, and end on a newline so the next record starts on a line of its own
        with open(self.journal_path, "r+b") as journal:
            journal.truncate(good)
            if good and not data[:good].endswith(b"\n"):
                journal.seek(good)
                journal.write(b"\n")

    def _apply(self, record: dict) -> None:
        key = record["key"]
        if "failure" in record:
            if key not in self._entries:
                self._failures[key] = record["failure"]
        elif key not in self._entries:
            self._entries[key] = record
            self._failures.pop(key, None)

    def _append(self, record: dict) -> None:
        if self._journal is None:
            raise RuntimeError(f"CocoWriter for {self.path} is closed: make a new one to add more")
        self._journal.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._journal.flush()
        self._apply(record)

    def done(self, key: str) -> bool:
        """True when ``key`` already has a result (failures are retried)."""
        return key in self._entries

    def add(self, key: str, file_name: str, width: int, height: int, result: FrameResult) -> bool:
        """Record the result of frame ``key``; False (and nothing written) when ``key`` is already done."""
        if self.done(key):
            return False
        detections = result.to_dict()["detections"]
        self._append(
            {"key": key, "file_name": file_name, "width": int(width), "height": int(height), "detections": detections}
        )
        return True

    def add_failure(self, key: str, reason: str) -> None:
        """Record that frame ``key`` failed (reported in the failures file unless a later run succeeds)."""
        if not self.done(key):
            self._append({"key": key, "failure": str(reason)})

    @property
    def failures(self) -> Dict[str, str]:
        return dict(self._failures)

    def coco(self) -> dict:
        """The COCO instances dict of everything added so far."""
        categories = list(self._categories)
        images: List[dict] = []
        annotations: List[dict] = []
        for image_id, record in enumerate(self._entries.values(), start=1):
            images.append(
                {"id": image_id, "file_name": record["file_name"], "width": record["width"], "height": record["height"]}
            )
            for det in record["detections"]:
                if det["label"] not in categories:
                    categories.append(det["label"])
                x0, y0, x1, y1 = det["box"]
                bbox = [x0, y0, round(x1 - x0, 3), round(y1 - y0, 3)]
                ann = {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": categories.index(det["label"]) + 1,
                    "bbox": bbox,
                    "iscrowd": 0,
                    "score": det["score"],
                }
                if "mask" in det:
                    ann["segmentation"] = det["mask"]
                    ann["area"] = int(sum(det["mask"]["counts"][1::2]))
                else:
                    ann["area"] = round(bbox[2] * bbox[3], 3)
                annotations.append(ann)
        return {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": i, "name": name} for i, name in enumerate(categories, start=1)],
        }

    def close(self) -> Path:
        """Write the COCO JSON and the failures report atomically; the JSON's path. Safe to call twice."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        _write_atomic(self.path, json.dumps(self.coco(), separators=(",", ":")))
        failures = [{"key": k, "reason": r} for k, r in self._failures.items()]
        _write_atomic(self.failures_path, json.dumps(failures, indent=1))
        return self.path

    def __enter__(self) -> "CocoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load_failures(path: str | Path) -> Optional[List[dict]]:
    """The failures report next to a COCO file written by :class:`CocoWriter` (None when there is none)."""
    path = Path(path)
    report = path.with_name(path.stem + ".failures.json")
    return json.loads(report.read_text()) if report.exists() else None
