# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""CocoWriter: valid COCO for pycocotools, masks that decode back, resume without duplicates, atomic writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from grounded_sam_ros.io.coco import CocoWriter
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection, FrameResult

COCO = pytest.importorskip("pycocotools.coco").COCO
mask_utils = pytest.importorskip("pycocotools.mask")

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools

RNG = np.random.default_rng(11)
LABELS = ["cup", "person", "red car"]


def _result(height: int, width: int, count: int, with_masks: bool = True) -> FrameResult:
    """A fabricated FrameResult: random blob masks, boxes = the masks' tight boxes."""
    dets = []
    for k in range(count):
        full = np.zeros((height, width), bool)
        y0, x0 = RNG.integers(0, height - 3), RNG.integers(0, width - 3)
        full[y0 : y0 + RNG.integers(2, 6), x0 : x0 + RNG.integers(2, 8)] = True
        full &= RNG.random((height, width)) > 0.2
        full[y0, x0] = True
        crop, mx, my = crop_mask(full)
        box = np.array([mx, my, mx + crop.shape[1], my + crop.shape[0]], np.float32)
        dets.append(
            Detection(
                label=LABELS[k % 3],
                score=0.9 - 0.1 * k,
                box=box,
                mask=crop if with_masks else None,
                mask_x=mx,
                mask_y=my,
                mask_score=0.5,
            )
        )
    return FrameResult(image_width=width, image_height=height, query=" . ".join(LABELS), detections=dets)


FRAMES = [(f"/data/img{k}.png", f"img{k}.png", _result(20 + k, 30 - k, k % 4)) for k in range(7)]


def _run(path, frames, resume=True, close=True):
    writer = CocoWriter(path, resume=resume)
    for key, name, result in frames:
        if not writer.done(key):
            writer.add(key, name, result.image_width, result.image_height, result)
    if close:
        writer.close()
    return writer


def test_output_loads_in_pycocotools_and_masks_decode_back(tmp_path):
    path = tmp_path / "out" / "instances.json"
    _run(path, FRAMES)
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == list(range(1, 8))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cup", "person", "red car"]
    for image_id, (_, name, result) in enumerate(FRAMES, start=1):
        (img,) = coco.loadImgs(image_id)
        assert (img["file_name"], img["width"], img["height"]) == (name, result.image_width, result.image_height)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        assert len(anns) == len(result.detections)
        for ann, det in zip(anns, result.detections):
            full = det.full_mask(result.image_height, result.image_width)
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), full)
            assert ann["area"] == int(full.sum())
            x0, y0, x1, y1 = det.box.tolist()
            np.testing.assert_allclose(ann["bbox"], [x0, y0, x1 - x0, y1 - y0], atol=1e-3)
            assert coco.loadCats(ann["category_id"])[0]["name"] == det.label
            assert ann["score"] == pytest.approx(det.score, abs=1e-6)
    # As a detections file too (what COCOeval reads)
    results = coco.loadRes(json.loads(path.read_text())["annotations"])
    assert len(results.getAnnIds()) == sum(len(r.detections) for _, _, r in FRAMES)


def test_boxes_only_results_have_box_area(tmp_path):
    path = tmp_path / "boxes.json"
    result = _result(10, 12, 2, with_masks=False)
    with CocoWriter(path) as writer:
        writer.add("k", "a.png", 12, 10, result)
    anns = json.loads(path.read_text())["annotations"]
    assert "segmentation" not in anns[0]
    x0, y0, x1, y1 = result.detections[0].box.tolist()
    assert anns[0]["area"] == pytest.approx((x1 - x0) * (y1 - y0))


def test_interrupted_run_resumes_without_duplicates_and_matches_an_uninterrupted_run(tmp_path):
    whole = tmp_path / "whole.json"
    _run(whole, FRAMES)
    parts = tmp_path / "parts.json"
    _run(parts, FRAMES[:3], close=False)  # killed: close() never ran
    # The killed run was also writing a line when it died
    with open(parts.with_name("parts.json.journal"), "a") as journal:
        journal.write('{"key": "/data/img3.png", "file_na')
    writer = _run(parts, FRAMES[1:5], close=False)  # overlapping restart, killed again
    assert writer.resumed == 3
    writer = _run(parts, FRAMES)  # same command once more
    assert writer.resumed == 5
    assert parts.read_bytes() == whole.read_bytes()
    assert len(json.loads(parts.read_text())["images"]) == 7


def test_a_record_whose_newline_was_lost_is_kept(tmp_path):
    path = tmp_path / "n.json"
    _run(path, FRAMES[:2], close=False)
    journal = path.with_name("n.json.journal")
    journal.write_bytes(journal.read_bytes().rstrip(b"\n"))
    writer = _run(path, FRAMES[:3])
    assert writer.resumed == 2
    assert [i["file_name"] for i in json.loads(path.read_text())["images"]] == ["img0.png", "img1.png", "img2.png"]


def test_failures_are_reported_and_retried_on_resume(tmp_path):
    path = tmp_path / "f.json"
    writer = CocoWriter(path)
    writer.add_failure("/data/bad.png", "cannot read /data/bad.png")
    writer.add_failure("/data/flaky.png", "CUDA out of memory")
    writer.close()
    assert json.loads(writer.failures_path.read_text()) == [
        {"key": "/data/bad.png", "reason": "cannot read /data/bad.png"},
        {"key": "/data/flaky.png", "reason": "CUDA out of memory"},
    ]
    writer = CocoWriter(path)
    assert not writer.done("/data/flaky.png")
    writer.add("/data/flaky.png", "flaky.png", 12, 10, _result(10, 12, 1))
    writer.close()
    assert json.loads(writer.failures_path.read_text()) == [
        {"key": "/data/bad.png", "reason": "cannot read /data/bad.png"}
    ]
    assert len(json.loads(path.read_text())["images"]) == 1


def test_resume_false_starts_over(tmp_path):
    path = tmp_path / "r.json"
    _run(path, FRAMES[:2])
    writer = _run(path, FRAMES[2:3], resume=False)
    assert writer.resumed == 0
    assert [i["file_name"] for i in json.loads(path.read_text())["images"]] == ["img2.png"]


def test_final_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    _run(path, FRAMES[:2])
    before = path.read_bytes()
    writer = _run(path, FRAMES, close=False)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert path.read_bytes() == before  # the old complete file, never a half-written one
    monkeypatch.undo()
    _run(path, FRAMES)
    assert len(json.loads(path.read_text())["images"]) == 7
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_add_after_close_says_how_to_fix(tmp_path):
    writer = _run(tmp_path / "c.json", FRAMES[:1])
    with pytest.raises(RuntimeError, match="make a new one"):
        writer.add("x", "x.png", 3, 3, _result(3, 3, 0))
