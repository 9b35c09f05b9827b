# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's tracking capability: parameters, markers per id, and over real DDS: stable ids for an unchanged scene,
new ids after a query change, a bad frame in the middle that does not break the chain, sam2 propagation."""

from __future__ import annotations

import numpy as np
import pytest
from std_msgs.msg import Header
from test_node import _image_msg, _ros_available, _set_query, _start, _wait_active

from grounded_sam_ros.geometry import instance_id
from grounded_sam_ros.results import Detection, Instance3D
from grounded_sam_ros.ros import params
from grounded_sam_ros.ros.geometry_msgs_conv import markers_from_detections


def test_tracking_parameters_default_off_and_validate():
    settings = params.settings_from_params({})
    assert (settings.tracking, settings.detect_every, settings.max_tracks) == ("off", 10, 16)
    assert params.settings_from_params({"tracking": "sam2", "detect_every": 5}).detect_every == 5
    with pytest.raises(ValueError, match="tracking"):
        params.settings_from_params({"tracking": "kalman"})
    with pytest.raises(ValueError, match="detect_every"):
        params.settings_from_params({"detect_every": 0})


def test_markers_keep_the_track_id_and_a_colour_per_id():
    def det(track_id, x):
        i3 = Instance3D(np.array([x, 0, 1], np.float32), np.array([0.1] * 3, np.float32), 50, True, "depth")
        return Detection("cup", 0.8, np.zeros(4, np.float32), id=track_id, instance_3d=i3)

    markers = markers_from_detections([det("7", 0.0), det("12", 0.5)], Header(frame_id="depth"), color_by="id")
    cubes = [m for m in markers.markers if m.ns == "grounded_sam"]
    texts = [m for m in markers.markers if m.ns == "grounded_sam/labels"]
    assert [m.id for m in cubes] == [instance_id("7"), instance_id("12")]
    assert [m.text for m in texts] == ["#7 cup 0.80", "#12 cup 0.80"]
    colours = [(m.color.r, m.color.g, m.color.b) for m in cubes]
    assert colours[0] != colours[1]  # same label, two tracks, two colours
    again = markers_from_detections([det("7", 0.3)], Header(frame_id="depth"), color_by="id").markers[0]
    assert (again.color.r, again.color.g, again.color.b) == colours[0]  # the id keeps its colour


@pytest.fixture(scope="module")
def sample():
    from grounded_sam_ros.data import load_image, sample_image

    return np.ascontiguousarray(load_image(sample_image("chelsea"))[50:249, 40:341])


def _node(tiny_models, tmp_path_factory, name, **overrides):
    if _ros_available():
        pytest.skip(_ros_available())
    node, client, _ = _start(tiny_models, tmp_path_factory, name, **overrides)
    _wait_active(node, client)
    client.wait_connected()
    return node, client


def _frame(client, sample, stamp):
    """Send one frame and wait for its DetectionArray (so the node processes every frame, in order)."""
    client.publish_image(_image_msg(sample, stamp))
    return client.wait_detections(stamp)[1]


@pytest.mark.ros
def test_iou_tracking_over_dds(tiny_models, tmp_path_factory, sample):
    node, client = _node(tiny_models, tmp_path_factory, "track-iou", tracking="iou")
    try:
        _set_query(client, "cat . cup", "cat . cup")
        first = _frame(client, sample, (1_100_000_001, 0))
        ids = [d.id for d in first.detections]
        assert ids, "the tiny models should produce detections at these thresholds"
        assert sorted(ids, key=int) == [str(i) for i in range(len(ids))]
        # Unchanged scene: the same ids, frame after frame
        for k in range(2, 4):
            msg = _frame(client, sample, (1_100_000_000 + k, 0))
            assert sorted(d.id for d in msg.detections) == sorted(ids)
            assert not any(d.propagated for d in msg.detections)
        # A malformed frame in the middle: rejected and counted, the chain goes on
        before = int(client.wait_diagnostics(lambda d: "invalid_inputs" in d)["invalid_inputs"])
        bad = _image_msg(sample, (1_100_000_010, 0))
        bad.data = bytes(bad.data[:-7])
        client.publish_image(bad)
        client.wait_diagnostics(lambda d: int(d["invalid_inputs"]) > before)
        msg = _frame(client, sample, (1_100_000_011, 0))
        assert sorted(d.id for d in msg.detections) == sorted(ids)
        # Query change: every track ends, new ids (never reused)
        _set_query(client, "cat", "cat")
        msg = _frame(client, sample, (1_100_000_020, 0))
        assert msg.detections and all(int(d.id) >= len(ids) for d in msg.detections)
        diag = client.wait_diagnostics(lambda d: "tracking_live_tracks" in d)
        assert int(diag["tracking_ids_issued"]) >= len(ids) + len(msg.detections)
        assert float(diag["tracking_key_frame_rate"]) == 1.0 and "detected" in diag["tracking_frame_cost_s"]
        assert node.alive()
    finally:
        client.close()
        assert node.stop()[0] == 0, node.log()[-3000:]


@pytest.mark.ros
def test_sam2_tracking_over_dds(tiny_models, tmp_path_factory, sample):
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    video = tiny_sam2(tmp_path_factory.mktemp("tiny-sam2-node"))
    node, client = _node(
        tiny_models, tmp_path_factory, "track-sam2", tracking="sam2", detect_every=3, tracking_video_model=str(video)
    )
    try:
        _set_query(client, "cat . cup", "cat . cup")
        key = _frame(client, sample, (1_200_000_001, 0))
        ids = sorted(d.id for d in key.detections)
        assert ids and not any(d.propagated for d in key.detections)
        for k in (2, 3):  # propagated by the video model: same ids, flagged, ages 1 and 2
            msg = _frame(client, sample, (1_200_000_000 + k, 0))
            assert {d.id for d in msg.detections} <= set(ids) and msg.detections
            assert all(d.propagated and d.age == k - 1 for d in msg.detections)
        _frame(client, sample, (1_200_000_004, 0))  # the next key frame
        diag = client.wait_diagnostics(lambda d: d.get("tracking_frames", "").startswith("key 2"))
        assert diag["tracking_frames"] == "key 2, propagated 2" and float(diag["tracking_key_frame_rate"]) == 0.5
    finally:
        client.close()
        assert node.stop()[0] == 0, node.log()[-3000:]
