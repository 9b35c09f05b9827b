# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The generated interfaces have exactly the documented fields and types, and the package layout is sound."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

msg = pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")
srv = pytest.importorskip("grounded_sam_ros.srv", reason="interfaces not built: run `make setup` (colcon build)")

DETECTION_FIELDS = {
    "id": "string",
    "label": "string",
    "score": "float",
    "mask_score": "float",
    "box": "float[4]",
    "mask_x": "uint32",
    "mask_y": "uint32",
    "mask": "sensor_msgs/Image",
    "has_3d": "boolean",
    "position": "geometry_msgs/Point",
    "size": "geometry_msgs/Vector3",
    "num_points": "uint32",
    "frame_3d": "string",
    "propagated": "boolean",
    "age": "uint32",
}
DETECTION_ARRAY_FIELDS = {
    "header": "std_msgs/Header",
    "image_width": "uint32",
    "image_height": "uint32",
    "query": "string",
    "detections": "sequence<grounded_sam_ros/Detection>",
}
SEGMENT_REQUEST_FIELDS = {"image": "sensor_msgs/Image", "query": "string"}
SEGMENT_RESPONSE_FIELDS = {"success": "boolean", "message": "string", "detections": "grounded_sam_ros/DetectionArray"}


def test_detection_fields_in_order():
    fields = msg.Detection.get_fields_and_field_types()
    assert list(fields.items()) == list(DETECTION_FIELDS.items())


def test_detection_array_fields_in_order():
    fields = msg.DetectionArray.get_fields_and_field_types()
    assert list(fields.items()) == list(DETECTION_ARRAY_FIELDS.items())


def test_segment_request_and_response_fields():
    assert list(srv.Segment.Request.get_fields_and_field_types().items()) == list(SEGMENT_REQUEST_FIELDS.items())
    assert list(srv.Segment.Response.get_fields_and_field_types().items()) == list(SEGMENT_RESPONSE_FIELDS.items())


def test_detection_defaults():
    det = msg.Detection()
    assert det.id == "" and det.label == ""
    assert det.score == 0.0 and det.mask_score == 0.0
    assert det.box.dtype.name == "float32" and det.box.shape == (4,) and not det.box.any()
    assert det.mask_x == 0 and det.mask_y == 0
    assert det.mask.width == 0 and det.mask.height == 0
    assert det.has_3d is False and det.num_points == 0 and det.frame_3d == ""
    assert (det.position.x, det.position.y, det.position.z) == (0.0, 0.0, 0.0)
    assert (det.size.x, det.size.y, det.size.z) == (0.0, 0.0, 0.0)


def test_segment_service_type_names():
    assert srv.Segment.Request.__name__ == "Segment_Request"
    assert srv.Segment.Response.__name__ == "Segment_Response"
    # The type name the node advertises and clients ask for
    assert f"{srv.Segment.__module__.split('.')[0]}/srv/Segment" == "grounded_sam_ros/srv/Segment"


def test_package_stays_light_and_versioned():
    """`import grounded_sam_ros` loads neither torch nor rclpy, defines __version__, and matches package.xml."""
    code = (
        "import sys, grounded_sam_ros, grounded_sam_ros.msg; "
        "print(grounded_sam_ros.__version__, 'torch' in sys.modules, 'rclpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    version, torch_loaded, rclpy_loaded = out.stdout.split()
    assert (torch_loaded, rclpy_loaded) == ("False", "False")
    package_xml = (ROOT / "package.xml").read_text()
    assert f"<version>{version}</version>" in package_xml


def test_msg_resolves_from_install_when_sources_come_first():
    """With the source tree first on sys.path, grounded_sam_ros.msg still comes from the colcon install."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    code = (
        "import grounded_sam_ros, grounded_sam_ros.msg as m, grounded_sam_ros.config as c; "
        "print(grounded_sam_ros.__file__); print(m.__file__); print(c.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, env=env, cwd=ROOT
    )
    pkg_file, msg_file, config_file = out.stdout.split()
    assert Path(pkg_file) == ROOT / "grounded_sam_ros" / "__init__.py"
    assert Path(config_file) == ROOT / "grounded_sam_ros" / "config.py"
    assert not Path(msg_file).is_relative_to(ROOT / "grounded_sam_ros")


@pytest.mark.skipif(not (ROOT / "install").is_dir(), reason="no colcon install/ in this checkout")
def test_executables_installed():
    lib = ROOT / "install" / "grounded_sam_ros" / "lib" / "grounded_sam_ros"
    for name in ("grounded_sam_node", "sample_camera"):
        path = lib / name
        assert path.is_file(), f"{path} missing: run `make setup`"
        assert os.access(path, os.X_OK)
        assert path.read_text().startswith("#!/usr/bin/env python3")


@pytest.mark.ros
def test_detection_array_survives_dds_between_processes(monkeypatch):
    """A DetectionArray with masks and 3D fields, published by another process, arrives with every field intact."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    domain = random.randint(1, 200)
    topic = f"/gsr_roundtrip_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"))
    env = dict(
        os.environ,
        ROS_DOMAIN_ID=str(domain),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    peer = None
    try:
        node = rclpy.create_node("gsr_roundtrip_listener", context=context)
        received = []
        node.create_subscription(
            msg.DetectionArray, topic, received.append, QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        )
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        peer = subprocess.Popen(
            [sys.executable, str(ROOT / "test" / "dds_roundtrip_peer.py"), topic, "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 45
        while not received and time.monotonic() < deadline and peer.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        if not received:
            peer.kill()
            output = peer.communicate(timeout=10)[0]
            pytest.fail(f"nothing received on {topic} (domain {domain}) in 45 s; peer said:\n{output}")
        executor.remove_node(node)
        node.destroy_node()
    finally:
        if peer is not None and peer.poll() is None:
            peer.kill()
            peer.wait(timeout=10)
        context.try_shutdown()

    got = received[0]
    assert (got.header.frame_id, got.header.stamp.sec, got.header.stamp.nanosec) == ("camera_optical_frame", 1234, 5678)
    assert (got.image_width, got.image_height, got.query) == (640, 480, "red cup . person")
    assert len(got.detections) == 2
    first, second = got.detections

    # First: a 300x200 crop at (17, 33); inside where (x * y) % 7 == 0, plus its last row and last column
    assert (first.id, first.label, first.score, first.mask_score) == ("7", "red cup", 0.875, 0.75)
    assert first.box.tolist() == [17.0, 33.0, 316.5, 232.25]
    assert (first.mask_x, first.mask_y) == (17, 33)
    assert (first.mask.width, first.mask.height, first.mask.step, first.mask.encoding) == (300, 200, 300, "mono8")
    expected = bytes(255 if (x * y) % 7 == 0 or y == 199 or x == 299 else 0 for y in range(200) for x in range(300))
    assert bytes(first.mask.data) == expected
    assert first.has_3d is True and first.num_points == 4321 and first.frame_3d == "depth_optical_frame"
    assert (first.position.x, first.position.y, first.position.z) == (0.5, -0.25, 2.0)
    assert (first.size.x, first.size.y, first.size.z) == (0.125, 0.25, 0.0625)

    # Second: a single pixel in the image's bottom-right corner, no 3D
    assert (second.id, second.label, second.score, second.mask_score) == ("8", "person", 0.5, 0.25)
    assert second.box.tolist() == [600.0, 400.0, 640.0, 480.0]
    assert (second.mask_x, second.mask_y, second.mask.width, second.mask.height) == (639, 479, 1, 1)
    assert bytes(second.mask.data) == b"\xff"
    assert second.has_3d is False and second.num_points == 0 and second.frame_3d == ""

    # And back to pipeline types: the full-size masks land where they started
    from grounded_sam_ros.ros.conversions import msg_to_result

    result = msg_to_result(got)
    full = result.detections[1].full_mask(480, 640)
    assert full.sum() == 1 and full[479, 639]
