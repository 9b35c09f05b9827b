# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's ``edit`` service over real DDS, on the tiny random detector, segmenter and inpainting models.

One node (model loaded at configure: ``edit.enable``), fed frames by a background publisher the whole time; every
wait is for an event (a reply, a message, a diagnostics value), never a fixed sleep.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

THRESHOLDS = {"box_threshold": 0.3, "text_threshold": 0.2}
EDIT = {"edit.enable": True, "edit.steps": 2, "edit.dilate": 4, "edit.feather": 3}


def _image_msg(image: np.ndarray, stamp, frame_id: str = "camera"):
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    msg = rgb_to_image_msg(image, encoding="rgb8")
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    return msg


@pytest.fixture(scope="module")
def sample():
    from grounded_sam_ros.data import load_image, sample_image

    return np.ascontiguousarray(load_image(sample_image("chelsea"))[::2, ::2])


class Feeder:
    """Publishes the sample as a stream of uniquely stamped frames until stopped; remembers the stamps."""

    def __init__(self, client, image: np.ndarray) -> None:
        self._client, self._image = client, image
        self.stamps: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sec = 2_000_000_000
        while not self._stop.is_set():
            sec += 1
            self._client.publish_image(_image_msg(self._image, (sec, 0), "stream"))
            self.stamps.append((sec, 0))
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


@pytest.fixture(scope="module")
def edit_node(tiny_models, tiny_inpainter, tmp_path_factory, sample):
    from node_helpers import Client, NodeProcess, random_domain

    try:
        import grounded_sam_ros.srv  # noqa: F401
        from grounded_sam_ros.srv import Edit  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"{exc}: run `make setup` and source install/setup.bash")
    detector, segmenter = tiny_models
    parameters = {
        "detector_model": str(detector),
        "segmenter_model": str(segmenter),
        "device": "cpu",
        "image_reliability": "reliable",
        "query": "cat",
        "edit.model": str(tiny_inpainter),
        **THRESHOLDS,
        **EDIT,
    }
    domain = random_domain()
    client = Client(domain)
    node = NodeProcess(parameters, domain, tmp_path_factory.mktemp("edit-node") / "node.log")
    feeder = None
    try:
        try:
            client.wait_diagnostics(lambda d: d.get("state") == "active", 90.0)
        except AssertionError:
            raise AssertionError(f"node never became active; log:\n{node.log()[-3000:]}") from None
        client.wait_connected()
        feeder = Feeder(client, sample)
        yield node, client, parameters, feeder
    finally:
        if feeder is not None:
            feeder.stop()
        client.close()
        # With diffusers loaded, the interpreter's final garbage collection alone takes ~6 s on a loaded 2-core machine
        code, took = node.stop(timeout=30.0)
        log = node.log_path.read_text(errors="replace")
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{log[-3000:]}"


def _edit(client, image=None, query="", prompt="", mode="", seed=0, timeout=120.0):
    from grounded_sam_ros.srv import Edit

    request = Edit.Request(query=query, prompt=prompt, negative_prompt="", mode=mode, seed=seed)
    if image is not None:
        request.image = image
    return client.call(Edit, "edit", request, timeout)


def _frames_keep_flowing(client, feeder, count: int = 2, timeout: float = 60.0) -> None:
    """Detections arrive for ``count`` stream frames published from now on (the node may drop some in between)."""
    after = feeder.stamps[-1][0] if feeder.stamps else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with client._lock:
            fresh = {msg.header.stamp.sec for _, msg in client.detections if msg.header.stamp.sec > after}
        if len(fresh) >= count:
            return
        client.wait_diagnostics(lambda d: True)
    raise AssertionError(f"fewer than {count} new frames processed in {timeout} s: {client.latest_diagnostics()}")


def test_edit_repaints_what_the_pipeline_finds_while_frames_flow(edit_node, sample, tiny_inpainter):
    from grounded_sam_ros.editing import EditConfig
    from grounded_sam_ros.editing.editor import load_editor
    from grounded_sam_ros.pipeline import build_pipeline
    from grounded_sam_ros.ros import params
    from grounded_sam_ros.ros.conversions import image_msg_to_rgb

    node, client, parameters, feeder = edit_node
    assert client.wait_diagnostics(lambda d: "edit_model_loaded" in d)["edit_model_loaded"] == "true"
    _frames_keep_flowing(client, feeder)
    response = _edit(client, _image_msg(sample, (7, 8), "request"), query="cat", prompt="a dog", seed=3)
    assert response.success, response.message
    _frames_keep_flowing(client, feeder)

    # The same edit in this process: detection, then the library editor with the node's edit settings
    found = build_pipeline(params.config_from_params(parameters))(sample, "cat")
    editor = load_editor(EditConfig(model=str(tiny_inpainter), device="cpu", steps=2, dilate=4, feather=3))
    expected = editor.edit_detections(sample, found, "a dog", seed=3)
    edited = image_msg_to_rgb(response.edited)
    assert (response.edited.header.stamp.sec, response.edited.header.frame_id) == (7, "request")
    assert edited.shape == sample.shape
    untouched = expected.weight == 0
    assert np.array_equal(edited[untouched], sample[untouched])
    assert np.abs(edited.astype(int) - expected.image.astype(int)).max() <= 2
    assert [d.id for d in response.detections.detections] == [d.id for d in found.detections]
    assert response.detections.query == "cat"


def test_edit_of_the_latest_frame_with_the_node_query_and_remove_mode(edit_node, sample):
    node, client, _, feeder = edit_node
    response = _edit(client, mode="remove", seed=1)
    assert response.success, response.message
    assert "remove" in response.message
    assert (response.edited.width, response.edited.height) == (sample.shape[1], sample.shape[0])
    assert response.edited.header.frame_id == "stream"


def test_nothing_found_and_bad_requests_say_why(edit_node, sample):
    from sensor_msgs.msg import Image

    node, client, _, feeder = edit_node
    # Nothing found: no box passes a threshold of 1
    assert all(r.successful for r in client.set_parameters(box_threshold=1.0))
    try:
        response = _edit(client, _image_msg(sample, (9, 0)), query="cat", prompt="a dog")
        assert not response.success and "nothing to edit" in response.message
        assert len(response.detections.detections) == 0
    finally:
        assert all(r.successful for r in client.set_parameters(box_threshold=THRESHOLDS["box_threshold"]))
    # A bad image
    short = _image_msg(sample, (10, 0))
    short.data = bytes(short.data[:-5])
    response = _edit(client, short, query="cat", prompt="a dog")
    assert not response.success and "invalid request" in response.message and "bytes" in response.message
    response = _edit(client, Image(height=2, width=2, encoding="32FC1", step=8, data=bytes(16)), prompt="x")
    assert not response.success and "encoding" in response.message
    # Bad modes and prompts
    response = _edit(client, query="cat", prompt="", mode="replace")
    assert not response.success and "needs a prompt" in response.message
    response = _edit(client, query="cat", prompt="x", mode="recolour")
    assert not response.success and "recolour" in response.message
    assert node.alive()
    _frames_keep_flowing(client, feeder)


def test_unknown_model_is_answered_with_the_reason(edit_node, sample):
    node, client, _, feeder = edit_node
    assert client.change_state("deactivate") and client.change_state("cleanup")
    try:
        assert all(r.successful for r in client.set_parameters(**{"edit.model": "/no/such/inpainter"}))
        assert client.change_state("configure") and client.change_state("activate")
        response = _edit(client, _image_msg(sample, (11, 0)), query="cat", prompt="a dog")
        assert not response.success
        assert "could not load the inpainting model" in response.message and "/no/such/inpainter" in response.message
        _frames_keep_flowing(client, feeder)
    finally:
        assert client.change_state("deactivate") and client.change_state("cleanup")
        assert all(r.successful for r in client.set_parameters(**{"edit.model": edit_node[2]["edit.model"]}))
        assert client.change_state("configure") and client.change_state("activate")
