# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node in ``query_source: auto`` over real DDS: the tagger's query is published on ``auto_query`` (latched) and
the detections are labelled with its tags; a query on the topic is stored, not used, while in auto mode."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from test_node import THRESHOLDS, _image_msg, _ros_available, _wait_active

from grounded_sam_ros.data import load_image, sample_image


class Listener:
    """std_msgs/String messages of one topic (reliable, transient local), on a node of its own, spun in a thread."""

    def __init__(self, domain: int, topic: str) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("auto_query_listener", context=self.context)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=10,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.messages: list = []
        self._lock = threading.Lock()
        self.node.create_subscription(String, topic, self._on_message, qos)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _on_message(self, msg) -> None:
        with self._lock:
            self.messages.append(msg.data)

    def _spin(self) -> None:
        while self._running and self.context.ok():
            self._executor.spin_once(timeout_sec=0.1)

    def wait(self, count: int = 1, timeout: float = 60.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} message(s) within {timeout} s: {self.messages}")

    def close(self) -> None:
        import rclpy

        self._running = False
        self._thread.join(5.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def test_auto_mode_parameters_are_checked():
    if _ros_available():
        pytest.skip(_ros_available())
    from grounded_sam_ros.ros import params

    current = params.defaults()
    # auto with RAM needs the tag list; with BLIP nothing more
    with pytest.raises(ValueError, match=r"ram_tag_list\.txt"):
        params.check_changes(current, {"query_source": "auto"}, configured=False)
    assert params.check_changes(current, {"query_source": "auto", "tagger": "blip"}, configured=False)
    ok = params.check_changes(current, {"query_source": "auto", "tag_list": "/x/tags.txt"}, configured=False)
    assert ok["query_source"] == "auto"
    # query_source and the period are live; the tagger loads at configure
    assert params.check_changes({**current, "tagger": "blip"}, {"query_source": "auto"}, configured=True)
    with pytest.raises(ValueError, match="applies when the models load"):
        params.check_changes(current, {"tagger": "blip"}, configured=True)
    with pytest.raises(ValueError):
        params.check_changes(current, {"query_source": "both"}, configured=False)


@pytest.mark.ros
def test_auto_query_is_published_and_labels_the_detections(tiny_models, tmp_path_factory):
    if _ros_available():
        pytest.skip(_ros_available())
    import torch
    from node_helpers import Client, NodeProcess, random_domain

    from grounded_sam_ros.auto_query import build_query
    from grounded_sam_ros.models import LoadOptions, build_detector, build_tagger
    from grounded_sam_ros.models.tiny_taggers import build_tiny_blip

    blip = build_tiny_blip(tmp_path_factory.mktemp("blip") / "tiny-blip")
    detector, segmenter = tiny_models
    image = np.ascontiguousarray(load_image(sample_image("coffee"))[:200, :300])

    # What the node should find: the tiny BLIP's caption nouns, capped at the tiny detector's token window
    options = LoadOptions(dtype=torch.float32, local_files_only=True)
    tags = build_tagger("blip", str(blip), options)(image).tags
    gdino = build_detector("grounding_dino", str(detector), options)
    expected = build_query(tags, "table", gdino.max_text_tokens, gdino.count_tokens)
    assert expected, f"the tiny BLIP should caption some noun here (tags {tags})"

    parameters = {
        "detector_model": str(detector),
        "segmenter_model": str(segmenter),
        "device": "cpu",
        "dtype": "float32",
        "image_reliability": "reliable",
        "query_source": "auto",
        "auto_query_period": 3600.0,  # the tagger runs on the first frame only
        "tagger": "blip",
        "tagger_model": str(blip),
        "auto_query_exclude": "table",
        **THRESHOLDS,
    }
    domain = random_domain()
    client, listener = Client(domain), Listener(domain, "auto_query")
    node = NodeProcess(parameters, domain, tmp_path_factory.mktemp("auto") / "node.log")
    try:
        _wait_active(node, client)
        client.wait_connected()
        stamp = (1_800_000_000, 1)
        client.publish_image(_image_msg(image, stamp))
        _, msg = client.wait_detections(stamp, timeout=60.0)
        assert listener.wait(1) == [expected]
        assert msg.query == expected
        phrases = expected.split(" . ")
        assert msg.detections and all(d.label in phrases for d in msg.detections)
        assert client.wait_diagnostics(lambda d: d.get("auto_query") == expected)["auto_query_runs"] == "1"

        # A query on the topic is stored, not used, while query_source is auto
        client.publish_query("rocket")
        client.wait_diagnostics(lambda d: d.get("query") == "rocket")
        stamp = (1_800_000_001, 2)
        client.publish_image(_image_msg(image, stamp))
        assert client.wait_detections(stamp, timeout=60.0)[1].query == expected

        # Back to the topic (live): the stored query applies from the next frame
        (result,) = client.set_parameters(query_source="topic")
        assert result.successful, result.reason
        stamp = (1_800_000_002, 3)
        client.publish_image(_image_msg(image, stamp))
        assert client.wait_detections(stamp, timeout=60.0)[1].query == "rocket"
    finally:
        listener.close()
        client.close()
        code, took = node.stop()
    assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"
