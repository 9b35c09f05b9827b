# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's human-mesh capability over real DDS: meshes only when enabled and subscribed, one per person-labelled
detection with its id, markers with DELETEs, and a bad model file failing configure with the reason."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from grounded_sam_ros.mesh.synthetic import random_network, write_original_checkpoint, write_synthetic_smplx

pytestmark = pytest.mark.ros


class Inbox:
    """Messages of one topic, collected by the client's executor; waits on arrival, never on a fixed sleep."""

    def __init__(self, client, msg_type, topic: str) -> None:
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        self._cond = threading.Condition()
        self.messages = []
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=20, reliability=ReliabilityPolicy.RELIABLE)
        self.sub = client.node.create_subscription(msg_type, topic, self._on, qos)

    def _on(self, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages:
                    if predicate(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching message within {timeout} s ({len(self.messages)} received)")
                self._cond.wait(left)


def _stamp_of(msg):
    return (msg.header.stamp.sec, msg.header.stamp.nanosec)


def _wait_log(node, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = node.log()
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared in the node log:\n{node.log()[-3000:]}")


@pytest.fixture(scope="module")
def mesh_node(tiny_models, tmp_path_factory):
    from test_node import _ros_available, _start, _wait_active

    if _ros_available():
        pytest.skip(_ros_available())
    files = tmp_path_factory.mktemp("mesh-node")
    ckpt = write_original_checkpoint(files / "tiny_wo_decoder.pth.tar", random_network_tiny())
    smplx_path = write_synthetic_smplx(files / "SMPLX_NEUTRAL.npz")
    node, client, parameters = _start(
        tiny_models, tmp_path_factory, "mesh-node", box_threshold=0.0, text_threshold=0.0, max_detections=3,
        query="person . cat", **{"mesh.enable": True, "mesh.model": str(ckpt), "mesh.smplx_model": str(smplx_path)},
    )  # fmt: skip
    try:
        _wait_active(node, client)
        client.wait_connected()
        yield node, client, {"ckpt": ckpt, "smplx": smplx_path}
    finally:
        client.close()
        code, took = node.stop()
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"


def random_network_tiny():
    from grounded_sam_ros.mesh.config import ARCHITECTURES

    return random_network(ARCHITECTURES["tiny_random"], seed=7)


def test_meshes_only_for_subscribers_one_per_person_with_its_id(mesh_node):
    from test_node import _image_msg
    from visualization_msgs.msg import Marker, MarkerArray

    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.msg import HumanMeshArray

    node, client, files = mesh_node
    image = load_image(sample_image("astronaut"))[::2, ::2].copy()

    # No subscriber yet: detections flow, no mesh is computed
    client.publish_image(_image_msg(image, (2_000_000_000, 1)))
    client.wait_detections((2_000_000_000, 1))
    diag = client.wait_diagnostics(lambda d: d.get("frames_processed", "0") != "0")
    assert diag["mesh"] == "on" and diag["mesh_people"] == "0" and diag["mesh_arrays"] == "0", diag

    meshes = Inbox(client, HumanMeshArray, "human_meshes")
    markers = Inbox(client, MarkerArray, "human_mesh_markers")
    deadline = time.monotonic() + 20
    while meshes.sub.get_publisher_count() == 0 or markers.sub.get_publisher_count() == 0:
        assert time.monotonic() < deadline, "the node's mesh publishers never matched"
        time.sleep(0.05)

    num_verts = len(np.load(files["smplx"])["v_template"])
    num_faces = len(np.load(files["smplx"])["f"])
    seen_person = False
    for k in range(2, 6):
        stamp = (2_000_000_000, k)
        client.publish_image(_image_msg(image, stamp))
        _, dets = client.wait_detections(stamp)
        arr = meshes.wait(lambda m, s=stamp: _stamp_of(m) == s)
        person_ids = [d.id for d in dets.detections if d.label == "person"]
        assert [m.detection_id for m in arr.meshes] == sorted(person_ids, key=lambda i: -next(
            d.score for d in dets.detections if d.id == i))  # fmt: skip
        assert (arr.image_width, arr.image_height) == (image.shape[1], image.shape[0])
        for m in arr.meshes:
            assert m.label == "person" and m.camera == "virtual"
            assert len(m.vertices) == num_verts * 3 and np.isfinite(np.asarray(m.vertices)).all()
            box = next(d.box for d in dets.detections if d.id == m.detection_id)
            np.testing.assert_allclose(m.box, box, atol=1e-4)
        mk = markers.wait(lambda m, s=stamp: m.markers and _stamp_of(m.markers[0]) == s) if person_ids else None
        if mk is not None:
            drawn = [m for m in mk.markers if m.action == Marker.ADD]
            assert len(drawn) == len(person_ids)
            assert all(m.type == Marker.TRIANGLE_LIST and len(m.points) == num_faces * 3 for m in drawn)
            seen_person = True
            last_ids = {m.id for m in drawn}
    assert seen_person, "the tiny detector labelled no box 'person' in 4 frames"

    # Nobody is a person any more: the markers of the people who left are deleted
    client.publish_query("cat")
    client.wait_diagnostics(lambda d: d.get("query") == "cat")
    stamp = (2_000_000_000, 9)
    client.publish_image(_image_msg(image, stamp))
    arr = meshes.wait(lambda m: _stamp_of(m) == stamp)
    assert list(arr.meshes) == []
    mk = markers.wait(lambda m: m.markers and _stamp_of(m.markers[0]) == stamp)
    assert {m.id for m in mk.markers if m.action == Marker.DELETE} == last_ids
    client.publish_query("person . cat")
    client.wait_diagnostics(lambda d: d.get("query") == "person . cat")


def test_disabled_creates_nothing_and_bad_files_fail_configure(mesh_node):
    from test_node import _image_msg

    from grounded_sam_ros.data import load_image, sample_image

    node, client, files = mesh_node
    image = load_image(sample_image("astronaut"))[::2, ::2].copy()

    # Off: no mesh publisher, nothing loaded
    assert client.change_state("deactivate") and client.change_state("cleanup")
    assert all(r.successful for r in client.set_parameters(**{"mesh.enable": False}))
    assert client.change_state("configure") and client.change_state("activate")
    diag = client.wait_diagnostics(lambda d: d.get("state") == "active")
    assert diag["mesh"] == "off"
    assert client.node.count_publishers("human_meshes") == 0

    # A missing checkpoint fails configure with the reason; the node stays usable
    assert client.change_state("deactivate") and client.change_state("cleanup")
    missing = str(files["ckpt"]) + ".missing"
    assert all(r.successful for r in client.set_parameters(**{"mesh.enable": True, "mesh.model": missing}))
    assert not client.change_state("configure")
    _wait_log(node, f"mesh: mesh model checkpoint {missing} not found")
    # A bad SMPL-X file too
    bad = files["smplx"].with_name("bad.npz")
    bad.write_bytes(b"not an npz")
    assert all(r.successful for r in client.set_parameters(**{"mesh.model": str(files["ckpt"]),
                                                              "mesh.smplx_model": str(bad)}))  # fmt: skip
    assert not client.change_state("configure")
    _wait_log(node, f"cannot read {bad} as an SMPL-X .npz")
    # Enabling without files is refused at once
    results = client.set_parameters(**{"mesh.smplx_model": ""})
    assert not results[0].successful and "mesh.smplx_model is empty" in results[0].reason

    # Back to good files: configures and serves detections again
    assert all(r.successful for r in client.set_parameters(**{"mesh.smplx_model": str(files["smplx"])}))
    assert client.change_state("configure") and client.change_state("activate")
    client.wait_connected()
    client.publish_image(_image_msg(image, (2_100_000_000, 1)))
    client.wait_detections((2_100_000_000, 1))
