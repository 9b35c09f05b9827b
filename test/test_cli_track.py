# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam track`` on tiny models: the files it writes equal an in-process StreamTracker run on the same
decoded frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from grounded_sam_ros.cli import main
from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.io.video import VideoWriter, iter_video
from grounded_sam_ros.pipeline import build_pipeline
from grounded_sam_ros.tracking import TrackerConfig, build_tracker

QUERY = "red cup . person"
FRAMES = 6


@pytest.fixture(scope="module")
def tiny_sam2_dir(tmp_path_factory):
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    return tiny_sam2(tmp_path_factory.mktemp("tiny-sam2-cli"))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _frames():
    """A photo panning right by 4 px per frame, 160x120."""
    photo = np.asarray(Image.fromarray(load_image(sample_image("coffee"))).resize((200, 120)))
    return [np.ascontiguousarray(photo[:, 4 * t : 4 * t + 160]) for t in range(FRAMES)]


def _args(tiny_models, tiny_sam2_dir, out, *extra):
    detector, _ = tiny_models
    return [
        "--query",
        QUERY,
        "--out",
        str(out),
        "--detector",
        str(detector),
        "--segmenter",
        str(tiny_sam2_dir),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--box-threshold",
        "0.3",
        "--text-threshold",
        "0.2",
        *extra,
    ]


def _expected(tiny_models, tiny_sam2_dir, frames, tracking):
    detector, _ = tiny_models
    pipeline = build_pipeline(
        PipelineConfig(
            detector_model=str(detector),
            segmenter_model=str(tiny_sam2_dir),
            segmenter_family="sam2",
            device="cpu",
            dtype="float32",
            box_threshold=0.3,
            text_threshold=0.2,
        )
    )
    tracker = build_tracker(pipeline, tracking)
    return [tracker(frame, QUERY).to_dict() for frame in frames]


def test_track_video_writes_the_trackers_results(tiny_models, tiny_sam2_dir, tmp_path, one_thread, capsys):
    video = tmp_path / "pan.mp4"
    with VideoWriter(video, 10, lossless=True) as writer:
        for frame in _frames():
            writer.write(frame)
    decoded = [image for _, _, image in iter_video(video)]
    out = tmp_path / "out"
    assert main(["track", str(video), *_args(tiny_models, tiny_sam2_dir, out, "--detect-every", "3")]) == 0

    tracking = TrackerConfig(mode="sam2", detect_every=3, video_model=str(tiny_sam2_dir))
    expected = _expected(tiny_models, tiny_sam2_dir, decoded, tracking)
    written = [json.loads((out / "json" / f"{i:06d}.json").read_text()) for i in range(FRAMES)]
    assert [w["kind"] for w in written][:4] == ["key", "propagated", "propagated", "key"]
    assert any(w["detections"] for w in written), "the tiny detector must find something at these thresholds"
    for got, want in zip(written, expected):
        assert got["detections"] == want["detections"]
        assert all("propagated" in d and "age" in d and d["id"].isdigit() for d in got["detections"])
    annotated = [image for _, _, image in iter_video(out / "annotated.mp4")]
    assert len(annotated) == FRAMES and annotated[0].shape == (120, 160, 3)
    assert "frame(s), 2 key" in capsys.readouterr().out


def test_track_folder_in_iou_mode_writes_pngs(tiny_models, tiny_sam2_dir, tmp_path, one_thread):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = _frames()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"f{i:03d}.png")
    (folder / "broken.png").write_bytes(b"not a png")  # one unreadable frame: reported, the stream goes on
    out = tmp_path / "out"
    status = main(["track", str(folder), *_args(tiny_models, tiny_sam2_dir, out, "--tracking", "iou", "--png")])
    assert status == 1  # the broken frame is reported
    expected = _expected(tiny_models, tiny_sam2_dir, frames, TrackerConfig(mode="iou"))
    # broken.png sorts first: frames are 1..FRAMES
    for i, want in enumerate(expected, start=1):
        got = json.loads((out / "json" / f"{i:06d}.json").read_text())
        assert got["kind"] == "detected" and got["detections"] == want["detections"]
        assert Image.open(out / "annotated" / f"{i:06d}.png").size == (160, 120)


def test_bad_tracking_flags_fail_before_loading(tmp_path, capsys):
    assert main(["track", str(tmp_path), "--query", "cup", "--out", str(tmp_path / "o"), "--detect-every", "0"]) == 2
    assert "detect_every" in capsys.readouterr().err
