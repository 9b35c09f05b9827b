# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Many cameras, one model: the fair frame slots, the ``cameras`` parameter and launch argument, then one node
serving three camera namespaces over real DDS."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
from test_params import launch_module  # noqa: F401 - the launch file on stand-ins for launch / launch_ros

from grounded_sam_ros.ros import params
from grounded_sam_ros.ros.frame_slots import FrameSlots

# ----------------------------------------------------------------------------------------------------------------------
# Pure pieces
# ----------------------------------------------------------------------------------------------------------------------


def test_slots_serve_cameras_in_turn_and_keep_the_newest_of_each():
    slots = FrameSlots(3)
    for i in range(50):  # camera 0 floods
        slots.put(0, ("a", i))
    slots.put(2, ("c", 0))
    slots.put(1, ("b", 0))
    assert slots.take(timeout=0) == (0, ("a", 49))  # the newest of camera 0 ...
    assert slots.take(timeout=0) == (1, ("b", 0))  # ... then the others in turn, whatever camera 0 does
    slots.put(0, ("a", 50))
    assert slots.take(timeout=0) == (2, ("c", 0))
    assert slots.take(timeout=0) == (0, ("a", 50))
    assert slots.take(timeout=0) is None
    assert (slots.received, slots.dropped) == ([51, 1, 1], [49, 0, 0])
    assert slots.latest(1) == ("b", 0)


def test_a_flooding_camera_never_delays_another_by_more_than_one_frame_each():
    slots = FrameSlots(3)
    served = []
    for step in range(30):
        slots.put(0, step)  # a frame from camera 0 before every take
        if step % 3 == 0:
            slots.put(1, step)
        if step % 5 == 0:
            slots.put(2, step)
        served.append(slots.take(timeout=0)[0])
    # Every frame of cameras 1 and 2 is served within 3 takes (one per camera) of being put
    for camera, every in ((1, 3), (2, 5)):
        for put_at in range(0, 30, every):
            assert camera in served[put_at : put_at + 3], (camera, put_at, served)


def test_take_all_and_wake():
    slots = FrameSlots(2)
    slots.put(1, "b")
    slots.put(0, "a")
    assert slots.take_all() == [(0, "a"), (1, "b")]
    threading.Timer(0.1, slots.wake).start()
    started = time.monotonic()
    assert slots.take(timeout=5.0) is None
    assert time.monotonic() - started < 2.0


def test_cameras_parameter_is_a_list_of_namespaces():
    assert params.defaults()["cameras"] == [""]
    assert params.validate_value("cameras", ["cam1", " robot/front/ "]) == ["cam1", "robot/front"]
    assert params.validate_value("cameras", []) == [""]
    assert params.validate_value("cameras", b"") == [""]  # an empty list as rclpy types it
    for value, needle in ((["cam 1"], "namespace"), (["1cam"], "namespace"), (["a", "a"], "once"),
                          ("cam1", "list of strings"), ([f"c{i}" for i in range(17)], "at most")):  # fmt: skip
        with pytest.raises(ValueError, match=needle):
            params.check_changes(params.defaults(), {"cameras": value}, configured=False)
    with pytest.raises(ValueError, match="cleanup"):
        params.check_changes(params.defaults(), {"cameras": ["cam1"]}, configured=True)
    from rcl_interfaces.msg import ParameterType

    assert params.descriptor(params.SPECS["cameras"]).type == ParameterType.PARAMETER_STRING_ARRAY


def test_launch_takes_the_camera_list(launch_module):  # noqa: F811 - the imported fixture
    assert launch_module._camera_list("[cam1, cam2]") == ["cam1", "cam2"]
    assert launch_module._camera_list("front, back") == ["front", "back"]
    with pytest.raises(ValueError, match="list of namespaces"):
        launch_module._camera_list("[1, 2]")
    entities = launch_module.generate_launch_description()
    declared = {e.args[0]: e.kwargs.get("default_value") for e in entities if "default_value" in e.kwargs}
    assert declared["cameras"] == ""


# ----------------------------------------------------------------------------------------------------------------------
# Integration: one node, three cameras, over real DDS
# ----------------------------------------------------------------------------------------------------------------------

CAMERAS = ["cam_a", "cam_b", "cam_c"]
RUNS = itertools.count()


@pytest.fixture(scope="module")
def multicam(tiny_models, tmp_path_factory):
    pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")
    from node_helpers import Client, NodeProcess, random_domain

    detector, segmenter = tiny_models
    parameters = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu",
                  "image_reliability": "reliable", "box_threshold": 0.3, "text_threshold": 0.2, "query": "cat",
                  "cameras": CAMERAS}  # fmt: skip
    domain = random_domain()
    client = Client(domain, cameras=CAMERAS)
    node = NodeProcess(parameters, domain, tmp_path_factory.mktemp("multicam") / "node.log")
    try:
        try:
            client.wait_diagnostics(lambda d: d.get("state") == "active", 90.0)
        except AssertionError:
            raise AssertionError(f"node never became active; its log:\n{node.log()[-3000:]}") from None
        client.wait_cameras_connected()
        yield node, client
    finally:
        client.close()
        code, took = node.stop()
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"


def _frame(image: np.ndarray, stamp, frame_id: str):
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    msg = rgb_to_image_msg(image, encoding="rgb8")
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    return msg


@pytest.fixture(scope="module")
def images():
    """A different image per camera (so a mix-up shows in the image size too)."""
    from grounded_sam_ros.data import load_image, sample_image

    full = load_image(sample_image("chelsea"))
    return {ns: np.ascontiguousarray(full[: 150 + 20 * i, : 200 + 30 * i]) for i, ns in enumerate(CAMERAS)}


@pytest.mark.ros
def test_each_camera_gets_its_own_detections_with_its_own_header(multicam, images):
    node, client = multicam
    run = next(RUNS)
    for i, ns in enumerate(CAMERAS):
        stamp = (1_100_000_000 + i, run)
        client.camera_pubs[ns].publish(_frame(images[ns], stamp, f"{ns}_optical"))
        _, msg = client.wait_camera_detections(ns, stamp)
        height, width = images[ns].shape[:2]
        assert (msg.header.frame_id, msg.image_width, msg.image_height, msg.query) == (f"{ns}_optical", width,
                                                                                       height, "cat")  # fmt: skip
    # Nothing crossed over: each camera's topic carries only its own frames
    for ns in CAMERAS:
        assert {m.header.frame_id for _, m in client.by_camera[ns]} == {f"{ns}_optical"}
    assert not client.detections  # and the single-camera topic 'detections' does not exist
    # One copy of the models, per-camera counters in the diagnostics
    assert node.log().count("loading models") == 1
    diag = client.wait_diagnostics(lambda d: all(int(d.get(f"{ns}/frames_processed", 0)) >= 1 for ns in CAMERAS))
    assert diag["cameras"] == ", ".join(CAMERAS)
    for ns in CAMERAS:
        assert float(diag[f"{ns}/latency_ms"]) >= float(diag[f"{ns}/inference_ms"]) >= 0.0
        assert int(diag[f"{ns}/detections_subscribers"]) >= 1


@pytest.mark.ros
def test_a_flooding_camera_does_not_starve_the_others(multicam, images):
    """cam_a floods at 50 Hz while cam_b and cam_c each send a frame as soon as the previous one came back."""
    node, client = multicam
    flood_msg = _frame(images["cam_a"], (0, 0), "cam_a_optical")
    flooded = [0]
    run = next(RUNS)  # stamps of their own when the test runs again on the same node (pytest --count)

    def flood_until(ns: str, stamp, timeout: float = 60.0) -> float:
        """Publish cam_a frames at 50 Hz until ``ns``'s result for ``stamp`` arrives; returns its arrival time."""
        deadline = time.monotonic() + timeout
        while True:
            found = client.find_camera_detections(ns, stamp)
            if found is not None:
                return found[0]
            assert time.monotonic() < deadline, f"{ns} starved: no result for {stamp} in {timeout} s"
            flood_msg.header.stamp.sec, flood_msg.header.stamp.nanosec = 1_200_000_000, flooded[0]
            client.camera_pubs["cam_a"].publish(flood_msg)
            flooded[0] += 1
            time.sleep(0.02)

    waits = []  # (camera, sent at, result arrived at)
    for k in range(4):
        for ns in ("cam_b", "cam_c"):
            stamp = (1_200_000_100 + 10 * run + k, CAMERAS.index(ns))
            sent = time.monotonic()
            client.camera_pubs[ns].publish(_frame(images[ns], stamp, f"{ns}_optical"))
            waits.append((ns, sent, flood_until(ns, stamp)))
    with client._lock:
        flood_results = [arrived for arrived, camera, _ in client.arrivals if camera == "cam_a"]
    # While a frame of cam_b or cam_c waited, the flooding camera got at most the inference already running plus
    # one turn (its frame may reach the node an instant before the other's): round-robin, not newest-first
    for ns, sent, arrived in waits:
        overtaken = sum(1 for t in flood_results if sent < t < arrived)
        assert overtaken <= 2, (ns, overtaken, waits)
    served = sum(1 for t in flood_results if t > waits[0][1])
    assert served >= 3, (served, flooded)  # the flooding camera is served too
    diag = client.wait_diagnostics(lambda d: int(d["cam_a/frames_dropped"]) > 0)
    assert int(diag["cam_b/frames_dropped"]) == 0 and int(diag["cam_c/frames_dropped"]) == 0
