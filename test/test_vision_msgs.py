# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""vision_msgs outputs: the pure mapping (on stand-in message classes), then the node with a real vision_msgs.

The real package is built from the published message definitions in a test workspace (``vision_msgs_workspace``,
cached; minutes the first time on a loaded machine, so ``slow``). The node and a peer that prints what it receives
run with it on their path; this process drives them and compares every field of ``detections_2d`` /
``detections_3d`` with the ``DetectionArray`` of the same frame, and checks that ``label_info`` is latched and follows
the query.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grounded_sam_ros.results import Detection, FrameResult, Instance3D
from grounded_sam_ros.ros import vision_msgs_conv

ROOT = Path(__file__).resolve().parents[1]


NS = SimpleNamespace


def _standin_module() -> types.ModuleType:
    """Classes with the fields of vision_msgs (ros2 branch), as plain namespaces: enough for the pure mapping."""
    vm = types.ModuleType("vision_msgs_standin")
    point = lambda: NS(x=0.0, y=0.0, z=0.0)  # noqa: E731
    vm.Detection2DArray = lambda: NS(header=None, detections=[])
    vm.Detection3DArray = lambda: NS(header=None, detections=[])
    vm.Detection2D = lambda: NS(header=None, results=[], id="", bbox=NS(
        center=NS(position=NS(x=0.0, y=0.0), theta=0.0), size_x=0.0, size_y=0.0))  # fmt: skip
    vm.Detection3D = lambda: NS(header=None, results=[], id="", bbox=NS(center=NS(position=point()), size=point()))
    vm.ObjectHypothesisWithPose = lambda: NS(hypothesis=NS(class_id="", score=0.0), pose=NS(pose=NS(position=point())))
    vm.LabelInfo = lambda: NS(header=None, class_map=[], threshold=0.0)
    vm.VisionClass = lambda class_id, class_name: NS(class_id=class_id, class_name=class_name)
    return vm


def _header(sec: int, nanosec: int, frame_id: str):
    from std_msgs.msg import Header

    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = sec, nanosec
    return header


def test_mapping_of_boxes_labels_ids_3d_and_labels():
    vm = _standin_module()
    inside = Instance3D(np.array([0.5, -0.25, 2.0], np.float32), np.array([0.2, 0.4, 0.1], np.float32), 50, True,
                        "depth_optical")  # fmt: skip
    result = FrameResult(640, 480, "cup . person", [
        Detection("person", 0.75, np.array([10.0, 20.0, 110.0, 220.5], np.float32), id="7", phrase_index=1,
                  instance_3d=inside),
        Detection("cup", 0.5, np.array([300.25, 0.0, 301.25, 479.0], np.float32), id="3", phrase_index=0,
                  instance_3d=Instance3D(np.full(3, np.nan, np.float32), np.full(3, np.nan, np.float32), 2, False)),
    ])  # fmt: skip
    header = _header(12, 34, "camera")

    d2 = vision_msgs_conv.detection_2d_array(result, header, vm)
    assert d2.header is header and [d.header for d in d2.detections] == [header, header]
    got = [
        (d.id, d.results[0].hypothesis.class_id, d.results[0].hypothesis.score, d.bbox.center.position.x,
         d.bbox.center.position.y, d.bbox.center.theta, d.bbox.size_x, d.bbox.size_y)
        for d in d2.detections
    ]  # fmt: skip
    assert got == [
        ("7", "person", 0.75, 60.0, 120.25, 0.0, 100.0, 200.5),
        ("3", "cup", 0.5, 300.75, 239.5, 0.0, 1.0, 479.0),
    ]

    d3 = vision_msgs_conv.detection_3d_array(result, header, vm)
    assert (d3.header.frame_id, d3.header.stamp.sec, d3.header.stamp.nanosec) == ("depth_optical", 12, 34)
    (only,) = d3.detections  # the cup has no valid 3D
    centre = only.bbox.center.position
    assert (only.id, only.results[0].hypothesis.class_id) == ("7", "person")
    np.testing.assert_allclose([centre.x, centre.y, centre.z], [0.5, -0.25, 2.0])
    np.testing.assert_allclose([only.bbox.size.x, only.bbox.size.y, only.bbox.size.z], [0.2, 0.4, 0.1], rtol=1e-6)
    pose = only.results[0].pose.pose.position
    assert (pose.x, pose.y, pose.z) == (centre.x, centre.y, centre.z)

    labels = vision_msgs_conv.label_info(["cup", "person"], header, vm, 0.35)
    assert [(c.class_id, c.class_name) for c in labels.class_map] == [(0, "cup"), (1, "person")]
    assert labels.threshold == 0.35
    # class_id of a phrase = its index in the query = the detection's phrase_index
    names = {c.class_id: c.class_name for c in labels.class_map}
    assert all(names[det.phrase_index] == det.label for det in result.detections)


def test_load_says_none_when_vision_msgs_is_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "vision_msgs", None)  # import fails as for a missing package
    monkeypatch.delitem(sys.modules, "vision_msgs.msg", raising=False)
    assert vision_msgs_conv.load() is None


# ----------------------------------------------------------------------------------------------------------------------
# The node with a real vision_msgs over DDS
# ----------------------------------------------------------------------------------------------------------------------


class Peer:
    """``vision_msgs_peer.py`` in its own process; its JSON lines collected by a thread."""

    def __init__(self, env) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "test" / "vision_msgs_peer.py")], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.lines: "queue.Queue[dict]" = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait(self, predicate, timeout: float = 30.0) -> dict:
        """The first message (received so far or from now on) for which ``predicate(entry)`` holds."""
        for entry in self.seen:
            if predicate(entry):
                return entry
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                entry = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError(f"peer exited: {self.proc.stderr.read()[-2000:]}") from None
                continue
            self.seen.append(entry)
            if predicate(entry):
                return entry
        raise AssertionError(
            f"the peer got no matching message in {timeout} s; it got {[e['topic'] for e in self.seen]}"
        )

    def stop(self) -> None:
        from grounded_sam_ros.ros import processes

        processes.stop(self.proc, 10.0)


def _stamped(topic: str, stamp):
    return lambda e: (
        e["topic"] == topic and (e["msg"]["header"]["stamp"]["sec"], e["msg"]["header"]["stamp"]["nanosec"]) == stamp
    )


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first run builds vision_msgs (minutes on a loaded machine); later runs reuse it
def test_node_publishes_vision_msgs_equal_to_its_detections(tiny_models, tmp_path):
    pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")
    import vision_msgs_workspace
    from node_helpers import NodeProcess, random_domain, ros_env
    from test_node_depth import DEPTH_H, DEPTH_W, DepthClient, depth_msg, slanted_depth

    from grounded_sam_ros.data import load_image, sample_image

    prefix = vision_msgs_workspace.build()
    domain = random_domain()
    env = vision_msgs_workspace.env(prefix, ros_env(domain))
    detector, segmenter = tiny_models
    parameters = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu",
                  "image_reliability": "reliable", "box_threshold": 0.3, "text_threshold": 0.2, "max_detections": 4,
                  "use_depth": True, "publish_cloud": True, "depth_min_points": 10, "query": "cat . cup"}  # fmt: skip
    client = DepthClient(domain)
    node = NodeProcess(parameters, domain, tmp_path / "node.log", env=env)
    peer = None
    try:
        try:
            diag = client.base.wait_diagnostics(lambda d: d.get("state") == "active", 90.0)
        except AssertionError:
            raise AssertionError(f"node never became active; its log:\n{node.log()[-3000:]}") from None
        assert diag["vision_msgs"] == "on", diag
        client.wait_connected()

        # A peer that starts after label_info was published still gets it (latched)
        peer = Peer(env)
        labels = peer.wait(lambda e: e["topic"] == "label_info")["msg"]
        assert [(c["class_id"], c["class_name"]) for c in labels["class_map"]] == [(0, "cat"), (1, "cup")]
        assert labels["threshold"] == pytest.approx(0.3)
        for topic in ("detections_2d", "detections_3d"):
            client.base.wait_subscribed(topic)

        # One frame with matching depth: every field against the DetectionArray of the same frame
        image = np.ascontiguousarray(load_image(sample_image("chelsea"))[50:249, 40:341])
        stamp = (1_700_300_000, 5)
        raw = slanted_depth(np.random.default_rng(3))
        assert raw.shape == (DEPTH_H, DEPTH_W)
        client.send_frame(image, stamp, depth_msg(raw, "16UC1", stamp=stamp, frame_id="depth_optical"))
        _, ours = client.base.wait_detections(stamp)
        d2 = peer.wait(_stamped("detections_2d", stamp))["msg"]
        d3 = peer.wait(_stamped("detections_3d", stamp))["msg"]
        assert len(ours.detections) > 0 and any(d.has_3d for d in ours.detections)
        assert d2["header"]["frame_id"] == ours.header.frame_id == "camera_color_optical_frame"
        assert len(d2["detections"]) == len(ours.detections)
        for got, det in zip(d2["detections"], ours.detections):
            x0, y0, x1, y1 = (float(v) for v in det.box)
            assert got["id"] == det.id and got["header"] == d2["header"]
            (hypothesis,) = got["results"]
            assert hypothesis["hypothesis"]["class_id"] == det.label
            assert hypothesis["hypothesis"]["score"] == pytest.approx(det.score, abs=1e-6)
            bbox = got["bbox"]
            assert bbox["center"]["position"] == {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2}
            assert (bbox["center"]["theta"], bbox["size_x"], bbox["size_y"]) == (0.0, x1 - x0, y1 - y0)
        with_3d = [det for det in ours.detections if det.has_3d]
        assert d3["header"]["frame_id"] == "depth_optical" and len(d3["detections"]) == len(with_3d)
        for got, det in zip(d3["detections"], with_3d):
            centre = got["bbox"]["center"]["position"]
            assert got["id"] == det.id and got["results"][0]["hypothesis"]["class_id"] == det.label
            assert (centre["x"], centre["y"], centre["z"]) == (det.position.x, det.position.y, det.position.z)
            size = got["bbox"]["size"]
            assert (size["x"], size["y"], size["z"]) == (det.size.x, det.size.y, det.size.z)
            assert got["results"][0]["pose"]["pose"]["position"] == centre

        # A new query: label_info is published again, before the detections made with it
        client.base.publish_query("Rocket")
        labels = peer.wait(lambda e: e["topic"] == "label_info" and e["msg"]["class_map"][:1] == [
            {"class_id": 0, "class_name": "rocket"}])["msg"]  # fmt: skip
        assert len(labels["class_map"]) == 1
    finally:
        if peer is not None:
            peer.stop()
        client.base.close()
        code, _ = node.stop()
    assert code == 0, node.log()[-3000:]
