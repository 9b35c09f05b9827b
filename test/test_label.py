# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam label``: folders, videos and bags (both storages) -> one COCO file that pycocotools loads, masks
equal to the pipeline's own, a corrupt image reported and skipped, a killed run resumed to the same file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bag_helpers import frames, png_image, raw_image, write_bag
from PIL import Image

from grounded_sam_ros import cli

REPO = Path(__file__).resolve().parent.parent
QUERY = "cup . person . cat"


def model_args(tiny_models) -> list:
    detector, segmenter = tiny_models
    return [
        "--detector",
        str(detector),
        "--segmenter",
        str(segmenter),
        "--box-threshold",
        "0.3",
        "--text-threshold",
        "0.2",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--local-files-only",
    ]


def _folder(root: Path, count: int = 3, corrupt: bool = True) -> Path:
    folder = root / "images"
    (folder / "sub").mkdir(parents=True)
    for k, rgb in enumerate(frames(count, 40, 56, seed=3)):
        Image.fromarray(rgb).save(folder / ("sub" if k % 2 else "") / f"im{k:02d}.png")
    if corrupt:
        (folder / "sub" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def _bag(root: Path, storage: str) -> tuple:
    """A bag with one image topic (so no --topic is needed): two compressed frames in mcap, one raw in sqlite3."""
    if storage == "mcap":
        rgbs = frames(2, 36, 48, seed=11)
        msgs = [(100 + k, png_image(rgb, (k + 1) * 10**9)) for k, rgb in enumerate(rgbs)]
        typed = [("/cam/png", "sensor_msgs/msg/CompressedImage", msgs)]
    else:
        rgbs = frames(1, 36, 48, seed=12)
        typed = [("/cam/raw", "sensor_msgs/msg/Image", [(100, raw_image(rgbs[0], 10**9))])]
    return write_bag(root / f"bag_{storage}", storage, typed), rgbs


def _decode(segmentation: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode(mask_utils.frPyObjects(segmentation, *segmentation["size"])).astype(bool)


def test_folder_and_bags_label_into_one_coco_file(tmp_path, tiny_models, tiny_pipeline, capsys):
    from pycocotools.coco import COCO

    folder = _folder(tmp_path, count=2)
    (sqlite_bag, sqlite_rgbs), (mcap_bag, mcap_rgbs) = _bag(tmp_path, "sqlite3"), _bag(tmp_path, "mcap")
    out = tmp_path / "out"
    argv = ["label", str(folder), str(sqlite_bag), str(mcap_bag), "--out", str(out), "--query", QUERY, "--previews"]
    assert cli.main(argv + model_args(tiny_models)) == 0
    assert "1 failed" in capsys.readouterr().out

    coco = COCO(str(out / "instances.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cup", "person", "cat"]
    assert len(coco.imgs) == 2 + 1 + 2
    assert len(coco.anns) > 0
    results = coco.loadRes(json.loads((out / "instances.json").read_text())["annotations"])
    assert len(results.anns) == len(coco.anns)
    failures = json.loads((out / "instances.failures.json").read_text())
    assert [f["key"] for f in failures] == [str(folder / "sub" / "broken.jpg")]

    # Every image's annotations are the pipeline's own detections on that image
    bag_frames = {0: None}
    for image_id, info in coco.imgs.items():
        path = (out / info["file_name"]).resolve()
        assert path.is_file(), info["file_name"]
        if "frames" in info["file_name"]:  # bag frames: saved as JPEG, labelled from the decoded message
            index = int(path.stem)
            rgb = (mcap_rgbs if "bag_mcap" in info["file_name"] else sqlite_rgbs)[index]
            bag_frames[0] = 1
        else:
            rgb = np.array(Image.open(path).convert("RGB"))
        expected = tiny_pipeline(rgb, QUERY)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert (info["width"], info["height"]) == (rgb.shape[1], rgb.shape[0])
        assert len(anns) == len(expected.detections)
        for ann, det in zip(anns, expected.detections):
            assert coco.cats[ann["category_id"]]["name"] == det.label
            assert ann["score"] == pytest.approx(det.score, abs=1e-5)
            x0, y0, x1, y1 = det.box
            np.testing.assert_allclose(ann["bbox"], [x0, y0, x1 - x0, y1 - y0], atol=2e-3)
            mask = det.full_mask(rgb.shape[0], rgb.shape[1])
            np.testing.assert_array_equal(_decode(ann["segmentation"]), mask)
            assert ann["area"] == int(mask.sum()) and ann["iscrowd"] == 0
    assert bag_frames[0] == 1
    assert len(list((out / "previews").glob("*.jpg"))) == 5


def test_video_frames_are_saved_and_labelled(tmp_path, tiny_models):
    from grounded_sam_ros.io.video import VideoWriter

    video = tmp_path / "clip.mp4"
    with VideoWriter(video, fps=5, lossless=True) as writer:
        for rgb in frames(2, 32, 48, seed=5):
            writer.write(rgb)
    out = tmp_path / "out"
    argv = ["label", str(video), "--out", str(out), "--query", "cup", "--boxes-only"]
    assert cli.main(argv + model_args(tiny_models)) == 0
    coco = json.loads((out / "instances.json").read_text())
    names = [img["file_name"] for img in coco["images"]]
    assert [Path(n).name for n in names] == ["000000.jpg", "000001.jpg"]
    assert all((out / n).is_file() for n in names)


def _journal_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_killed_and_restarted_run_gives_the_same_file(tmp_path, tiny_models):
    total = 8
    folder = _folder(tmp_path, count=total, corrupt=False)
    # Boxes only: what is journaled and resumed does not depend on SAM, and it halves the time
    args = [str(folder), "--query", QUERY, "--boxes-only"] + model_args(tiny_models)
    # Uninterrupted, in this process
    assert cli.main(["label", "--out", str(tmp_path / "whole")] + args) == 0
    # Killed (SIGKILL: no clean-up at all) once a few frames are journaled, then run again
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "grounded_sam_ros.cli", "label", "--out", str(out)] + args
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "instances.json.journal"
    deadline = time.monotonic() + 120
    while _journal_lines(journal) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = _journal_lines(journal)
    assert 2 <= done < total, f"the run was not killed midway ({done} frames journaled)"
    assert not (out / "instances.json").exists()
    assert cli.main(["label", "--out", str(out)] + args) == 0
    assert (out / "instances.json").read_bytes() == (tmp_path / "whole" / "instances.json").read_bytes()
    assert _journal_lines(journal) == total  # nothing labelled twice


@pytest.mark.slow
def test_auto_query_labels_with_the_taggers_nouns(tmp_path, tiny_models):
    import torch

    from grounded_sam_ros.models import LoadOptions, build_tagger
    from grounded_sam_ros.models.tiny_taggers import build_tiny_blip

    blip = build_tiny_blip(tmp_path / "tiny-blip")
    folder = _folder(tmp_path, count=2, corrupt=False)
    out = tmp_path / "out"
    argv = ["label", str(folder), "--out", str(out), "--auto", "blip", "--tagger-model", str(blip), "--boxes-only"]
    assert cli.main(argv + model_args(tiny_models)) == 0
    coco = json.loads((out / "instances.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    tagger = build_tagger("blip", str(blip), LoadOptions(dtype=torch.float32, local_files_only=True))
    labelled = 0
    for info in coco["images"]:
        rgb = np.array(Image.open((out / info["file_name"]).resolve()).convert("RGB"))
        tags = set(tagger(rgb).tags)
        for ann in (a for a in coco["annotations"] if a["image_id"] == info["id"]):
            assert names[ann["category_id"]] in tags
            labelled += 1
    assert labelled > 0


def test_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["label", "x.png", "--out", str(tmp_path), "--query", "cup", "--auto", "blip"])
    assert cli.main(["label", "x.png", "--out", str(tmp_path), "--auto", "ram"]) == 2
    assert "ram_tag_list.txt" in capsys.readouterr().err


@pytest.mark.slow
def test_auto_ram_labels_with_ram_tags(tmp_path, tiny_models):
    import torch
    from ram_reference import ReferenceRam

    from grounded_sam_ros.auto_query import build_query
    from grounded_sam_ros.models import LoadOptions, build_detector, build_tagger

    # A RAM checkpoint in the release layout whose tags are words the tiny detector knows
    names = ["cup", "cat", "person", "table", "dog", "book", "car", "tree", "box", "ball"]
    checkpoint, tag_list = tmp_path / "ram.pth", tmp_path / "tags.txt"
    torch.save(ReferenceRam(seed=5).checkpoint(), checkpoint)
    tag_list.write_text("\n".join(names) + "\n")
    folder = _folder(tmp_path, count=2, corrupt=False)
    out = tmp_path / "out"
    argv = ["label", str(folder), "--out", str(out), "--auto", "ram", "--tagger-model", str(checkpoint),
            "--tag-list", str(tag_list), "--tag-threshold", "0.3", "--exclude", "table", "--boxes-only"]  # fmt: skip
    assert cli.main(argv + model_args(tiny_models)) == 0
    coco = json.loads((out / "instances.json").read_text())
    categories = {c["id"]: c["name"] for c in coco["categories"]}
    options = LoadOptions(dtype=torch.float32, local_files_only=True)
    tagger = build_tagger("ram", str(checkpoint), options, tag_list=str(tag_list), threshold=0.3)
    detector = build_detector("grounding_dino", str(tiny_models[0]), options)
    for info in coco["images"]:
        rgb = np.array(Image.open((out / info["file_name"]).resolve()).convert("RGB"))
        query = build_query(tagger(rgb).tags, "table", detector.max_text_tokens, detector.count_tokens)
        labels = {categories[a["category_id"]] for a in coco["annotations"] if a["image_id"] == info["id"]}
        assert labels <= set(query.split(" . ")) and "table" not in labels
    assert coco["annotations"], "the tiny models should detect some of the RAM tags"
