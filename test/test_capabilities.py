# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node as a composition: a test-only capability plugs in with one registration line.

The node runs in this process (its own rclpy context, a multi-threaded executor in a thread) made of the registry
plus ``Recorder``; an rclpy client in another context talks to it over real DDS. The recorder declares a parameter
(validated by the node's one callback), replaces the query while the node has none (``before_inference``), wraps the
inference (``infer``), receives every frame's result (``on_result``) and reports in the diagnostics.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Dict, List

import numpy as np
import pytest

pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")

from grounded_sam_ros.ros.capabilities import CAPABILITIES, Capability
from grounded_sam_ros.ros.param_table import ParamSpec
from grounded_sam_ros.ros.query import clean_query


class Recorder(Capability):
    """Test-only output: records what every hook sees."""

    PARAMS = (ParamSpec("recorder_query", "", "Query used while the node has none (test only).", clean=clean_query),)
    seen: ClassVar[List[Dict[str, Any]]] = []  # every instance appends here (one per camera and configuration)
    lock = threading.Lock()

    def before_inference(self, frame, query: str) -> str:
        return query or self.node.settings.recorder_query

    def infer(self, frame, image, query, call_next):
        result = call_next(image, query)
        with self.lock:
            self.seen.append({"hook": "infer", "stamp": _stamp(frame.header)})
        return result

    def on_result(self, frame, result) -> None:
        with self.lock:
            self.seen.append(
                {"hook": "on_result", "stamp": _stamp(frame.header), "publish": frame.publish, "result": result,
                 "camera": frame.camera.namespace, "thread": threading.current_thread().name}
            )  # fmt: skip

    def diagnostics(self) -> Dict[str, str]:
        with self.lock:
            return {"recorded_frames": str(sum(1 for s in self.seen if s["hook"] == "on_result"))}


def _stamp(header):
    return (header.stamp.sec, header.stamp.nanosec)


@pytest.fixture(scope="module")
def composed_node(tiny_models):
    import rclpy
    from node_helpers import Client, random_domain
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter

    from grounded_sam_ros.ros.node import GroundedSamNode

    detector, segmenter = tiny_models
    domain = random_domain()
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    overrides = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu",
                 "image_reliability": "reliable", "box_threshold": 0.3, "text_threshold": 0.2}  # fmt: skip
    node = GroundedSamNode(
        capabilities=(*CAPABILITIES, Recorder),  # the one registration line
        context=context,
        parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
    )
    node.autostart()
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    client = Client(domain)
    try:
        client.wait_diagnostics(lambda d: d.get("state") == "active", 60.0)
        client.wait_connected()
        yield node, client
    finally:
        client.close()
        node.stop_worker(timeout=10.0)
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(5.0)


@pytest.mark.ros
def test_a_registered_capability_gets_its_parameter_hooks_and_every_result(composed_node):
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    node, client = composed_node
    image = np.ascontiguousarray(load_image(sample_image("chelsea"))[50:249, 40:341])

    # Its parameter is declared and validated with the node's own
    (bad,) = client.set_parameters(recorder_query="...")
    assert not bad.successful and "recorder_query rejected" in bad.reason and "phrase" in bad.reason
    (ok,) = client.set_parameters(recorder_query="Rocket, CAT")
    assert ok.successful, ok.reason
    assert node.settings.recorder_query == "rocket . cat"

    # No node query: before_inference supplies one; every frame reaches infer and on_result, on the worker
    stamps = [(1_090_000_000, i) for i in range(3)]
    received = []
    for stamp in stamps:
        msg = rgb_to_image_msg(image, encoding="rgb8")
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        client.publish_image(msg)
        received.append(client.wait_detections(stamp)[1])
    assert all(m.query == "rocket . cat" for m in received)
    response = client.segment(rgb_to_image_msg(image, encoding="rgb8"), query="dog")
    assert response.success, response.message

    with Recorder.lock:
        results = [s for s in Recorder.seen if s["hook"] == "on_result"]
        inferred = [s["stamp"] for s in Recorder.seen if s["hook"] == "infer"]
    assert [r["stamp"] for r in results[:3]] == stamps == inferred[:3]
    assert [r["publish"] for r in results] == [True, True, True, False]  # the service's result is not published
    assert results[3]["result"].query == "dog" and len(inferred) == 4
    assert {r["camera"] for r in results} == {""} and {r["thread"] for r in results} == {"grounded_sam_worker"}
    # The result it got is the one the detections output published
    for record, msg in zip(results, received):
        got = record["result"]
        assert [d.label for d in got.detections] == [d.label for d in msg.detections]
        np.testing.assert_allclose([d.score for d in got.detections], [d.score for d in msg.detections], atol=1e-6)
        boxes = np.array([d.box for d in msg.detections]).reshape(-1, 4)
        np.testing.assert_allclose(np.array([d.box for d in got.detections]).reshape(-1, 4), boxes, atol=1e-4)
    # Its diagnostics are merged into the node's
    client.wait_diagnostics(lambda d: d.get("recorded_frames") == "4")
