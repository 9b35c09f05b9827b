# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking mode ``iou`` on scripted scenes: identities against the script's ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_scenes import ScriptedPipeline, Shape, constant, id_metrics, linear

from grounded_sam_ros.results import Detection
from grounded_sam_ros.tracking import StreamTracker, TrackerConfig
from grounded_sam_ros.tracking.association import assign, crop_iou, iou_matrix

FRAMES = 60


def _scene():
    return [
        # Crossing paths, different labels: they coincide at frame 25 and part again
        Shape("a", 14, linear((20, 100), (6, 0)), constant("cup")),
        Shape("b", 14, linear((320, 100), (-6, 0)), constant("ball")),
        # Crossing paths, same label, offset rows: they overlap near frame 30 (box IoU ~0.4 at closest)
        Shape("c", 12, linear((30, 170), (5, 0)), constant("cup")),
        Shape("d", 12, linear((330, 182), (-5, 0)), constant("cup")),
        # Occlusion gap: missed by the detector for 4 frames while in view
        Shape("e", 16, linear((60, 40), (1.5, 0.5)), constant("box"), missed=(12, 13, 14, 15)),
        # Enters at frame 10 from the bottom, leaves through the top by frame ~50
        Shape("f", 10, linear((250, 250), (0, -6), first=10), constant("ball")),
        # Label change at frame 30 (a new identity: matching is same-label only)
        Shape("g", 15, linear((280, 40), (-1, 1)), lambda t: "cup" if t < 30 else "mug"),
    ]


@pytest.mark.parametrize("segment", [True, False], ids=["mask-iou", "box-iou"])
def test_scripted_scene_keeps_one_id_per_object(segment):
    pipeline = ScriptedPipeline(_scene(), segment=segment)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="iou", match_iou=0.2, max_age=5))
    frames = []
    for t in range(FRAMES):
        result = tracker(pipeline.render(t), "cup . ball . box . mug", stamp=t / 30)
        frames.append([(d.truth, d.id) for d in result.detections])
        assert all(not d.propagated and d.age == 0 for d in result.detections)
    visible = sum(len(v) for v in pipeline.visible.values())
    metrics = id_metrics(frames, visible)
    assert metrics["switches"] == 0
    assert metrics["ids_per_object"] == 1  # every object (and label) gets exactly one id
    assert metrics["objects_per_id"] == 1  # no id is ever reused
    # Only the 4 scripted misses are lost: IDF1 = 2 * reported / (visible + reported)
    reported = visible - 4
    assert metrics["idf1"] == pytest.approx(2 * reported / (visible + reported))
    assert metrics["idf1"] > 0.98
    # 8 identities (g is two), each got its own id: ids 0..7
    assert sorted({int(i) for frame in frames for _, i in frame}) == list(range(8))


def test_skipped_frames_keep_the_ids():
    """The node drops frames under load: the tracker then sees every other frame (twice the motion per step)."""
    pipeline = ScriptedPipeline(_scene())
    tracker = StreamTracker(pipeline, TrackerConfig(mode="iou", match_iou=0.2, max_age=5))
    frames = []
    for t in range(0, FRAMES, 2):
        result = tracker(pipeline.render(t), "cup . ball . box . mug", stamp=t / 30)
        frames.append([(d.truth, d.id) for d in result.detections])
    visible = sum(len(pipeline.visible[t]) for t in range(0, FRAMES, 2))
    metrics = id_metrics(frames, visible)
    assert metrics["switches"] == 0 and metrics["ids_per_object"] == 1 and metrics["objects_per_id"] == 1


def test_min_hits_delays_birth_and_max_age_ends_tracks():
    shapes = [Shape("a", 10, linear((50, 50), (2, 0), last=9), constant("cup"), missed=(1,))]
    pipeline = ScriptedPipeline(shapes)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="iou", min_hits=3, max_age=2))
    reported = [[d.id for d in tracker(pipeline.render(t), "cup").detections] for t in range(16)]
    # Frame 0 starts a tentative track, frame 1 misses it (a tentative track ends at its first miss),
    # frames 2, 3, 4 are hits 1..3 of a new one: reported from frame 4 with the first id
    assert reported[:4] == [[], [], [], []]
    assert reported[4:10] == [["0"]] * 6
    assert reported[10:] == [[]] * 6
    assert tracker.stats.live_tracks == 0  # ended after max_age frames out of view


def test_query_change_and_stamp_going_back_start_new_ids():
    shapes = [Shape("a", 10, linear((50, 50), (1, 0)), constant("cup"))]
    pipeline = ScriptedPipeline(shapes)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="iou"))
    ids = [tracker(pipeline.render(t), "cup", stamp=t).detections[0].id for t in range(3)]
    ids.append(tracker(pipeline.render(3), "cup . ball", stamp=3).detections[0].id)  # query change
    ids.append(tracker(pipeline.render(4), "cup . ball", stamp=4).detections[0].id)
    ids.append(tracker(pipeline.render(5), "cup . ball", stamp=1).detections[0].id)  # stamp went back
    assert ids == ["0", "0", "0", "1", "1", "2"]


def test_bad_frame_leaves_tracks_intact():
    shapes = [Shape("a", 10, linear((50, 50), (1, 0)), constant("cup"))]
    pipeline = ScriptedPipeline(shapes)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="iou"))
    assert tracker(pipeline.render(0), "cup").detections[0].id == "0"
    with pytest.raises(ValueError, match="HxWx3"):
        tracker(np.zeros((10, 10), np.uint8), "cup")
    assert tracker(pipeline.render(1), "cup").detections[0].id == "0"


def test_crop_iou_equals_full_mask_iou():
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = (rng.random((40, 50)) > 0.6, rng.random((40, 50)) > 0.6)
        a[:5] = b[-5:] = False
        dets = []
        for full in (a, b):
            from grounded_sam_ros.masks import crop_mask

            crop, x, y = crop_mask(full)
            dets.append(
                Detection("x", 1.0, np.array([x, y, x + crop.shape[1], y + crop.shape[0]], np.float32), crop, x, y)
            )
        expected = np.logical_and(a, b).sum() / np.logical_or(a, b).sum()
        assert crop_iou(*dets) == pytest.approx(expected)
        assert iou_matrix(dets[:1], dets[1:])[0, 0] == pytest.approx(expected)


def test_assignment_is_optimal_and_label_gated():
    # Greedy on the 0.6 pair would leave 0.1 + nothing; the optimum is 0.5 + 0.5
    iou = np.array([[0.6, 0.5], [0.5, 0.0]], np.float32)
    result = assign(iou, ["cup", "cup"], ["cup", "cup"], 0.3)
    assert sorted(result.matches) == [(0, 1), (1, 0)]
    result = assign(iou, ["cup", "ball"], ["cup", "cup"], 0.3)
    assert result.matches == [(0, 0)] and result.unmatched_rows == [1] and result.unmatched_cols == [1]
