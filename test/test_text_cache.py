# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Grounding DINO's text features computed once per query: exact, refreshed when the query changes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _pipeline(tiny_models, **options):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = tiny_models
    config = PipelineConfig(detector_model=str(detector), segmenter_model=str(segmenter), device="cpu",
                            dtype="float32", max_detections=3, **options)  # fmt: skip
    return build_pipeline(config)


def test_text_features_are_reused_per_query_and_outputs_equal_plain_transformers(tiny_models):
    from transformers import AutoModelForZeroShotObjectDetection

    pipe = _pipeline(tiny_models)
    cache = pipe.detector.text_cache
    plain = AutoModelForZeroShotObjectDetection.from_pretrained(tiny_models[0]).eval()
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    previous = None
    for query, misses in (("cup . person", 1), ("cup . person", 1), ("a red cup", 2), ("a red cup", 2)):
        prompt = pipe.text_prompt(query)
        inputs = pipe.detector.preprocess(image)
        ours = pipe.detector.forward(inputs, prompt)
        with torch.inference_mode():
            reference = plain(**inputs, **prompt.tensors)
        assert cache.misses == misses
        # Float rounding only: the pipeline's CPU deformable attention sums in another order than transformers'
        np.testing.assert_allclose(ours.boxes_cxcywh, reference.pred_boxes[0].numpy(), atol=1e-5)
        length = len(prompt.spans.input_ids)
        np.testing.assert_allclose(ours.token_probs, torch.sigmoid(reference.logits[0, :, :length]).numpy(), atol=1e-5)
        if previous is not None and previous[0] == query:  # the cached call gives bit-identical results
            np.testing.assert_array_equal(ours.token_probs, previous[1].token_probs)
            np.testing.assert_array_equal(ours.boxes_cxcywh, previous[1].boxes_cxcywh)
        previous = (query, ours)
    assert cache.hits == 2


def test_autocast_is_part_of_the_key():
    from grounded_sam_ros.models.text_cache import TextFeatureCache

    calls = []
    cache = TextFeatureCache(lambda ids: calls.append(1) or ids.float() * 2)
    ids = torch.tensor([[1, 2, 3]])
    cache(ids)
    cache(ids.clone())  # equal values: a hit
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cache(ids)  # another precision: computed again
    cache(torch.tensor([[1, 2, 4]]))
    assert (cache.hits, cache.misses, len(calls)) == (1, 3, 3)


def test_the_torch_backend_routes_the_text_backbone_through_the_cache(tiny_models):
    from grounded_sam_ros.models.text_cache import TextFeatureCache, cache_text_features

    pipe = _pipeline(tiny_models)
    assert isinstance(pipe.detector.model.model.text_backbone.forward, TextFeatureCache)
    assert cache_text_features(pipe.detector.model) is pipe.detector.text_cache  # idempotent


def test_the_detector_keys_the_cache_on_the_host_without_reading_tensors_back(tiny_models, monkeypatch):
    """On a GPU, comparing the token tensors would synchronise the host every frame: the detector names its query
    on the host instead (token ids + padded length), and the cache then compares no tensor at all."""
    pipe = _pipeline(tiny_models)
    cache = pipe.detector.text_cache
    image = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    inputs = pipe.detector.preprocess(image)
    first = pipe.detector.forward(inputs, pipe.text_prompt("cup . person"))

    def no_tensor_reads(*args, **kwargs):
        raise AssertionError("the cache compared tensors")

    monkeypatch.setattr(torch, "equal", no_tensor_reads)
    again = pipe.detector.forward(inputs, pipe.text_prompt("cup . person"))
    other = pipe.detector.forward(inputs, pipe.text_prompt("a red cup"))
    back = pipe.detector.forward(inputs, pipe.text_prompt("cup . person"))
    assert (cache.hits, cache.misses) == (1, 3)
    np.testing.assert_array_equal(again.token_probs, first.token_probs)
    np.testing.assert_array_equal(back.boxes_cxcywh, first.boxes_cxcywh)
    assert not np.array_equal(other.token_probs, first.token_probs)  # another query: really computed


def test_a_host_key_and_the_autocast_state_key_the_cache_together():
    from grounded_sam_ros.models.text_cache import TextFeatureCache

    calls = []
    cache = TextFeatureCache(lambda ids: calls.append(1) or ids.float() * 2)
    ids = torch.tensor([[1, 2, 3]])
    with cache.keyed((1, 2, 3)):
        cache(ids)
        cache(ids)  # same host key: a hit
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cache(ids)  # another precision: computed again
    with cache.keyed((1, 2, 4)):
        out = cache(torch.tensor([[1, 2, 4]]))
    cache(torch.tensor([[1, 2, 4]]))  # outside keyed(): compared by value, and a host-keyed entry is not reused
    assert (cache.hits, cache.misses, len(calls)) == (1, 4, 4)
    assert torch.equal(out, torch.tensor([[2.0, 4.0, 8.0]]))
