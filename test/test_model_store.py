# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's model store: a model loads once per key, every camera's capability gets the same instance, and the
node releases it at cleanup."""

from __future__ import annotations

import gc
import weakref

import pytest

from grounded_sam_ros.ros.model_store import ModelStore, models_of, release_models


class _Model:
    pass


def test_get_loads_once_per_key_and_release_forgets():
    store, loads = ModelStore(), []

    def load():
        loads.append(1)
        return _Model()

    a = store.get(("video", "m", "float32", "cpu"), load)
    assert store.get(("video", "m", "float32", "cpu"), load) is a and len(loads) == 1
    b = store.get(("video", "m", "bfloat16", "cpu"), load)  # another dtype: another model
    assert b is not a and len(loads) == 2 and store.peek(("video", "m", "float32", "cpu")) is a
    alive = weakref.ref(a)
    store.release()
    del a
    gc.collect()
    assert alive() is None and store.loaded() == []


def test_a_failed_load_is_not_stored_and_is_retried():
    store = ModelStore()

    def fail():
        raise OSError("no such checkpoint")

    with pytest.raises(OSError):
        store.get("k", fail)
    assert store.peek("k") is None and store.get("k", _Model) is not None


def test_stores_are_per_node_and_released_with_it():
    class Node:
        pass

    one, two = Node(), Node()
    assert models_of(one) is models_of(one) and models_of(one) is not models_of(two)
    model = models_of(one).get("k", _Model)
    release_models(one)
    assert models_of(one).peek("k") is None and models_of(one).get("k", _Model) is not model


@pytest.mark.ros
def test_two_cameras_share_one_video_model_released_at_cleanup(tiny_models, tmp_path_factory):
    pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")
    import rclpy
    from node_helpers import random_domain
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2
    from grounded_sam_ros.ros.capabilities.tracking import Tracking
    from grounded_sam_ros.ros.node import GroundedSamNode

    detector, segmenter = tiny_models
    video = tiny_sam2(tmp_path_factory.mktemp("store-sam2"))
    context = Context()
    rclpy.init(context=context, domain_id=random_domain())
    overrides = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu",
                 "cameras": ["cam1", "cam2"], "tracking": "sam2", "tracking_video_model": str(video),
                 "autostart": False}  # fmt: skip
    node = GroundedSamNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        trackers = [c._tracker for inp in node._inputs for c in inp.capabilities if isinstance(c, Tracking)]
        assert len(trackers) == 2 and trackers[0] is not trackers[1]  # each camera its own memory...
        models = [t._tracks._video.model for t in trackers]
        assert models[0] is models[1]  # ... on one video model
        assert trackers[0]._tracks._video is not trackers[1]._tracks._video
        assert [k[0] for k in models_of(node).loaded()] == ["video"]
        alive = weakref.ref(models[0])
        del trackers, models
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        gc.collect()
        assert models_of(node).loaded() == [] and alive() is None, "cleanup must free the shared model"
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
