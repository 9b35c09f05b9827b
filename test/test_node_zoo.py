# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node with the model zoo, over real DDS: switching the segmenter through a lifecycle reconfigure (family read
from the checkpoint), then to a one-stage model (SAM 3), and refusals with the reason (unknown family at set time,
a detector given as segmenter at configure) that leave the node alive and serving. Every wait is on an event (a
reply, a message, a log line)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_node import _image_msg, _ros_available, _start, _wait_active


def _wait_log(node, text: str, timeout: float = 20.0) -> str:
    """Until the node's log holds ``text`` (the node writes its log line before answering the transition)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = node.log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the node log:\n{node.log()[-3000:]}")


@pytest.mark.ros
def test_switch_segmenter_and_refusals(tiny_models, tmp_path_factory):
    if _ros_available():
        pytest.skip(_ros_available())
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.models.tiny_zoo import build_tiny_owlv2, build_tiny_sam3, build_tiny_sam_hq
    from grounded_sam_ros.pipeline import build_pipeline
    from grounded_sam_ros.ros import params
    from grounded_sam_ros.ros.conversions import msg_to_mask

    root = tmp_path_factory.mktemp("zoo-node")
    sam_hq, owlv2 = build_tiny_sam_hq(root / "sam-hq"), build_tiny_owlv2(root / "owlv2")
    sam3 = build_tiny_sam3(root / "sam3")
    image = np.ascontiguousarray(load_image(sample_image("chelsea"))[50:249, 40:341])
    node, client, parameters = _start(tiny_models, tmp_path_factory, "zoo-node", query="cat")
    try:
        _wait_active(node, client)
        client.wait_connected()

        # Switch SAM -> SAM-HQ: cleanup, set the model only (family read from its config.json), configure
        assert client.change_state("deactivate") and client.change_state("cleanup")
        client.wait_diagnostics(lambda d: d["state"] == "unconfigured")
        (ok,) = client.set_parameters(segmenter_model=str(sam_hq))
        assert ok.successful, ok.reason
        assert client.change_state("configure") and client.change_state("activate")
        client.wait_diagnostics(lambda d: d["state"] == "active")
        client.wait_connected()
        stamp = (1_800_000_000, 1)
        client.publish_image(_image_msg(image, stamp))
        _, msg = client.wait_detections(stamp)
        expected = build_pipeline(params.config_from_params({**parameters, "segmenter_model": str(sam_hq)}))(
            image, "cat"
        )
        assert len(expected.detections) > 0 and len(msg.detections) == len(expected.detections)
        for got, want in zip(msg.detections, expected.detections):
            np.testing.assert_array_equal(
                msg_to_mask(got.mask_x, got.mask_y, got.mask, 199, 301), want.full_mask(199, 301)
            )

        assert client.change_state("deactivate") and client.change_state("cleanup")
        client.wait_diagnostics(lambda d: d["state"] == "unconfigured")
        # An unknown family is refused when set, with the registered ones in the reason
        (bad,) = client.set_parameters(segmenter_family="sam9")
        assert not bad.successful and "unknown model family 'sam9'" in bad.reason and "sam_hq" in bad.reason
        # A detector checkpoint as segmenter: accepted as a path, refused at configure with the reason
        (ok,) = client.set_parameters(segmenter_model=str(owlv2))
        assert ok.successful, ok.reason
        assert not client.change_state("configure")
        _wait_log(node, "is a detector (owlv2, read from")
        assert node.alive()
        client.wait_diagnostics(lambda d: d["state"] == "unconfigured")

        # Back to a valid segmenter: the same node configures and serves again
        (ok,) = client.set_parameters(segmenter_model=parameters["segmenter_model"])
        assert ok.successful, ok.reason
        assert client.change_state("configure") and client.change_state("activate")
        client.wait_diagnostics(lambda d: d["state"] == "active")
        client.wait_connected()
        stamp = (1_800_000_000, 2)
        client.publish_image(_image_msg(image, stamp))
        assert client.wait_detections(stamp)[1].query == "cat"

        # A one-stage model (SAM 3) replaces both stages: same messages out, its masks
        assert client.change_state("deactivate") and client.change_state("cleanup")
        client.wait_diagnostics(lambda d: d["state"] == "unconfigured")
        results = client.set_parameters(one_stage_model=str(sam3), box_threshold=0.55)
        assert all(r.successful for r in results), results
        assert client.change_state("configure") and client.change_state("activate")
        client.wait_diagnostics(lambda d: d["state"] == "active")
        client.wait_connected()
        stamp = (1_800_000_000, 3)
        client.publish_image(_image_msg(image, stamp))
        _, msg = client.wait_detections(stamp)
        config = {**parameters, "one_stage_model": str(sam3), "box_threshold": 0.55}
        expected = build_pipeline(params.config_from_params(config))(image, "cat")
        assert len(expected.detections) > 0 and len(msg.detections) == len(expected.detections)
        for got, want in zip(msg.detections, expected.detections):
            assert got.label == want.label
            np.testing.assert_array_equal(
                msg_to_mask(got.mask_x, got.mask_y, got.mask, 199, 301), want.full_mask(199, 301)
            )
    finally:
        client.close()
        code, took = node.stop()
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"
